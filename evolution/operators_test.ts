import { ok, strictEqual } from "node:assert";
import { parseGenome } from "./genome.ts";
import {
  crossover,
  functionReplace,
  logicBranch,
  mutate,
  paramTweak,
  pruneUnreachable,
} from "./operators.ts";
import { Prng } from "./prng.ts";

const SORTER = Deno.readTextFileSync(new URL("../examples/agents/sorter.ts", import.meta.url));
const EVALS_AND_NAME = SORTER.slice(SORTER.indexOf('  name: "sorter"'));

function protectedPartKept(source: string): boolean {
  // name, version, doc and evals follow handle; check the spec's head and the evals block survive as written.
  return source.includes('name: "sorter",\n  version: "1.0.0",') &&
    source.includes(EVALS_AND_NAME.slice(EVALS_AND_NAME.indexOf("  evals:")));
}

Deno.test("operators are deterministic for one seed", () => {
  const g = parseGenome(SORTER);
  for (const seed of [1, 2, 3]) {
    const a = mutate(g, [], Prng.seeded(seed));
    const b = mutate(g, [], Prng.seeded(seed));
    strictEqual(a?.source, b?.source);
  }
});

Deno.test("operators never touch name, version or evals and never return the parent", () => {
  const g = parseGenome(SORTER);
  const prng = Prng.seeded(7);
  let made = 0;
  for (let i = 0; i < 40; i++) {
    const child = mutate(g, [], prng);
    if (child === null) continue;
    made++;
    ok(child.source !== SORTER);
    ok(protectedPartKept(child.source), `${child.detail} changed a protected part`);
  }
  ok(made >= 30, `only ${made} of 40 children`);
});

Deno.test("paramTweak() changes one literal", () => {
  const child = paramTweak(parseGenome(SORTER), Prng.seeded(1));
  ok(child !== null && child.operator === "param_tweak");
});

Deno.test("logicBranch() edits a comparison, condition, branch, return or loop bound", () => {
  const seen = new Set<string>();
  const g = parseGenome(SORTER);
  for (let s = 0; s < 40; s++) seen.add(logicBranch(g, Prng.seeded(s))!.detail.split(":")[1]);
  for (const kind of ["flip", "negate", "swap", "early_return", "loop_bound"]) ok(seen.has(kind), kind);
});

Deno.test("functionReplace() can put an efficient sort snippet in place of sortNumbers", () => {
  const g = parseGenome(SORTER);
  const details = new Set<string>();
  for (let s = 0; s < 40; s++) details.add(functionReplace(g, [], Prng.seeded(s))?.detail ?? "none");
  ok(details.has("function_replace:snippet:native_sort_numbers:sortNumbers"));
  ok(details.has("function_replace:snippet:typed_sort_numbers:sortNumbers"));
});

Deno.test("crossover() moves a same-kind subtree from the other parent", () => {
  const g = parseGenome(SORTER);
  const other = parseGenome(functionReplace(g, [], Prng.seeded(4))!.source);
  const child = crossover(g, other, Prng.seeded(1));
  ok(child !== null && child.operator === "crossover" && child.source !== SORTER);
});

Deno.test("pruneUnreachable() drops statements after a jump and keeps hoisted declarations", () => {
  const source = `function f(x: number): number {
  if (x > 1) {
    return 1;
    x++;
  }
  return x;
  return 2;
  function g() {}
}
`;
  const pruned = pruneUnreachable(source);
  ok(!pruned.includes("x++") && !pruned.includes("return 2"));
  ok(pruned.includes("function g() {}") && pruned.includes("return x;"));
  strictEqual(pruneUnreachable(SORTER), SORTER);
});
