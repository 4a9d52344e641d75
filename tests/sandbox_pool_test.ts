/**
 * The warm pool and the admission quota with real sandboxes: a pooled sandbox answers in milliseconds,
 * each runs one piece of code only, and the quota bounds parallel runs.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import {
  effectiveTier,
  runInSandbox,
  runPoolOptions,
  runSource,
  SandboxQuota,
  SandboxQuotaError,
  WarmPool,
} from "../sandbox/mod.ts";

const tier = effectiveTier("jail");

Deno.test("WarmPool hands out started sandboxes that answer fast and are never reused", async () => {
  const pool = new WarmPool(runPoolOptions({ tier, timeoutMs: 5000, memoryMb: 128, size: 2 }));
  try {
    while (pool.idle < 2) await new Promise((r) => setTimeout(r, 10));
    const pids = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      const sandbox = await pool.take();
      ok(!pids.has(sandbox.pid), "a sandbox is handed out once");
      pids.add(sandbox.pid);
      const r = await runInSandbox(sandbox, `export default () => ${i};`, { timeoutMs: 5000 });
      strictEqual(r.result, i, r.stderr);
      strictEqual(r.stdout, "");
      // Generous for CI: the bench measures the real number (a few ms).
      ok(performance.now() - t0 < 1000);
      while (pool.idle < 2) await new Promise((r) => setTimeout(r, 10));
    }
    strictEqual(pool.coldStarts, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("a pooled sandbox's wall clock starts at take, not at spawn", async () => {
  const pool = new WarmPool(runPoolOptions({ tier, timeoutMs: 300, memoryMb: 128, size: 1 }));
  try {
    while (pool.idle < 1) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 400)); // Idle longer than the wall limit.
    const r = await runInSandbox(await pool.take(), "export default () => 'on time';", { timeoutMs: 300 });
    strictEqual(r.result, "on time");
  } finally {
    await pool.close();
  }
});

Deno.test("SandboxQuota bounds parallel sandbox runs and refuses past its queue", async () => {
  const quota = new SandboxQuota({ concurrentMax: 2, queueMax: 2, memoryMbTotalMax: 512 });
  let running = 0;
  let peak = 0;
  const run = () =>
    quota.run(128, async () => {
      running++;
      peak = Math.max(peak, running);
      try {
        return await runSource(
          "export default async () => { await new Promise((r) => setTimeout(r, 100)); return 1; };",
          {
            tier,
            memoryMb: 128,
          },
        );
      } finally {
        running--;
      }
    });
  const admitted = [run(), run(), run(), run()];
  const refused = await run().then(() => null, (e) => e);
  ok(refused instanceof SandboxQuotaError);
  strictEqual(refused.code, "SANDBOX_QUEUE_FULL");
  const results = await Promise.all(admitted);
  deepStrictEqual(results.map((r) => r.result), [1, 1, 1, 1]);
  strictEqual(peak, 2);
});
