/**
 * Input shapes: what an agent's inputs look like, inferred from the inputs of its evals, and everything
 * the red team, auto-fix and feedback learning do with one — property-based generators (npm
 * `fast-check`, seeded), edge-case seeds (empty, huge, unicode, NaN, negative, deeply nested), mutation
 * and crossover of past inputs, shrink steps, and the features that group inputs into classes.
 *
 * Generated inputs conform to the shape (a field that is a number stays a number, NaN included): an
 * agent that throws on an input of the wrong type is validating, not failing; one that throws on an input
 * like the ones it is tested with has a bug. All of it is pure and deterministic given a seed.
 *
 * @module
 */
import fc from "fast-check";
import { Prng } from "./prng.ts";

/** The shape of a value, merged over examples. */
export type Shape =
  | { kind: "null" }
  | { kind: "boolean" }
  | { kind: "number"; integer: boolean; min: number; max: number }
  | { kind: "string"; lengthMax: number; alphabet: string[]; values: string[] }
  | { kind: "array"; item: Shape; lengthMax: number }
  | { kind: "object"; fields: Record<string, Shape>; required: string[] }
  | { kind: "union"; options: Shape[] }
  | { kind: "any" };

/** Distinct string values kept per string shape (beyond this, the field is free text). */
export const SHAPE_STRING_VALUES_MAX = 16;
/** Distinct characters kept per string shape. */
export const SHAPE_ALPHABET_CHARS_MAX = 64;
/** Alternatives of one union shape. */
export const SHAPE_UNION_OPTIONS_MAX = 4;
/** Depth a shape, a walk over a value or a generated value goes to. */
export const SHAPE_DEPTH_MAX = 8;
/** Size of a "huge" edge-case value (array elements, string characters). */
export const EDGE_HUGE_SIZE = 20_000;
/** Nesting of a "deeply nested" edge-case value. */
export const EDGE_NESTING_DEPTH = 200;
/** Shrink steps offered for one value. */
export const SHRINK_STEPS_MAX = 40;

function kindOf(value: unknown): Shape["kind"] {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "array";
  const t = typeof value;
  if (t === "boolean" || t === "number" || t === "string") return t as Shape["kind"];
  return t === "object" ? "object" : "any";
}

/**
 * The shape of one value.
 *
 * @param value Any msgpack-able value.
 * @returns Its shape.
 */
export function shapeOf(value: unknown, depth = 0): Shape {
  if (depth > SHAPE_DEPTH_MAX) return { kind: "any" };
  switch (kindOf(value)) {
    case "null":
      return { kind: "null" };
    case "boolean":
      return { kind: "boolean" };
    case "number": {
      const n = value as number;
      const finite = Number.isFinite(n) ? n : 0;
      return { kind: "number", integer: Number.isInteger(n), min: finite, max: finite };
    }
    case "string": {
      const s = value as string;
      const alphabet = [...new Set([...s])].slice(0, SHAPE_ALPHABET_CHARS_MAX);
      return { kind: "string", lengthMax: s.length, alphabet, values: [s] };
    }
    case "array": {
      const items = value as unknown[];
      const item = items.length === 0
        ? { kind: "any" } as Shape
        : items.map((v) => shapeOf(v, depth + 1)).reduce((a, b) => mergeShapes(a, b));
      return { kind: "array", item, lengthMax: items.length };
    }
    case "object": {
      const fields: Record<string, Shape> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        fields[k] = shapeOf(v, depth + 1);
      }
      return { kind: "object", fields, required: Object.keys(fields) };
    }
    default:
      return { kind: "any" };
  }
}

/**
 * Merges two shapes: the same kind widens (ranges, lengths, alphabets, fields, with fields missing from
 * either side optional); different kinds make a union.
 */
export function mergeShapes(a: Shape, b: Shape): Shape {
  if (a.kind === "any") return b;
  if (b.kind === "any") return a;
  if (a.kind === "union" || b.kind === "union") {
    const options = [...(a.kind === "union" ? a.options : [a])];
    for (const o of b.kind === "union" ? b.options : [b]) {
      const at = options.findIndex((x) => x.kind === o.kind);
      if (at >= 0) options[at] = mergeShapes(options[at], o);
      else if (options.length < SHAPE_UNION_OPTIONS_MAX) options.push(o);
    }
    return options.length === 1 ? options[0] : { kind: "union", options };
  }
  if (a.kind !== b.kind) return { kind: "union", options: [a, b] };
  if (a.kind === "number" && b.kind === "number") {
    return {
      kind: "number",
      integer: a.integer && b.integer,
      min: Math.min(a.min, b.min),
      max: Math.max(a.max, b.max),
    };
  }
  if (a.kind === "string" && b.kind === "string") {
    return {
      kind: "string",
      lengthMax: Math.max(a.lengthMax, b.lengthMax),
      alphabet: [...new Set([...a.alphabet, ...b.alphabet])].slice(0, SHAPE_ALPHABET_CHARS_MAX),
      values: [...new Set([...a.values, ...b.values])].slice(0, SHAPE_STRING_VALUES_MAX + 1),
    };
  }
  if (a.kind === "array" && b.kind === "array") {
    return {
      kind: "array",
      item: mergeShapes(a.item, b.item),
      lengthMax: Math.max(a.lengthMax, b.lengthMax),
    };
  }
  if (a.kind === "object" && b.kind === "object") {
    const fields: Record<string, Shape> = { ...a.fields };
    for (const [k, s] of Object.entries(b.fields)) fields[k] = k in fields ? mergeShapes(fields[k], s) : s;
    const required = a.required.filter((k) => b.required.includes(k));
    return { kind: "object", fields, required };
  }
  return a;
}

/**
 * The declared input shape of an agent, inferred from its evals' inputs.
 *
 * @param inputs The inputs of the evals (and any other known-good inputs).
 * @returns The merged shape (`any` when there is none).
 */
export function inferShape(inputs: readonly unknown[]): Shape {
  return inputs.map((i) => shapeOf(i)).reduce((a, b) => mergeShapes(a, b), { kind: "any" } as Shape);
}

/** A short type skeleton of a value, e.g. `{text:string}` or `{xs:number[]}`: inputs of one shape class. */
export function shapeKey(value: unknown, depth = 0): string {
  if (depth > 3) return "…";
  const k = kindOf(value);
  if (k === "array") {
    const items = value as unknown[];
    const inner = [...new Set(items.slice(0, 8).map((v) => shapeKey(v, depth + 1)))].sort().join("|");
    return `${inner || "any"}[]`;
  }
  if (k === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a < b ? -1 : 1);
    return `{${entries.slice(0, 16).map(([f, v]) => `${f}:${shapeKey(v, depth + 1)}`).join(",")}}`;
  }
  return k;
}

/** A plain deep copy: null-prototype objects become plain ones, NaN and infinities survive. */
export function plain(value: unknown, depth = 0): unknown {
  if (depth > EDGE_NESTING_DEPTH + 8) return null;
  if (Array.isArray(value)) return value.map((v) => plain(v, depth + 1));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v, depth + 1);
    return out;
  }
  return value === undefined ? null : value;
}

function numberArb(s: Extract<Shape, { kind: "number" }>): fc.Arbitrary<number> {
  const span = Math.max(10, Math.abs(s.min), Math.abs(s.max)) * 2;
  const ints = fc.integer({ min: -Math.ceil(span), max: Math.ceil(span) });
  const small = fc.integer({ min: -3, max: 3 });
  const fractions = fc.integer({ min: -100 * Math.ceil(span), max: 100 * Math.ceil(span) }).map((n) =>
    n / 100
  );
  return s.integer
    ? fc.oneof({ arbitrary: small, weight: 2 }, { arbitrary: ints, weight: 6 }, {
      arbitrary: fractions,
      weight: 1,
    })
    : fc.oneof({ arbitrary: small, weight: 2 }, { arbitrary: fractions, weight: 6 }, {
      arbitrary: ints,
      weight: 1,
    });
}

function stringArb(s: Extract<Shape, { kind: "string" }>): fc.Arbitrary<string> {
  const maxLength = Math.max(4, 2 * s.lengthMax);
  const options: fc.Arbitrary<string>[] = [fc.string({ maxLength })];
  if (s.alphabet.length > 0) options.push(fc.string({ unit: fc.constantFrom(...s.alphabet), maxLength }));
  if (s.values.length > 0 && s.values.length <= SHAPE_STRING_VALUES_MAX) {
    options.push(fc.constantFrom(...s.values), fc.constantFrom(...s.values));
  }
  return fc.oneof(...options);
}

/**
 * A fast-check arbitrary of values of a shape: values seen in the evals and values near them, lengths
 * up to twice the longest seen, numbers of the same class (integer or not) mostly.
 */
export function arbitraryOf(shape: Shape, depth = 0): fc.Arbitrary<unknown> {
  if (depth > SHAPE_DEPTH_MAX) return fc.constant(null);
  switch (shape.kind) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "number":
      return numberArb(shape);
    case "string":
      return stringArb(shape);
    case "array":
      return fc.array(arbitraryOf(shape.item, depth + 1), { maxLength: Math.max(8, 2 * shape.lengthMax) });
    case "object": {
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, s] of Object.entries(shape.fields)) model[k] = arbitraryOf(s, depth + 1);
      return fc.record(model, { requiredKeys: shape.required });
    }
    case "union":
      return fc.oneof(...shape.options.map((o) => arbitraryOf(o, depth + 1)));
    case "any":
      return fc.oneof(fc.constant(null), fc.integer({ min: -10, max: 10 }), fc.string({ maxLength: 8 }));
  }
}

/**
 * Values of a shape drawn by fast-check from a seed (the same seed gives the same values).
 *
 * @param shape The shape.
 * @param count How many.
 * @param seed A 32-bit seed.
 */
export function generate(shape: Shape, count: number, seed: number): unknown[] {
  if (count <= 0) return [];
  return fc.sample(arbitraryOf(shape), { seed: seed | 0, numRuns: count }).map((v) => plain(v));
}

/** Edge values of one leaf kind. */
function edgeValues(shape: Shape): unknown[] {
  switch (shape.kind) {
    case "number":
      return [0, -0, -1, 1, -1e9, 1e9, Number.MAX_SAFE_INTEGER, 0.5, -0.25, NaN, Infinity, -Infinity];
    case "string":
      return [
        "",
        " ",
        "é",
        "日本語",
        "🙂🙂",
        "\u0000",
        "a\nb",
        "x".repeat(EDGE_HUGE_SIZE),
        ...shape.alphabet.filter((c) => /[^\p{L}\p{N}]/u.test(c)).flatMap((c) => [c, c.repeat(3)]),
      ];
    case "boolean":
      return [true, false];
    case "array": {
      const one = exampleOf(shape.item);
      return [[], [one], Array.from({ length: EDGE_HUGE_SIZE }, () => one), ...nested(shape)];
    }
    case "object":
      return [];
    case "union":
      return shape.options.flatMap(edgeValues);
    default:
      return [null, nestedArray(EDGE_NESTING_DEPTH)];
  }
}

function nestedArray(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** A deeply nested value, where the shape nests arrays in arrays. */
function nested(shape: Extract<Shape, { kind: "array" }>): unknown[] {
  return shape.item.kind === "array" || shape.item.kind === "any" ? [nestedArray(EDGE_NESTING_DEPTH)] : [];
}

/** A small value of a shape (the first seen string, the smallest number, one item). */
export function exampleOf(shape: Shape, depth = 0): unknown {
  if (depth > SHAPE_DEPTH_MAX) return null;
  switch (shape.kind) {
    case "number":
      return shape.integer ? Math.round(shape.min) : shape.min;
    case "string":
      return shape.values[0] ?? "a";
    case "boolean":
      return true;
    case "array":
      return [exampleOf(shape.item, depth + 1)];
    case "object":
      return Object.fromEntries(Object.entries(shape.fields).map(([k, s]) => [k, exampleOf(s, depth + 1)]));
    case "union":
      return exampleOf(shape.options[0], depth + 1);
    default:
      return null;
  }
}

/**
 * Edge-case seeds: the base inputs with one leaf at a time replaced by an edge value of its kind (empty,
 * huge, unicode, NaN, infinities, negative, zero, deeply nested), plus whole-input edges.
 *
 * @param shape The input shape.
 * @param bases Known inputs to vary (the evals' inputs).
 * @returns Conforming inputs, deduplicated.
 */
export function edgeSeeds(shape: Shape, bases: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  const seen = new Set<string>();
  const add = (v: unknown) => {
    const key = keyOf(v);
    if (!seen.has(key)) (seen.add(key), out.push(v));
  };
  const base = bases[0] ?? exampleOf(shape);
  for (const [path, leaf] of leafPaths(shape)) {
    for (const edge of edgeValues(leaf)) add(setAt(base, path, edge));
  }
  if (shape.kind !== "object") { for (const edge of edgeValues(shape)) add(edge); }
  return out;
}

/** The leaf (non-object) positions of a shape: paths of keys from the root. */
function leafPaths(shape: Shape, path: string[] = [], depth = 0): [string[], Shape][] {
  if (shape.kind !== "object" || depth > SHAPE_DEPTH_MAX) return path.length > 0 ? [[path, shape]] : [];
  return Object.entries(shape.fields).flatMap(([k, s]) => leafPaths(s, [...path, k], depth + 1));
}

function setAt(value: unknown, path: readonly string[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const obj = (typeof value === "object" && value !== null && !Array.isArray(value) ? value : {}) as Record<
    string,
    unknown
  >;
  return { ...obj, [path[0]]: setAt(obj[path[0]], path.slice(1), leaf) };
}

/** A stable text key of a value (NaN and infinities kept apart from null). */
export function keyOf(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) => typeof v === "number" && !Number.isFinite(v) ? `#${v}` : Object.is(v, -0) ? "#-0" : v,
  ) ?? "undefined";
}

/**
 * One seeded mutation of a past input: a leaf changed (numbers ±1, ×2, negated, zeroed; strings with a
 * character inserted, dropped or repeated), an array element dropped, repeated or the order reversed.
 */
export function mutateInput(value: unknown, prng: Prng, alphabet: readonly string[] = ["a", " "]): unknown {
  const v = plain(value);
  const spots = positions(v);
  if (spots.length === 0) return v;
  const path = prng.pick(spots);
  const target = getAt(v, path);
  return replaceAt(v, path, mutateLeaf(target, prng, alphabet));
}

function mutateLeaf(v: unknown, prng: Prng, alphabet: readonly string[]): unknown {
  if (typeof v === "number") return prng.pick([v + 1, v - 1, v * 2, -v, 0, v / 2]);
  if (typeof v === "string") {
    const i = prng.int(v.length + 1);
    const c = prng.pick(alphabet.length > 0 ? alphabet : ["a"]);
    return prng.pick([v.slice(0, i) + c + v.slice(i), v.slice(0, i) + v.slice(i + 1), v + v, v.trim(), ""]);
  }
  if (Array.isArray(v)) {
    const i = prng.int(Math.max(1, v.length));
    return prng.pick([
      v.slice(0, i).concat(v.slice(i + 1)),
      v.length > 0 ? [...v, v[i]] : v,
      v.slice().reverse(),
      v.concat(v),
    ]);
  }
  if (typeof v === "boolean") return !v;
  return v;
}

/** Paths to every node of a value (bounded). */
function positions(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = []) {
  if (out.length > 256 || path.length > SHAPE_DEPTH_MAX) return out;
  out.push(path);
  if (Array.isArray(value)) value.slice(0, 16).forEach((v, i) => positions(v, [...path, i], out));
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) positions(v, [...path, k], out);
  }
  return out;
}

function getAt(value: unknown, path: readonly (string | number)[]): unknown {
  let v = value;
  for (const k of path) v = (v as Record<string | number, unknown>)?.[k];
  return v;
}

function replaceAt(value: unknown, path: readonly (string | number)[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const [k, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = value.slice();
    copy[k as number] = replaceAt(copy[k as number], rest, leaf);
    return copy;
  }
  const obj = value as Record<string, unknown>;
  return { ...obj, [k]: replaceAt(obj[k as string], rest, leaf) };
}

/**
 * Crossover of two past inputs of one shape: a field (or an array's tail) of one replaced by the other's.
 */
export function crossInputs(a: unknown, b: unknown, prng: Prng): unknown {
  if (Array.isArray(a) && Array.isArray(b)) {
    const i = prng.int(a.length + 1);
    const j = prng.int(b.length + 1);
    return plain([...a.slice(0, i), ...b.slice(j)]);
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(b).filter((k) => k in a);
    if (keys.length === 0) return plain(a);
    const k = prng.pick(keys);
    return plain({ ...a, [k]: prng.chance(0.5) ? b[k] : crossInputs(a[k], b[k], prng) });
  }
  return plain(prng.chance(0.5) ? a : b);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The size of a value, for shrinking: a shrink step is always strictly smaller, so shrinking ends.
 */
export function sizeOf(value: unknown, depth = 0): number {
  if (depth > EDGE_NESTING_DEPTH + 8) return 1;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return 40;
    return 1 + Math.log10(1 + Math.abs(value)) + (Number.isInteger(value) ? 0 : 1) + (value < 0 ? 0.5 : 0);
  }
  if (typeof value === "string") {
    let n = 1;
    for (const c of value) n += /[ -~]/.test(c) ? 1 : 2;
    return n;
  }
  if (Array.isArray(value)) return value.reduce((s: number, v) => s + sizeOf(v, depth + 1), 1);
  if (isRecord(value)) return Object.values(value).reduce((s: number, v) => s + sizeOf(v, depth + 1), 1);
  return 1;
}

/** Smaller variants of one leaf or container, structural reductions first. */
function shrinkSteps(v: unknown, depth: number): unknown[] {
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return [0, 1];
    return [0, Math.trunc(v), Math.trunc(v / 2), Math.abs(v), 1, v < 0 ? -1 : 1];
  }
  if (typeof v === "string") {
    const half = Math.floor(v.length / 2);
    const out: unknown[] = ["", v.slice(0, half), v.slice(half)];
    if (v.length <= 24) { for (let i = 0; i < v.length; i++) out.push(v.slice(0, i) + v.slice(i + 1)); }
    out.push(v.replace(/[^ -~]/g, "a"));
    return out;
  }
  if (Array.isArray(v)) {
    const half = Math.floor(v.length / 2);
    const out: unknown[] = [[], v.slice(0, half), v.slice(half)];
    if (v.length <= 24) {
      for (let i = 0; i < v.length; i++) out.push([...v.slice(0, i), ...v.slice(i + 1)]);
    }
    if (depth < SHAPE_DEPTH_MAX) {
      v.slice(0, 12).forEach((item, i) => {
        for (const s of shrinkSteps(item, depth + 1).slice(0, 4)) out.push(v.map((x, j) => j === i ? s : x));
      });
    }
    return out;
  }
  if (isRecord(v) && depth < SHAPE_DEPTH_MAX) {
    const out: unknown[] = [];
    for (const [k, x] of Object.entries(v)) {
      for (const s of shrinkSteps(x, depth + 1)) out.push({ ...v, [k]: s });
    }
    return out;
  }
  return [];
}

/**
 * Shrink steps of a failing input: strictly smaller variants, deduplicated, at most
 * {@link SHRINK_STEPS_MAX}, structural reductions (dropping elements, halving) before leaf ones.
 *
 * @param value The failing input.
 * @returns Candidates to test; the smallest one that still fails the same way replaces the input.
 */
export function shrinkCandidates(value: unknown): unknown[] {
  const size = sizeOf(value);
  const seen = new Set<string>([keyOf(value)]);
  const out: unknown[] = [];
  for (const s of shrinkSteps(value, 0)) {
    const key = keyOf(s);
    if (seen.has(key) || sizeOf(s) >= size) continue;
    seen.add(key);
    out.push(plain(s));
    if (out.length >= SHRINK_STEPS_MAX) break;
  }
  return out.sort((a, b) => sizeOf(a) - sizeOf(b));
}

/**
 * Features of an input, for grouping inputs into classes (feedback learning, auto-fix root causes,
 * failure signatures): per field, the kind and, by kind, the value of short strings (categories), the
 * emptiness, length class and parity of arrays and strings, the sign and class of numbers, and the
 * punctuation a string starts or ends with or repeats.
 *
 * @param input An input.
 * @returns Sorted feature names such as `lang=fr`, `xs:len=even`, `text:ends=;`.
 */
export function features(input: unknown): string[] {
  const out = new Set<string>();
  walkFeatures(input, "", out, 0);
  return [...out].sort();
}

function walkFeatures(v: unknown, path: string, out: Set<string>, depth: number): void {
  const at = path || "input";
  if (depth > 3 || out.size > 128) return;
  if (v === null || v === undefined) out.add(`${at}:null`);
  else if (typeof v === "number") {
    out.add(
      !Number.isFinite(v) ? `${at}:nonfinite` : v < 0 ? `${at}:neg` : v === 0 ? `${at}:zero` : `${at}:pos`,
    );
    if (Number.isFinite(v) && !Number.isInteger(v)) out.add(`${at}:frac`);
  } else if (typeof v === "boolean") out.add(`${at}=${v}`);
  else if (typeof v === "string") stringFeatures(v, at, out);
  else if (Array.isArray(v)) {
    out.add(`${at}:len=${lengthClass(v.length)}`);
    if (v.length > 0) out.add(`${at}:len=${v.length % 2 === 0 ? "even" : "odd"}`);
    if (v.some((x) => typeof x === "number" && !Number.isFinite(x))) out.add(`${at}:has-nonfinite`);
    if (v.some((x) => typeof x === "number" && x < 0)) out.add(`${at}:has-neg`);
  } else if (typeof v === "object") {
    for (const [k, x] of Object.entries(v)) walkFeatures(x, path ? `${path}.${k}` : k, out, depth + 1);
  }
}

function stringFeatures(s: string, at: string, out: Set<string>): void {
  if (s.length === 0) return void out.add(`${at}:empty`);
  if (s.length <= 12 && !/\s/.test(s)) out.add(`${at}=${s}`);
  out.add(`${at}:len=${lengthClass(s.length)}`);
  if (/[^ -~]/.test(s)) out.add(`${at}:nonascii`);
  if (s.trim().length === 0) out.add(`${at}:blank`);
  const first = s[0];
  const last = s[s.length - 1];
  if (/[^\p{L}\p{N}]/u.test(first)) out.add(`${at}:starts=${first}`);
  if (/[^\p{L}\p{N}]/u.test(last)) out.add(`${at}:ends=${last}`);
  for (const m of s.matchAll(/([^\p{L}\p{N}\s])\1/gu)) out.add(`${at}:has=${m[0]}`);
  // Structured text ("k=v;k=v", "a:1,b:2"): a part between separators that lacks its key mark.
  for (const sep of STRUCTURE_SEPARATORS) {
    for (const mark of STRUCTURE_MARKS) {
      if (!s.includes(sep) && !s.includes(mark)) continue;
      if (s.split(sep).some((part) => !part.includes(mark))) out.add(`${at}:part(${sep})-without(${mark})`);
    }
  }
}

/** Separators and key marks of structured text, for the `part(;)-without(=)` features. */
const STRUCTURE_SEPARATORS = [";", ",", "&"];
const STRUCTURE_MARKS = ["=", ":"];

function lengthClass(n: number): string {
  return n === 0 ? "0" : n === 1 ? "1" : n <= 8 ? "2-8" : n <= 64 ? "9-64" : "65+";
}

/** A failure message with numbers and quoted parts blanked, so one bug gives one signature. */
export function normalizeMessage(message: string): string {
  return message.replace(/\d+(\.\d+)?/g, "N").replace(/(["'`]).*?\1/g, "$1…$1").slice(0, 160);
}

/** A new seed from a run seed and a label (FNV-1a), for reproducible sub-streams. */
export function subSeed(seed: string | number, label: string): number {
  let h = 0x811c9dc5;
  for (const c of `${seed}/${label}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h | 0;
}

/** A seeded {@link Prng} for a sub-stream. */
export function subPrng(seed: string | number, label: string): Prng {
  return Prng.seeded(subSeed(seed, label));
}
