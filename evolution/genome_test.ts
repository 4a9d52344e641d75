import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { GenomeError } from "./errors.ts";
import { normalizedHash, parseGenome, printGenome, regionNodes } from "./genome.ts";

const SORTER = Deno.readTextFileSync(new URL("../examples/agents/sorter.ts", import.meta.url));

Deno.test("parseGenome() prints an unchanged genome back to its exact source", () => {
  const g = parseGenome(SORTER);
  strictEqual(printGenome(g), SORTER);
});

Deno.test("parseGenome() finds the functions the agent can reach, never name, version or evals", () => {
  const g = parseGenome(SORTER);
  deepStrictEqual(g.regions.map((r) => r.name), ["sortNumbers", "handle"]);
  strictEqual(g.targets, null);
  const literals = regionNodes(g).filter(({ visit }) => visit.node.type === "StringLiteral").map((n) =>
    n.visit.node.value
  );
  ok(!literals.includes("sorter") && !literals.includes("1.0.0"));
});

Deno.test("parseGenome() honours evolve.targets", () => {
  const source = `import { defineAgent } from "@o/agent";
const LIMIT = 3;
function a(x: number): number { return x + LIMIT; }
function b(x: number): number { return x * 2; }
export default defineAgent({
  name: "t", version: "1",
  handle: (ctx) => a(b(Number(ctx.input))),
  evolve: { targets: ["b", "LIMIT"] },
});`;
  const g = parseGenome(source);
  deepStrictEqual(g.targets, ["b", "LIMIT"]);
  deepStrictEqual(g.regions.map((r) => `${r.kind}:${r.name}`), ["value:LIMIT", "function:b"]);
});

Deno.test("parseGenome() rejects a module without defineAgent and a syntax error", () => {
  throws(
    () => parseGenome("export const x = 1;"),
    (e) => e instanceof GenomeError && e.code === "GENOME_NO_AGENT",
  );
  throws(
    () => parseGenome("export default defineAgent({"),
    (e) => e instanceof GenomeError && e.code === "GENOME_PARSE",
  );
});

Deno.test("normalizedHash() ignores layout and comments but not code", () => {
  const reformatted = SORTER.replace(/\n\s+/g, "\n").replace("/**", "/** extra words");
  strictEqual(normalizedHash(reformatted), normalizedHash(SORTER));
  ok(
    normalizedHash(SORTER.replace("i + 1 < next.length", "i + 1 <= next.length")) !== normalizedHash(SORTER),
  );
});
