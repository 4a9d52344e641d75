/**
 * Goal (memory-strategy optimisation, end to end): the example agent `recall` lays out its notes one per
 * tiny memory block. A `memory` job profiles its blocks (from the durable snapshot) and its recent
 * invokes, generates other strategies as code variants, tests them in jails, and the best goes through
 * shadow and arbiter: promoted, with the profile in the lineage; the agent answers as before, from the
 * memory the old strategy wrote.
 * Method: the real server, real jails, the HTTP API.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { jobFinished, post, ROOT, startServer, waitJob } from "./_server.ts";

const WORDS = ["apple", "river", "stone", "cloud", "maple", "ember", "frost"];

Deno.test("memory: profiled blocks lead to a promoted strategy variant that keeps every answer", async () => {
  const agents = await Deno.makeTempDir({ prefix: "o-agents-" });
  Deno.copyFileSync(join(ROOT, "examples", "phase5", "recall.ts"), join(agents, "recall.ts"));
  const server = await startServer({ agents, args: ["--shadow-window-ms", "1000", "--log-level", "warn"] });
  const base = `${server.url}/v1/agents/recall`;
  try {
    for (let i = 0; i < 6; i++) {
      const remember = Array.from(
        { length: 20 },
        (_, k) => `visit ${i}.${k} by the ${WORDS[(i + k) % WORDS.length]}`,
      );
      const r = await post(`${base}/invoke`, { input: { remember, ask: ["river", "nothing"] } });
      strictEqual(r.status, 200);
    }
    const before = await post(`${base}/invoke`, { input: { ask: WORDS } });
    const state = await (await fetch(`${base}/state`)).json();
    strictEqual(state.agent, "recall");

    const created = await post(`${server.url}/v1/jobs`, { kind: "memory", agent: "recall" });
    strictEqual(created.status, 201);
    const job = await waitJob(server, created.body.id as string, jobFinished, 90_000);
    strictEqual(job.status, "done", job.error);
    const report = job.result;
    console.log(
      JSON.stringify({
        profile: report.profile,
        variants: report.variants,
        chosen: report.chosen,
        reason: report.reason,
      }),
    );
    strictEqual(report.profile.blocks, 120, "one block per note");
    strictEqual(report.profile.items_per_block, 1);
    ok(report.profile.hit_rate > 0 && report.profile.hit_rate < 1);
    ok(report.variants.length >= 2 && report.variants.every((v: { correct: boolean }) => v.correct));
    strictEqual(report.chosen.strategy.merge, "append");
    strictEqual(report.candidate.status, "promoted", report.reason);

    // The new strategy reads the blocks the old one wrote: every answer is the same.
    const after = await post(`${base}/invoke`, { input: { ask: WORDS } });
    deepStrictEqual(after.body.output, before.body.output);
    strictEqual(after.body.version, report.candidate.version);
    const lineage = await (await fetch(`${base}/lineage`)).json();
    const v = lineage.versions.find((x: { version: string }) => x.version === report.candidate.version);
    strictEqual(v.operator, "memory");
    strictEqual(v.decision.memory.profile.blocks, 120);
    strictEqual(v.decision.memory.after.merge, "append");
  } finally {
    await server.stop();
  }
});
