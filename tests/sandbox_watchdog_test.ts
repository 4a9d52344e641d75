/**
 * The memory bound where no cgroup is writable: the RSS watchdog. Cgroups are switched off for this file,
 * then bombs must still die for `memory` (within the watchdog's documented overshoot), busy loops for
 * `wall`, and nothing may be left behind.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { setCgroupsEnabled } from "../sandbox/cgroup.ts";
import { AUDIT_WALL_MARGIN_MS, AUDIT_WATCHDOG_MEMORY_MARGIN_MB } from "../sandbox/limits.ts";
import { leftoverPids } from "../sandbox/leftovers.ts";
import { effectiveTier, runSource } from "../sandbox/mod.ts";

const MIB = 1024 * 1024;
const tier = effectiveTier("jail");

function withoutCgroups(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    setCgroupsEnabled(false);
    try {
      await fn();
    } finally {
      setCgroupsEnabled(true);
    }
  };
}

Deno.test(
  "watchdog kills an ArrayBuffer bomb for memory when no cgroup bounds it",
  withoutCgroups(async () => {
    const tag = `o-watchdog-${crypto.randomUUID()}`;
    const r = await runSource(
      "const a: Uint8Array[] = [];\nwhile (true) a.push(new Uint8Array(4 << 20).fill(1));\n",
      {
        tier,
        memoryMb: 128,
        tag,
      },
    );
    strictEqual(r.killed_for, "memory");
    ok(r.memory_peak_bytes > 0, "the watchdog measured the tree");
    ok(
      r.memory_peak_bytes <= (128 + AUDIT_WATCHDOG_MEMORY_MARGIN_MB) * MIB,
      `peak ${r.memory_peak_bytes / MIB} MiB`,
    );
    deepStrictEqual(leftoverPids(tag), []);
  }),
);

Deno.test(
  "watchdog kills a worker bomb when no cgroup bounds tasks",
  withoutCgroups(async () => {
    const tag = `o-watchdog-${crypto.randomUUID()}`;
    const source =
      'for (let i = 0; i < 1000; i++) new Worker("data:application/javascript,setInterval(()=>{},1000)", { type: "module" });\n' +
      "export default () => new Promise(() => {});\n";
    const r = await runSource(source, { tier, memoryMb: 256, timeoutMs: 3000, tag });
    strictEqual(r.killed_for, "memory");
    deepStrictEqual(leftoverPids(tag), []);
  }),
);

Deno.test(
  "without cgroups a busy loop still dies within its wall limit + 100 ms",
  withoutCgroups(async () => {
    const tag = `o-watchdog-${crypto.randomUUID()}`;
    const r = await runSource("while (true) {}\n", { tier, timeoutMs: 500, tag });
    strictEqual(r.killed_for, "wall");
    ok(r.duration_ms <= 500 + AUDIT_WALL_MARGIN_MS, `gone after ${r.duration_ms} ms`);
    deepStrictEqual(leftoverPids(tag), []);
  }),
);
