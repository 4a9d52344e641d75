import { deepStrictEqual, strictEqual } from "node:assert";
import { prefilter, type PrefilterRule } from "./prefilter.ts";

function rules(source: string): PrefilterRule[] {
  const r = prefilter(source);
  return r.ok ? [] : r.violations.map((v) => v.rule);
}

Deno.test("prefilter() accepts an agent that imports only @o/agent", () => {
  const source = `import { defineAgent, when } from "@o/agent";
import type { Context } from "@o/agent";
class Counter { n = 0; constructor() { this.n = 1; } add() { return this.n++; } }
export default defineAgent({
  name: "a",
  version: "1.0.0",
  init: () => ({ keys: [] as string[] }),
  handle: async (ctx: Context) => when(true, () => ({ process: ctx.input, c: new Counter().add() })),
});\n`;
  deepStrictEqual(prefilter(source), { ok: true });
});

const REJECTED: [string, PrefilterRule][] = [
  [`import x from "./secret.txt" with { type: "text" };`, "import-attributes"],
  [`import fs from "node:fs";`, "import-not-allowed"],
  [`export * from "./other.ts";`, "import-not-allowed"],
  [`export { a } from "npm:left-pad";`, "import-not-allowed"],
  [`import x = require("fs");`, "import-not-allowed"],
  [`type T = typeof import("node:fs");`, "import-not-allowed"],
  [`const m = await import("file:///etc/passwd");`, "dynamic-import"],
  [`console.log(import.meta.url);`, "import-meta"],
  [`Deno.readTextFileSync("/etc/passwd");`, "deno-namespace"],
  [`const { env } = Deno;`, "deno-namespace"],
  [`globalThis.Deno.exit();`, "deno-namespace"],
  [`(0, eval)("1");`, "eval"],
  [`new Function("return this")();`, "function-constructor"],
  [`(() => 1).constructor("return this")();`, "function-constructor"],
  [`x["constructor"];`, "function-constructor"],
  [`globalThis["De" + "no"];`, "global-object"],
  [`const g = globalThis;`, "global-object"],
  [`self[k];`, "global-object"],
  [`globalThis.fetch("http://x");`, "forbidden-global"],
  [`new WebAssembly.Memory({ initial: 1 });`, "forbidden-global"],
  [`new Worker("data:,");`, "forbidden-global"],
  [`new SharedArrayBuffer(8);`, "forbidden-global"],
  [`Atomics.wait(a, 0, 0);`, "forbidden-global"],
  [`process.env.HOME;`, "forbidden-global"],
  [`localStorage.getItem("k");`, "forbidden-global"],
  [`setTimeout("Deno.exit()", 1);`, "string-timer"],
  [`setTimeout(function () { return this; }, 1);`, "function-this"],
  [`/// <reference path="/etc/passwd" />\nexport default 1;`, "type-pragma"],
  [`// @ts-types="./x.d.ts"\nexport default 1;`, "type-pragma"],
  [`const a = ;`, "parse"],
];

for (const [source, rule] of REJECTED) {
  Deno.test(`prefilter() rejects ${rule}: ${source.split("\n")[0].slice(0, 50)}`, () => {
    const found = rules(source);
    strictEqual(found.includes(rule), true, `${rule} not in ${found.join(",")}`);
  });
}

Deno.test("prefilter() names the rule and a 1-based line:column in each message", () => {
  const r = prefilter(`const a = 1;\n  Deno.exit(0);\n`);
  strictEqual(r.ok, false);
  if (r.ok) return;
  deepStrictEqual(r.violations[0], {
    rule: "deno-namespace",
    line: 2,
    column: 3,
    message: "deno-namespace at 2:3: the `Deno` namespace is not available to agent code: `Deno`",
  });
});

Deno.test("prefilter() reports every violation in source order", () => {
  const r = prefilter(`eval("1");\nimport x from "node:fs";\nDeno.pid;\n`);
  strictEqual(r.ok, false);
  if (r.ok) return;
  deepStrictEqual(r.violations.map((v) => [v.rule, v.line]), [
    ["eval", 1],
    ["import-not-allowed", 2],
    ["deno-namespace", 3],
  ]);
});

Deno.test("prefilter() allows ordinary property names that shadow globals on ordinary objects", () => {
  deepStrictEqual(prefilter(`export default (input: { fetch: number; process: string }) => input.fetch;`), {
    ok: true,
  });
});

Deno.test("prefilter() refuses a source over the size bound without parsing it", () => {
  const r = prefilter("x".repeat(2 * 1024 * 1024));
  strictEqual(r.ok, false);
  if (!r.ok) strictEqual(r.violations[0].rule, "source-too-large");
});

Deno.test("prefilter() accepts every shipped example agent", () => {
  const dir = new URL("../examples/agents/", import.meta.url);
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.endsWith(".ts")) continue;
    const r = prefilter(Deno.readTextFileSync(new URL(entry.name, dir)));
    deepStrictEqual(r, { ok: true }, entry.name);
  }
});
