/**
 * Goal (protected evolution, submitted candidates): a correct faster sorter is promoted; a subtly wrong one
 * (wrong only on long inputs) and a correct-but-no-faster one are rejected with evidence naming why; while
 * they shadow, every live request is answered by the live version.
 * Method: the real server, real jails for shadows and evaluation, live traffic from this test.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { post, ROOT, startServer } from "./_server.ts";

const fixture = (name: string) => Deno.readTextFileSync(join(ROOT, "examples", "candidates", name));

async function waitDecided(url: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await (await fetch(url)).json();
    if (r.status === "promoted" || r.status === "rejected") return r;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`no decision within ${timeoutMs} ms`);
}

Deno.test("submitted candidates: faster promoted, subtly wrong and no-faster rejected, live answers meanwhile", async () => {
  const server = await startServer({ args: ["--shadow-window-ms", "3000"] });
  const base = `${server.url}/v1/agents/sorter`;
  let traffic = true;
  const liveVersions = new Set<string>();
  const liveErrors: number[] = [];
  const load = (async () => {
    for (let i = 0; traffic && i < 2000; i++) {
      const items = Array.from({ length: 20 + (i % 150) }, (_, k) => ((k * 7919 + i) % 1000) - 500);
      const r = await post(`${base}/invoke`, { input: { items } });
      if (r.status !== 200) liveErrors.push(r.status);
      else {
        liveVersions.add(r.body.version as string);
        deepStrictEqual(r.body.output, [...items].sort((a, b) => a - b));
      }
      await new Promise((res) => setTimeout(res, 25));
    }
  })();
  try {
    const submit = async (file: string) => {
      const r = await post(`${base}/candidates`, { source: fixture(file) });
      strictEqual(r.status, 202);
      strictEqual(r.body.status, "queued");
      return r.body.id as string;
    };
    const wrong = await submit("sorter_wrong.ts");
    const same = await submit("sorter_same.ts");
    const wrongDecision = await waitDecided(`${base}/candidates/${wrong}`, 120_000);
    const sameDecision = await waitDecided(`${base}/candidates/${same}`, 120_000);
    strictEqual(wrongDecision.status, "rejected");
    const wrongEvidence = wrongDecision.evidence as Record<string, number | string>;
    ok(
      (wrongEvidence.regressions as number) > 0 ||
        (wrongEvidence.shadow as unknown as { mismatches: number }).mismatches > 0,
      `the wrong one is rejected for its wrong answers: ${JSON.stringify(wrongEvidence)}`,
    );
    strictEqual(sameDecision.status, "rejected");
    const sameEvidence = sameDecision.evidence as Record<string, number | string>;
    strictEqual(
      sameEvidence.regressions,
      0,
      `the no-faster one breaks nothing: ${JSON.stringify(sameDecision)}`,
    );
    ok(
      String(sameEvidence.reason).length > 0 &&
        !(Number(sameEvidence.p_value) < 0.05 && Number(sameEvidence.effect_size) > 0.5),
      `the no-faster one is rejected for no significant improvement: ${sameEvidence.reason}`,
    );
    deepStrictEqual([...liveVersions], ["1.0.0"], "only the live version answered while candidates shadowed");

    const fast = await submit("sorter_fast.ts");
    const fastDecision = await waitDecided(`${base}/candidates/${fast}`, 120_000);
    strictEqual(fastDecision.status, "promoted", JSON.stringify(fastDecision.evidence));
    const fastEvidence = fastDecision.evidence as Record<string, number>;
    strictEqual(fastEvidence.regressions, 0);
    ok(fastEvidence.p_value < 0.05, `significant: p=${fastEvidence.p_value}`);
    const after = await post(`${base}/invoke`, { input: { items: [3, 1, 2] } });
    deepStrictEqual(after.body.output, [1, 2, 3]);
    strictEqual(after.body.version, `1.0.0+${fast}`);
    const lineage = await (await fetch(`${base}/lineage`)).json();
    deepStrictEqual(lineage.versions.map((v: { version: string }) => v.version), ["1.0.0", `1.0.0+${fast}`]);
    strictEqual(lineage.versions[1].parent, "1.0.0");
    strictEqual(lineage.live, `1.0.0+${fast}`);
    // Rollback is one call.
    const back = await post(`${base}/rollback`, { version: "1.0.0" });
    strictEqual(back.status, 200);
    strictEqual((await post(`${base}/invoke`, { input: { items: [2, 1] } })).body.version, "1.0.0");
  } finally {
    traffic = false;
    await load;
    await server.stop();
  }
  deepStrictEqual(liveErrors, [], "every live request was answered");
});

Deno.test("a promotion and a rollback survive a restart; the lineage says which version is live", async () => {
  const server = await startServer({ args: ["--shadow-window-ms", "1000"] });
  const base = (s: { url: string }) => `${s.url}/v1/agents/sorter`;
  let promoted: string;
  try {
    const r = await post(`${base(server)}/candidates`, { source: fixture("sorter_fast.ts") });
    const decision = await waitDecided(`${base(server)}/candidates/${r.body.id}`, 120_000);
    strictEqual(decision.status, "promoted", JSON.stringify(decision.evidence));
    promoted = `1.0.0+${r.body.id}`;
  } finally {
    await server.stop();
  }
  const again = await startServer({ data: server.data });
  try {
    const answer = await post(`${base(again)}/invoke`, { input: { items: [2, 1] } });
    strictEqual(answer.body.version, promoted, "the promoted code is live after a restart");
    strictEqual((await (await fetch(`${base(again)}/lineage`)).json()).live, promoted);
    strictEqual((await post(`${base(again)}/rollback`, { version: "1.0.0" })).status, 200);
  } finally {
    await again.stop();
  }
  const third = await startServer({ data: server.data });
  try {
    strictEqual((await post(`${base(third)}/invoke`, { input: { items: [2, 1] } })).body.version, "1.0.0");
  } finally {
    await third.stop();
  }
});
