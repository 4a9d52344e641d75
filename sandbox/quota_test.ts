import { rejects, strictEqual, throws } from "node:assert";
import { SandboxQuota, SandboxQuotaError } from "./quota.ts";

Deno.test("SandboxQuota admits up to concurrentMax at once and queues the rest in order", async () => {
  const quota = new SandboxQuota({ concurrentMax: 2, queueMax: 4, memoryMbTotalMax: 1024 });
  const a = await quota.acquire(100);
  const b = await quota.acquire(100);
  const order: string[] = [];
  const c = quota.acquire(100).then((p) => (order.push("c"), p));
  const d = quota.acquire(100).then((p) => (order.push("d"), p));
  strictEqual(quota.active, 2);
  strictEqual(quota.queued, 2);
  a.release();
  (await c).release();
  b.release();
  (await d).release();
  strictEqual(order.join(""), "cd");
  strictEqual(quota.active, 0);
  strictEqual(quota.memoryMbInUse, 0);
});

Deno.test("SandboxQuota refuses with SANDBOX_QUEUE_FULL when the queue is at its bound", async () => {
  const quota = new SandboxQuota({ concurrentMax: 1, queueMax: 1, memoryMbTotalMax: 1024 });
  const a = await quota.acquire(64);
  const waiting = quota.acquire(64);
  await rejects(quota.acquire(64), (e) => e instanceof SandboxQuotaError && e.code === "SANDBOX_QUEUE_FULL");
  a.release();
  (await waiting).release();
});

Deno.test("SandboxQuota bounds total memory, not only the count", async () => {
  const quota = new SandboxQuota({ concurrentMax: 10, queueMax: 10, memoryMbTotalMax: 512 });
  const a = await quota.acquire(256);
  const b = await quota.acquire(256);
  let admitted = false;
  const c = quota.acquire(64).then((p) => (admitted = true, p));
  await new Promise((r) => setTimeout(r, 0));
  strictEqual(admitted, false);
  a.release();
  (await c).release();
  strictEqual(admitted, true);
  b.release();
});

Deno.test("SandboxQuota refuses a sandbox larger than the per-sandbox quota with SANDBOX_MEMORY_QUOTA", async () => {
  const quota = new SandboxQuota({ memoryMbPerSandboxMax: 256, memoryMbTotalMax: 1024 });
  await rejects(
    quota.acquire(512),
    (e) => e instanceof SandboxQuotaError && e.code === "SANDBOX_MEMORY_QUOTA",
  );
});

Deno.test("SandboxQuota lets an aborted waiter leave the queue", async () => {
  const quota = new SandboxQuota({ concurrentMax: 1, queueMax: 2, memoryMbTotalMax: 1024 });
  const a = await quota.acquire(64);
  const abort = new AbortController();
  const waiting = quota.acquire(64, abort.signal);
  abort.abort(new Error("gave up"));
  await rejects(waiting, /gave up/);
  strictEqual(quota.queued, 0);
  a.release();
});

Deno.test("SandboxQuota.run() releases the slot when the work throws", async () => {
  const quota = new SandboxQuota({ concurrentMax: 1 });
  await rejects(quota.run(64, () => Promise.reject(new Error("x"))), /x/);
  strictEqual(quota.active, 0);
});

Deno.test("SandboxQuota rejects bounds out of range", () => {
  throws(() => new SandboxQuota({ concurrentMax: 0 }), RangeError);
  throws(() => new SandboxQuota({ memoryMbPerSandboxMax: 10, memoryMbTotalMax: 5 }), RangeError);
});
