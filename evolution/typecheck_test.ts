import { ok, strictEqual } from "node:assert";
import { TypeChecker } from "./typecheck.ts";

const SORTER = Deno.readTextFileSync(new URL("../examples/agents/sorter.ts", import.meta.url));
const checker = new TypeChecker();

Deno.test("TypeChecker.check() accepts the shipped sorter against the @o/agent types", () => {
  strictEqual(checker.check(SORTER).length, 0);
});

Deno.test("TypeChecker.check() reports a type error with its line and column", () => {
  const bad = SORTER.replace("const t = next[i];", "const t: string = next[i];");
  const d = checker.check(bad);
  ok(d.length > 0);
  strictEqual(d[0].code, 2322);
  strictEqual(d[0].line, 13);
  strictEqual(d[0].column, 15);
});

Deno.test("TypeChecker.check() checks against the DSL: a spec without handle fails", () => {
  const d = checker.check(
    `import { defineAgent } from "@o/agent";\nexport default defineAgent({ name: "x", version: "1" });`,
  );
  ok(d.some((x) => x.code === 2345));
});

Deno.test("TypeChecker.check() takes milliseconds once warm", () => {
  checker.check(SORTER);
  const started = performance.now();
  for (let i = 0; i < 10; i++) checker.check(SORTER.replace("pass++", i % 2 ? "pass += 1" : "pass++"));
  const ms = (performance.now() - started) / 10;
  ok(ms < 100, `${ms.toFixed(1)} ms per check`);
});
