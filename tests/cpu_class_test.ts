/**
 * CPU classes of sandboxes (sandbox/cgroup.ts): `background` jails share one idle cgroup `cpu` group,
 * `batch` jails one low-weight group, `normal` ones neither; on this machine's cgroup v1 the groups are
 * checked in /sys/fs/cgroup/cpu. Without a writable `cpu` hierarchy the test fails loudly rather than
 * pass on nothing.
 */
import { ok, strictEqual } from "node:assert";
import { BATCH_CPU_SHARES, type CpuClass, cpuClassGroup, runSpec, spawnSandbox } from "../sandbox/mod.ts";
import { waitForReadyMark } from "../sandbox/warm_pool.ts";
import { cpuGroup } from "./stress_fleet.ts";

function shares(path: string): number {
  return Number(Deno.readTextFileSync(`/sys/fs/cgroup/cpu${path}/cpu.shares`).trim());
}

Deno.test("background and batch jails join their shared cpu groups; normal ones stay out", async () => {
  ok(cpuClassGroup("background") !== null, "no writable cgroup v1 cpu hierarchy on this machine");
  ok(cpuClassGroup("batch") !== null);
  const spec = runSpec("jail", 5_000, 128);
  const seen = new Map<CpuClass, { path: string; idle: boolean } | null>();
  for (const cpu of ["normal", "batch", "background"] as const) {
    const sandbox = spawnSandbox({ ...spec, limits: { ...spec.limits, cpu } });
    try {
      await waitForReadyMark(sandbox); // Its start script joined the groups before it exec'd the jail.
      seen.set(cpu, cpuGroup(sandbox.pid));
    } finally {
      sandbox.kill("test done");
      await sandbox.exited;
    }
  }
  const own = cpuGroup(Deno.pid)!;
  strictEqual(seen.get("normal")?.path, own.path, "a normal jail stays in the supervisor's group");
  ok(seen.get("background")?.path.endsWith("/o-background") && seen.get("background")?.idle);
  const batch = seen.get("batch")!;
  ok(batch.path.endsWith("/o-batch") && !batch.idle, JSON.stringify(batch));
  strictEqual(shares(batch.path), BATCH_CPU_SHARES);
});
