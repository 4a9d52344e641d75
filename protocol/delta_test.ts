import { deepStrictEqual, throws } from "node:assert";
import fc from "fast-check";
import { applyDelta, decode, diff, encode, FrameError, validateDelta } from "./mod.ts";

const json = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 5 })),
  node: fc.oneof(
    { depthSize: "small" },
    tie("leaf"),
    fc.array(tie("node"), { maxLength: 6 }),
    fc.dictionary(fc.string({ maxLength: 3 }), tie("node"), { maxKeys: 5, noNullPrototype: true }),
  ),
})).node;
const root = fc.dictionary(fc.string({ maxLength: 3 }), json, { maxKeys: 6, noNullPrototype: true });

Deno.test("applyDelta(a, diff(a, b)) turns a into b, also after a msgpack round trip", () => {
  fc.assert(
    fc.property(root, root, (a, b) => {
      const ops = diff(a, b);
      const target = structuredClone(a);
      applyDelta(target, validateDelta(decode(encode(ops))));
      deepStrictEqual(target, b);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("diff() of an array that only grew is a single push", () => {
  deepStrictEqual(diff({ keys: ["a"] }, { keys: ["a", "b", "c"] }), [["p", ["keys"], ["b", "c"]]]);
  deepStrictEqual(diff({ n: 1 }, { n: 1 }), []);
});

Deno.test("applyDelta() refuses a path that does not exist with DELTA_INVALID", () => {
  throws(
    () => applyDelta({}, [["p", ["missing"], [1]]]),
    (e) => e instanceof FrameError && e.code === "DELTA_INVALID",
  );
  throws(
    () => applyDelta({ a: 1 }, [["s", ["a", "b"], 1]]),
    (e) => e instanceof FrameError && e.code === "DELTA_INVALID",
  );
  throws(() => applyDelta({}, [["s", [], 1]]), /root cannot be replaced/);
});

Deno.test("validateDelta() refuses malformed operations", () => {
  for (const bad of [{}, [["x", []]], [["s", "a", 1]], [["p", ["a"], 1]], [["d", [{}]]]]) {
    throws(() => validateDelta(bad), (e) => e instanceof FrameError && e.code === "DELTA_INVALID");
  }
});

Deno.test("applyDelta() stores a __proto__ key as data", () => {
  const target: Record<string, unknown> = {};
  applyDelta(target, [["s", ["__proto__"], { polluted: true }]]);
  deepStrictEqual(Object.getPrototypeOf(target), Object.prototype);
  deepStrictEqual(Object.keys(target), ["__proto__"]);
});
