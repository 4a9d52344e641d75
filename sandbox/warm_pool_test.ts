import { deepStrictEqual, rejects, strictEqual, throws } from "node:assert";
import type { SandboxExit, SandboxProcess } from "./spawn.ts";
import { WarmPool } from "./warm_pool.ts";

/** A sandbox that is only bookkeeping: `kill` ends it. */
function fakeSandbox(pid: number): SandboxProcess & { end: () => void } {
  let end!: (e: SandboxExit) => void;
  const exited = new Promise<SandboxExit>((r) => end = r);
  return {
    pid,
    tier: "process",
    stdin: new WritableStream(),
    stdout: new ReadableStream(),
    exited,
    stderrTail: () => "",
    kill: (reason) => end({ code: null, signal: "SIGKILL", killedFor: reason }),
    end: () => end({ code: 1, signal: null, killedFor: null }),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("WarmPool keeps `size` sandboxes started and hands each out once", async () => {
  let next = 1;
  const spawned: ReturnType<typeof fakeSandbox>[] = [];
  const pool = new WarmPool({ size: 2, spawn: () => (spawned.push(fakeSandbox(next++)), spawned.at(-1)!) });
  await tick();
  strictEqual(pool.idle, 2);
  const taken = [await pool.take(), await pool.take(), await pool.take()].map((s) => s.pid);
  deepStrictEqual(new Set(taken).size, 3);
  await tick();
  strictEqual(pool.idle, 2);
  strictEqual(spawned.length, 5);
  await pool.close();
});

Deno.test("WarmPool spawns cold when no sandbox is ready yet", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let next = 1;
  const pool = new WarmPool({ size: 1, spawn: () => fakeSandbox(next++), ready: () => gate });
  const s = await Promise.race([pool.take(), new Promise<null>((r) => setTimeout(() => r(null), 20))]);
  strictEqual(s, null);
  release();
  await tick();
  strictEqual(pool.coldStarts, 1);
  await pool.close();
});

Deno.test("WarmPool replaces an idle sandbox that dies", async () => {
  const spawned: ReturnType<typeof fakeSandbox>[] = [];
  const pool = new WarmPool({
    size: 1,
    spawn: () => (spawned.push(fakeSandbox(spawned.length + 1)), spawned.at(-1)!),
  });
  await tick();
  spawned[0].end();
  await tick();
  await tick();
  strictEqual(spawned.length, 2);
  strictEqual((await pool.take()).pid, 2);
  await pool.close();
});

Deno.test("WarmPool.close() kills idle sandboxes and refuses further takes", async () => {
  const spawned: ReturnType<typeof fakeSandbox>[] = [];
  const pool = new WarmPool({
    size: 2,
    spawn: () => (spawned.push(fakeSandbox(spawned.length + 1)), spawned.at(-1)!),
  });
  await tick();
  await pool.close();
  for (const s of spawned) strictEqual((await s.exited).killedFor, "pool closed");
  await rejects(pool.take());
});

Deno.test("WarmPool rejects a size over WARM_POOL_SIZE_MAX", () => {
  throws(() => new WarmPool({ size: 1000, spawn: () => fakeSandbox(1) }), RangeError);
});
