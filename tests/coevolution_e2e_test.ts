/**
 * Goal (adversarial co-evolution, end to end): the example agent `median` has a planted bug that only
 * even-length lists trigger and that its evals do not catch. A `coevolve` job's red team finds it (and
 * shrinks it), the blue team's fix goes through the protected path (candidate → shadow → arbiter) and is
 * promoted, the failing input stays in the regression set (a candidate that brings the bug back is
 * rejected), and the loop reports convergence.
 * Method: the real server with only `median` loaded, real jails, the HTTP API.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { post, ROOT, startServer } from "./_server.ts";

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

Deno.test("coevolve: the red team finds median's planted bug, the blue fix is promoted, the loop converges", async () => {
  const agents = await Deno.makeTempDir({ prefix: "o-agents-" });
  const source = Deno.readTextFileSync(join(ROOT, "examples", "agents", "median.ts"));
  Deno.writeTextFileSync(join(agents, "median.ts"), source);
  const server = await startServer({ agents, args: ["--shadow-window-ms", "1000", "--log-level", "warn"] });
  const base = `${server.url}/v1/agents/median`;
  try {
    // The bug is live and the evals do not see it.
    strictEqual((await post(`${base}/invoke`, { input: { xs: [1, 2, 3, 4] } })).body.output, 3);
    const created = await post(`${server.url}/v1/jobs`, {
      kind: "coevolve",
      agent: "median",
      seed: "7",
      generations: 3,
      population: 12,
      params: { rounds: 6, quiet_rounds: 2 },
    });
    strictEqual(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const job = await waitFor("the coevolve job finishes", 150_000, async () => {
      const j = await (await fetch(`${server.url}/v1/jobs/${id}`)).json();
      return j.status === "done" || j.status === "failed" ? j : null;
    });
    strictEqual(job.status, "done", JSON.stringify(job.error));
    const report = job.result;
    console.log(JSON.stringify({ ...report, rounds_detail: report.rounds_detail.map((r: unknown) => r) }));
    strictEqual(report.converged, true, report.reason);
    ok(report.failures_found >= 1, "the red team found the bug");
    strictEqual(report.fixed, report.failures_found, "everything found was fixed");
    strictEqual(report.remaining, 0);
    strictEqual(report.promoted.length, 1, "one promotion fixed it");
    ok(report.rounds <= 6);

    // The fix is live.
    const after = await post(`${base}/invoke`, { input: { xs: [1, 2, 3, 4] } });
    strictEqual(after.body.output, 2.5);
    strictEqual(after.body.version, report.promoted[0]);
    strictEqual((await post(`${base}/invoke`, { input: { xs: [3, 1, 2] } })).body.output, 2);

    // The shrunk failing input stays in the regression set, now fixed (critical).
    const regs = await (await fetch(`${base}/regressions`)).json();
    ok(regs.cases.length >= 1);
    for (const c of regs.cases) {
      strictEqual(c.status, "fixed");
      strictEqual(c.origin, "red-team");
      strictEqual(c.case.input.xs.length % 2, 0, `an even-length list: ${JSON.stringify(c.case.input)}`);
      ok(c.case.input.xs.length <= 4, `shrunk: ${JSON.stringify(c.case.input)}`);
    }

    // The lineage names the operator and carries the loop's evidence.
    const lineage = await (await fetch(`${base}/lineage`)).json();
    const fixed = lineage.versions.find((v: { version: string }) => v.version === report.promoted[0]);
    strictEqual(fixed.operator, "red-team");
    strictEqual(fixed.decision.metric, "fix");
    ok(fixed.decision.coevolution.targets.length >= 1);
    strictEqual(fixed.decision.regressions, 0);

    // A candidate that brings the bug back is rejected: the find is part of every later evaluation.
    const back = await post(`${base}/candidates`, { source: source.replace('"1.0.0"', '"1.0.1"') });
    strictEqual(back.status, 202);
    const decided = await waitFor("the regressing candidate is decided", 60_000, async () => {
      const r = await (await fetch(`${base}/candidates/${back.body.id}`)).json();
      return r.status === "promoted" || r.status === "rejected" ? r : null;
    });
    strictEqual(decided.status, "rejected");
    ok(decided.evidence.regressions >= 1, JSON.stringify(decided.evidence));
    deepStrictEqual((await post(`${base}/invoke`, { input: { xs: [4, 1] } })).body.output, 2.5);
  } finally {
    await server.stop();
  }
});
