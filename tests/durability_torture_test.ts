/**
 * Goal: nothing acknowledged is ever lost, nothing is applied twice, nothing appears that was not sent —
 * across 10 SIGKILLs of the whole server under concurrent load with idempotency keys.
 * Method: tests/_torture.ts (the long form is `deno run -A tests/torture.ts --kills 1000`).
 */
import { deepStrictEqual, ok } from "node:assert";
import { torture } from "./_torture.ts";

Deno.test("kill -9 torture: 10 kills under load lose no acknowledged key and duplicate none", async () => {
  const r = await torture({ kills: 10, clients: 8, runMs: [150, 500], seed: 7 });
  ok(r.acked > 100, `enough writes were acknowledged: ${r.acked}`);
  deepStrictEqual(r.lostAcked, [], "acknowledged keys lost");
  deepStrictEqual(r.duplicates, [], "keys applied twice");
  deepStrictEqual(r.unknown, [], "keys never sent");
  deepStrictEqual(r.leftoverProcesses, [], "processes outliving their server");
});
