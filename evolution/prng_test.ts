import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { Prng } from "./prng.ts";

Deno.test("Prng is reproducible from a seed and from a saved state", () => {
  const a = Prng.seeded("x");
  const b = Prng.seeded("x");
  for (let i = 0; i < 10; i++) strictEqual(a.next(), b.next());
  const saved = a.state();
  const resumed = new Prng(saved);
  deepStrictEqual(
    Array.from({ length: 5 }, () => a.int(1000)),
    Array.from({ length: 5 }, () => resumed.int(1000)),
  );
  ok(Prng.seeded("x").next() !== Prng.seeded("y").next());
});

Deno.test("Prng.int() covers its range uniformly enough", () => {
  const prng = Prng.seeded(1);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[prng.int(4)]++;
  for (const c of counts) ok(c > 900 && c < 1100, String(counts));
});
