/**
 * The Zig benchmark runs end to end in quick mode and returns every figure with its same-run baseline
 * (numbers are not asserted: machines differ; bench/ reports them).
 */
import { ok } from "node:assert";
import { benchZig } from "./bench.ts";

Deno.test("benchZig({quick}) measures FFI overhead and every module against its TypeScript baseline", async () => {
  const figures = await benchZig({ quick: true });
  ok(figures.ffi.syncPingNs > 0 && figures.ffi.asyncSmallCallUs > 0 && figures.ffi.reloadMs > 0);
  for (const c of [figures.http, figures.sqliteInsert, figures.sqliteQuery, figures.postgres]) {
    ok(c.zigUsPerOp > 0 && c.baselineUsPerOp > 0 && c.speedup > 0, JSON.stringify(c));
  }
});
