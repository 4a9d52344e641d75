/**
 * Goal: numbers, durations and evidence print readably and never throw on odd input.
 * Method: the pure functions of web/static/format.js.
 */
import { deepStrictEqual, strictEqual } from "node:assert";
import { duration, evidenceFacts, num, rawJson, size, uptime } from "./static/format.js";

Deno.test("num(), duration(), size(), uptime() format values and dash the rest", () => {
  strictEqual(num(1234), "1,234");
  strictEqual(num(3.14159), "3.14");
  strictEqual(num("7"), "–");
  strictEqual(duration(0.25), "250 µs");
  strictEqual(duration(12.5), "12.5 ms");
  strictEqual(duration(3251), "3.25 s");
  strictEqual(duration(null), "–");
  strictEqual(size(2048), "2.0 KiB");
  strictEqual(size(-1), "–");
  strictEqual(uptime(3725), "1 h 2 min");
});

Deno.test("evidenceFacts() picks the known fields in order and ignores hostile shapes", () => {
  deepStrictEqual(
    evidenceFacts({ reason: "r", p_value: 0.00001, effect_size: 0.9, regressions: 0, stage: 2, x: 1 }),
    [["stage", "2"], ["regressions", "0"], ["p", "1.0e-5"], ["effect", "0.900"]],
  );
  deepStrictEqual(evidenceFacts({ shadow: { compared: 5, mismatches: 1, errors: 0 } }), [
    ["shadow", "5 compared, 1 differed, 0 failed"],
  ]);
  deepStrictEqual(evidenceFacts(null), []);
  deepStrictEqual(evidenceFacts([1, 2]), []);
  deepStrictEqual(evidenceFacts({ p_value: { toString: "x" } }), []);
});

Deno.test("rawJson() cuts long evidence and prints cyclic values without throwing", () => {
  strictEqual(rawJson({ a: "x".repeat(100) }, 20).includes("more chars"), true);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  strictEqual(rawJson(cyclic), "[object Object]");
});
