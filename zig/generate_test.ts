/**
 * Generated modules: parameter validation, template filling, the sandboxed compile with structured
 * diagnostics, and the twin comparison that returns evidence.
 */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import {
  compareKernelWithTwin,
  compileModule,
  fillTemplate,
  generateNumericKernel,
  numericKernelTwin,
  parseDiagnostics,
  TemplateParamError,
  validateKernelParams,
} from "./generate.ts";

Deno.test("validateKernelParams() fills defaults and reports every invalid parameter", () => {
  deepStrictEqual(validateKernelParams({ name: "k" }), {
    name: "k",
    version: "1.0.0",
    ops: ["sum", "dot", "sort"],
    unroll: 4,
    accumulate: "lanes",
    sortOrder: "asc",
    elementsMax: 10_000_000,
  });
  throws(() => validateKernelParams({ name: "Bad-Name", unroll: 3, ops: ["sum", "fft"], extra: 1 }), (e) => {
    ok(e instanceof TemplateParamError);
    deepStrictEqual(e.issues.map((i) => i.param).sort(), ["extra", "name", "ops", "unroll"]);
    return true;
  });
  // A name is pasted into Zig source: anything but the identifier pattern is refused.
  throws(() => validateKernelParams({ name: 'x"; @import("std")' }), TemplateParamError);
});

Deno.test("fillTemplate() keeps or drops nested sections and refuses unfilled placeholders", () => {
  const t = "a{{#x}}\nX{{#y}}Y{{/y}}{{/x}}\n{{v}}";
  strictEqual(fillTemplate(t, { v: "1" }, { x: true, y: false }), "aX1");
  strictEqual(fillTemplate(t, { v: "2" }, { x: false, y: true }), "a2");
  throws(() => fillTemplate(t, {}, { x: true, y: true }), TemplateParamError);
});

Deno.test("parseDiagnostics() reads file:line:col: severity: message", () => {
  const out = "/w/src/k.zig:3:12: error: expected type 'u32'\n/w/src/k.zig:2:16: note: declared here\nnoise";
  deepStrictEqual(parseDiagnostics(out, "/w").diagnostics, [
    { file: "src/k.zig", line: 3, col: 12, severity: "error", message: "expected type 'u32'" },
    { file: "src/k.zig", line: 2, col: 16, severity: "note", message: "declared here" },
  ]);
});

Deno.test("a generated kernel compiles in the sandbox, loads, and equals its TypeScript twin", async () => {
  const a = Float64Array.from({ length: 100_003 }, (_, i) => Math.sin(i) * 1000);
  const b = Float64Array.from({ length: 100_003 }, (_, i) => Math.cos(i));
  for (
    const params of [{ name: "kernel_lanes", unroll: 8 }, {
      name: "kernel_kahan",
      accumulate: "kahan" as const,
      sortOrder: "desc" as const,
      unroll: 1,
    }]
  ) {
    const generated = await generateNumericKernel(params);
    ok(generated.compile.ok, generated.compile.output);
    ok(generated.source.includes(`const unroll: usize = ${params.unroll};`));
    ok(["bwrap", "prlimit"].includes(generated.compile.sandbox));
    const evidence = await compareKernelWithTwin(generated.compile.libraryPath!, numericKernelTwin(params), [
      { op: "sum", a },
      { op: "dot", a, b },
      { op: "sort", a },
    ], { repeats: 3 });
    ok(evidence.allEqual, JSON.stringify(evidence.cases));
    strictEqual(evidence.cases.length, 3);
    ok(evidence.cases.every((c) => c.diffAbsMax === 0 && c.zigMsMedian > 0 && c.speedup > 0));
    strictEqual(evidence.library.version, "1.0.0");
  }
});

Deno.test("compile errors come back as structured diagnostics, and the wall limit kills a compile", async () => {
  const source = 'const o = @import("o.zig");\nexport fn f() u32 {\n    return "x";\n}\n';
  const failed = await compileModule(source, { name: "broken_kernel" });
  strictEqual(failed.ok, false);
  strictEqual(failed.libraryPath, null);
  const first = failed.diagnostics[0];
  deepStrictEqual([first.file, first.line, first.severity], ["src/broken_kernel.zig", 3, "error"]);
  ok(first.col > 0 && first.message.includes("expected type 'u32'"), first.message);
  const killed = await compileModule(source, { name: "slow_kernel", wallMs: 1 });
  strictEqual(killed.ok, false);
  strictEqual(killed.killedFor, "wall");
});
