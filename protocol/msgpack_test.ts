import { deepStrictEqual, throws } from "node:assert";
import fc from "fast-check";
import { pack, Unpackr } from "msgpackr";

const unpack = (b: Uint8Array) => new Unpackr({ int64AsType: "number", mapsAsObjects: true }).unpack(b);
import { decode, encode, FrameError } from "./mod.ts";

const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0)),
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.uint8Array({ maxLength: 300 }),
  ),
  node: fc.oneof(
    { depthSize: "small" },
    tie("leaf"),
    fc.array(tie("node"), { maxLength: 20 }),
    fc.dictionary(fc.string(), tie("node"), { noNullPrototype: true }),
  ),
})).node;

Deno.test("decode(encode(x)) equals x for arbitrary values", () => {
  fc.assert(fc.property(value, (v) => deepStrictEqual(decode(encode(v)), v)), { numRuns: 500 });
});

Deno.test("encode() output is read by msgpackr, and msgpackr output by decode()", () => {
  // msgpackr itself mishandles a "__proto__" key; our own handling is tested below.
  const safeKey = fc.string().filter((k) => k !== "__proto__");
  const plain = fc.letrec((tie) => ({
    leaf: fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0)), // msgpackr writes -0 as the integer 0.
      fc.string(),
    ),
    node: fc.oneof(
      { depthSize: "small" },
      tie("leaf"),
      fc.array(tie("node"), { maxLength: 10 }),
      fc.dictionary(safeKey, tie("node"), { noNullPrototype: true }),
    ),
  })).node;
  fc.assert(
    fc.property(plain, (v) => {
      deepStrictEqual(unpack(encode(v)), v);
      deepStrictEqual(decode(pack(v)), v);
    }),
    { numRuns: 300 },
  );
});

Deno.test("decode() rejects every truncation of a valid encoding with MSGPACK_MALFORMED", () => {
  fc.assert(
    fc.property(value, (v) => {
      const bytes = encode(v);
      for (let n = 0; n < bytes.length; n++) {
        throws(
          () => decode(bytes.subarray(0, n)),
          (e) => e instanceof FrameError && e.code === "MSGPACK_MALFORMED",
        );
      }
    }),
    { numRuns: 100 },
  );
});

Deno.test("decode() on random bytes returns a value or throws FrameError, never anything else", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decode(bytes);
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decode() refuses huge declared lengths without allocating them", () => {
  throws(() => decode(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])), /exceeds the input/);
  throws(() => decode(new Uint8Array([0xdf, 0x7f, 0xff, 0xff, 0xff])), /exceeds the input/);
  throws(() => decode(new Uint8Array([0xc6, 0xff, 0xff, 0xff, 0xff])), /needs/);
});

Deno.test("decode() refuses nesting deeper than MSGPACK_DEPTH_MAX", () => {
  const deep = new Uint8Array(10_000).fill(0x91);
  throws(() => decode(deep), /nesting exceeds/);
});

Deno.test("decode() keeps a __proto__ key as data, never as the prototype", () => {
  const bytes = encode(JSON.parse('{"__proto__":{"polluted":true}}'));
  const out = decode(bytes) as Record<string, unknown>;
  deepStrictEqual(Object.getPrototypeOf(out), Object.prototype);
  deepStrictEqual(({} as Record<string, unknown>).polluted, undefined);
  deepStrictEqual(Object.keys(out), ["__proto__"]);
});

Deno.test("encode() refuses functions, symbols and class instances", () => {
  throws(() => encode({ f: () => 1 }), /Cannot encode/);
  throws(() => encode(Symbol("x")), /Cannot encode/);
  throws(() => encode(new Date()), /Cannot encode object of class Date/);
});

Deno.test("decode() keeps map keys exact through its key cache: many keys, colliding slots, non-ASCII", () => {
  // More distinct keys than the cache has slots, each seen twice, some differing only in their last byte.
  const keys = Array.from({ length: 10_000 }, (_, i) => `k${i.toString(36)}`);
  keys.push("é", "ék", "🙂", "a".repeat(24), "a".repeat(25), "");
  const obj = Object.fromEntries(keys.map((k, i) => [k, i]));
  for (let round = 0; round < 2; round++) deepStrictEqual(decode(encode([obj, obj])), [obj, obj]);
  // A key that is not a string, and keys nested in keys, fail as malformed input (not a stack overflow).
  throws(() => decode(Uint8Array.of(0x81, 0x01, 0x02)), FrameError);
  const nested: number[] = [];
  for (let i = 0; i < 100_000; i++) nested.push(0x81, 0x81); // map whose key is a map whose key is…
  throws(() => decode(Uint8Array.from(nested)), (e: unknown) => e instanceof FrameError);
});
