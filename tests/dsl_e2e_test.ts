/**
 * Goal (DSL self-modification, end to end): the example agent `stairs` has a pure recursive helper.
 * A `dsl` job introspects the DSL and the agent's use of it, generates a `memo` combinator and a
 * `defineTool` tool definition in the agent's own source, validates them (pre-filter, tamper checks, type
 * check, tests in jails beside the live version, arbiter), and takes the result through the protected
 * path: it is promoted for its speed, with the introspection in the lineage.
 * Method: the real server, real jails, the HTTP API (`/v1/jobs`, `/v1/dsl`).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { jobFinished, post, ROOT, startServer, waitJob } from "./_server.ts";

Deno.test("dsl: a generated memo combinator and tool definition are validated, shadowed and promoted", async () => {
  const agents = await Deno.makeTempDir({ prefix: "o-agents-" });
  Deno.copyFileSync(join(ROOT, "examples", "phase5", "stairs.ts"), join(agents, "stairs.ts"));
  const server = await startServer({ agents, args: ["--shadow-window-ms", "1000", "--log-level", "warn"] });
  const base = `${server.url}/v1/agents/stairs`;
  try {
    const before = await (await fetch(`${server.url}/v1/dsl`)).json();
    deepStrictEqual(before.exports.map((e: { name: string }) => e.name).sort(), [
      "defineAgent",
      "defineTool",
      "when",
    ]);
    ok(before.builtin_tools.includes("echo"));
    const usage = before.agents.find((a: { name: string }) => a.name === "stairs");
    deepStrictEqual(usage.helpers, [{
      name: "ways",
      params: ["n"],
      primitive: true,
      pure: true,
      recursive: true,
    }]);
    deepStrictEqual(usage.defined_tools, []);

    const created = await post(`${server.url}/v1/jobs`, { kind: "dsl", agent: "stairs" });
    strictEqual(created.status, 201);
    const job = await waitJob(server, created.body.id as string, jobFinished, 90_000);
    strictEqual(job.status, "done", job.error);
    const report = job.result;
    console.log(
      JSON.stringify(
        report.proposals.map((p: Record<string, unknown>) => ({
          ...p,
          decision: (p.decision as Record<string, unknown>)?.reason,
        })),
      ),
    );
    strictEqual(report.proposals[0].combinator, "memo");
    strictEqual(report.proposals[0].stage0, null);
    strictEqual(report.candidate.status, "promoted", report.reason);

    // Same answers, from the new code; the agent now defines its own combinator and tool.
    const r = await post(`${base}/invoke`, { input: { n: 22 } });
    deepStrictEqual(r.body.output, { n: 22, ways: 28657 });
    strictEqual(r.body.version, report.candidate.version);
    const t0 = performance.now();
    deepStrictEqual((await post(`${base}/invoke`, { input: { n: 40 } })).body.output, {
      n: 40,
      ways: 165580141,
    });
    ok(performance.now() - t0 < 2_000, "n = 40 answers at once (it would take seconds without the cache)");
    const after = await (await fetch(`${server.url}/v1/dsl`)).json();
    const now = after.agents.find((a: { name: string }) => a.name === "stairs");
    deepStrictEqual(now.defined_tools, ["ways"]);
    ok(now.helpers.some((h: { name: string }) => h.name === "memo"));
    deepStrictEqual(after.agent_combinators, { memo: ["stairs"] });

    const lineage = await (await fetch(`${base}/lineage?source=1`)).json();
    const v = lineage.versions.find((x: { version: string }) => x.version === report.candidate.version);
    strictEqual(v.operator, "dsl");
    strictEqual(v.decision.dsl.combinator, "memo");
    strictEqual(v.decision.dsl.target, "ways");
    ok(v.source.includes("function memo") && v.source.includes("defineTool({"));
  } finally {
    await server.stop();
  }
});
