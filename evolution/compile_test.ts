import { ok, strictEqual } from "node:assert";
import * as sdk from "../agent/mod.ts";
import { compileAgent } from "./compile.ts";

const SORTER = Deno.readTextFileSync(new URL("../examples/agents/sorter.ts", import.meta.url));
const AsyncFunction = (async () => {}).constructor as new (
  p: string,
  b: string,
) => (s: unknown) => Promise<Record<string, unknown>>;
type Agent = { handle: (ctx: unknown) => unknown };
const ctx = (items: number[]) => ({ arg: () => items });

Deno.test("compileAgent() makes a function form that runs like the module and keeps line numbers", async () => {
  const plain = compileAgent(SORTER, { count: false })!;
  strictEqual(plain.form, "function");
  strictEqual(plain.code.split("\n").length, SORTER.split("\n").length + 2);
  const mod = await new AsyncFunction("__oSdk", plain.code)(sdk);
  strictEqual((mod.default as { kind: string }).kind, "agent");
  strictEqual(String((mod.default as Agent).handle(ctx([3, 1, 2]))), "1,2,3");
});

Deno.test("compileAgent() counts work deterministically and enforces the budget", async () => {
  const counted = compileAgent(SORTER, { count: true })!;
  const mod = await new AsyncFunction("__oSdk", counted.code)(sdk);
  const work = mod.__oWork as (budget: number) => number;
  const handle = (mod.default as Agent).handle;
  const run = () => (work(Infinity), handle(ctx([5, 4, 3, 2, 1])), work(Infinity));
  const first = run();
  ok(first > 10);
  strictEqual(run(), first);
  work(5);
  let threw = false;
  try {
    handle(ctx([5, 4, 3, 2, 1]));
  } catch (e) {
    threw = e instanceof RangeError && e.message === "work budget exceeded";
  }
  ok(threw, "a run past its budget throws");
});

Deno.test("compileAgent() keeps module form for TypeScript that needs a transform", () => {
  const withEnum = SORTER.replace(
    'import { defineAgent } from "@o/agent";',
    'import { defineAgent } from "@o/agent";\nenum E { A }',
  );
  const m = compileAgent(withEnum, { count: true })!;
  strictEqual(m.form, "module");
  ok(m.code.includes("export function __oWork"));
  strictEqual(compileAgent("export default {", { count: false }), null);
});

Deno.test("compileAgent() strips types, optional parameters and assertions", async () => {
  const source = `import { defineAgent as d } from "@o/agent";
interface Box { n?: number }
type T = number;
function f<X>(x: X, y?: T): X { return (x as unknown as X)!; }
export const k: T = 1;
export default d({ name: "t", version: "1", handle: (c) => f<number>((c.input as Box).n ?? k) satisfies number });`;
  const c = compileAgent(source, { count: false })!;
  strictEqual(c.form, "function");
  const mod = await new AsyncFunction("__oSdk", c.code)(sdk);
  strictEqual((mod.default as Agent).handle({ input: { n: 7 } }), 7);
});
