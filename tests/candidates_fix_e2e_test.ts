/**
 * Goal: a candidate that fixes a bug live traffic is hitting can be promoted. Its shadow answers those
 * requests differently from live — by design — so each difference is judged by the live evals' general
 * properties: where live breaks one and the candidate keeps them all, it is a fix (excused, and a case the
 * arbiter's `fix` path sees); any other difference still rejects.
 * Method: the real server with `median` (wrong on even-length lists, evals blind to it), live traffic of
 * even- and odd-length lists during the shadow window, a hand-written fix submitted over HTTP.
 */
import { ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { post, ROOT, startServer } from "./_server.ts";

Deno.test("a fix of a bug that live traffic hits is promoted: its differing answers are judged fixes", async () => {
  const agents = await Deno.makeTempDir({ prefix: "o-fix-agents-" });
  const buggy = Deno.readTextFileSync(join(ROOT, "examples", "agents", "median.ts"));
  Deno.writeTextFileSync(join(agents, "median.ts"), buggy);
  const fixed = buggy.replace("if (s.length % 2 > 1) return", "if (s.length % 2 === 0) return");
  ok(fixed !== buggy, "the fixture still has the planted guard");
  const server = await startServer({ agents, args: ["--shadow-window-ms", "3000", "--log-level", "warn"] });
  const base = `${server.url}/v1/agents/median`;
  let traffic = true;
  const load = (async () => {
    for (let i = 0; traffic && i < 500; i++) {
      const xs = Array.from({ length: 2 + (i % 5) }, (_, k) => (k * 37 + i) % 50);
      await post(`${base}/invoke`, { input: { xs } });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    strictEqual(
      (await post(`${base}/invoke`, { input: { xs: [1, 2, 3, 4] } })).body.output,
      3,
      "the bug is live",
    );
    const r = await post(`${base}/candidates`, { source: fixed, operator: "autofix" });
    strictEqual(r.status, 202);
    let decided: Record<string, unknown> = {};
    for (let i = 0; i < 600; i++) {
      decided = await (await fetch(`${base}/candidates/${r.body.id}`)).json();
      if (decided.status === "promoted" || decided.status === "rejected") break;
      await new Promise((res) => setTimeout(res, 200));
    }
    const evidence = decided.evidence as Record<string, unknown> & { shadow: Record<string, number> };
    strictEqual(decided.status, "promoted", JSON.stringify(evidence));
    strictEqual(evidence.shadow.mismatches, 0);
    ok(
      evidence.shadow.excused > 0,
      `differing answers were judged fixes: ${JSON.stringify(evidence.shadow)}`,
    );
    strictEqual(evidence.regressions, 0);
    strictEqual((await post(`${base}/invoke`, { input: { xs: [1, 2, 3, 4] } })).body.output, 2.5);
  } finally {
    traffic = false;
    await load;
    await server.stop();
  }
});
