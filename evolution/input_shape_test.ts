import { deepStrictEqual, ok, strictEqual } from "node:assert";
import {
  edgeSeeds,
  features,
  generate,
  inferShape,
  keyOf,
  mutateInput,
  shapeKey,
  shrinkCandidates,
  sizeOf,
} from "./input_shape.ts";
import { Prng } from "./prng.ts";

Deno.test("inferShape() merges eval inputs: ranges, optional fields, categories", () => {
  const shape = inferShape([{ xs: [1, 2], lang: "en" }, { xs: [-3.5], lang: "de", extra: true }]);
  strictEqual(shape.kind, "object");
  if (shape.kind !== "object") return;
  deepStrictEqual(shape.required.sort(), ["lang", "xs"]);
  const xs = shape.fields.xs;
  ok(xs.kind === "array" && xs.item.kind === "number" && !xs.item.integer && xs.item.min === -3.5);
  const lang = shape.fields.lang;
  ok(lang.kind === "string" && lang.values.includes("de"));
});

Deno.test("generate() is seeded and conforms to the shape", () => {
  const shape = inferShape([{ xs: [3, 1, 2] }]);
  const a = generate(shape, 40, 7);
  deepStrictEqual(a, generate(shape, 40, 7));
  ok(a.every((v) => Array.isArray((v as { xs: unknown }).xs)));
  ok(a.some((v) => (v as { xs: unknown[] }).xs.length % 2 === 0), "even lengths are drawn");
});

Deno.test("edgeSeeds() varies one leaf at a time: empty, huge, NaN, unicode", () => {
  const seeds = edgeSeeds(inferShape([{ xs: [1], name: "a" }]), [{ xs: [1], name: "a" }]);
  const keys = seeds.map(keyOf);
  ok(keys.includes(keyOf({ xs: [], name: "a" })));
  ok(seeds.some((s) => (s as { xs: unknown[] }).xs.length >= 10_000));
  ok(keys.includes(keyOf({ xs: [1], name: "日本語" })));
  const numbers = edgeSeeds(inferShape([{ n: 1 }]), [{ n: 1 }]);
  ok(numbers.some((s) => Number.isNaN((s as { n: number }).n)));
});

Deno.test("shrinkCandidates() offers strictly smaller inputs, smallest first", () => {
  const input = { xs: [5, 9, 12, 4] };
  const steps = shrinkCandidates(input);
  ok(steps.length > 0);
  ok(steps.every((s) => sizeOf(s) < sizeOf(input)));
  for (let i = 1; i < steps.length; i++) ok(sizeOf(steps[i - 1]) <= sizeOf(steps[i]));
  deepStrictEqual(steps[0], { xs: [] });
});

Deno.test("features() names categories, parity, signs and structure", () => {
  const f = features({ lang: "fr", xs: [1, -2], text: "a=1;flag" });
  for (const want of ["lang=fr", "xs:len=even", "xs:has-neg", "text:part(;)-without(=)"]) {
    ok(f.includes(want), want);
  }
  strictEqual(shapeKey({ b: [1], a: "x" }), "{a:string,b:number[]}");
});

Deno.test("mutateInput() is seeded and keeps the input's shape", () => {
  const base = { xs: [1, 2, 3] };
  const a = mutateInput(base, Prng.seeded(3));
  deepStrictEqual(a, mutateInput(base, Prng.seeded(3)));
  strictEqual(shapeKey(a).startsWith("{xs:"), true);
});
