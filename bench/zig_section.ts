/**
 * Zig modules through FFI: call overhead, hot reload, and each module against the nearest pure-TypeScript
 * way (fetch, node:sqlite, npm postgres), same run, from `benchZig()`.
 *
 * @module
 */
import { benchZig, type ZigVsBaseline } from "../zig/bench.ts";
import type { Figure } from "./_util.ts";

function vs(name: string, z: ZigVsBaseline): Figure {
  return {
    section: "zig",
    name: `${name}: ${z.workload}`,
    value: z.zigUsPerOp,
    unit: "µs/op",
    baseline: z.baselineUsPerOp,
    baselineName: z.baseline,
    goal: "report (FFI pays for heavy work)",
  };
}

/** Runs the section. */
export async function zigSection(quick: boolean): Promise<Figure[]> {
  const z = await benchZig({ quick });
  return [
    {
      section: "zig",
      name: "FFI empty call (sync)",
      value: z.ffi.syncPingNs / 1000,
      unit: "µs",
      goal: "≈ 1.5 µs",
      met: z.ffi.syncPingNs < 1500,
    },
    {
      section: "zig",
      name: "FFI small call with msgpack",
      value: z.ffi.syncSmallCallNs / 1000,
      unit: "µs",
      goal: "report",
    },
    { section: "zig", name: "hot reload with state", value: z.ffi.reloadMs, unit: "ms", goal: "report" },
    vs("http_client", z.http),
    vs("sqlite insert", z.sqliteInsert),
    vs("sqlite query", z.sqliteQuery),
    vs("postgres", z.postgres),
  ];
}
