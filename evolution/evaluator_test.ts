import { ok, rejects, strictEqual } from "node:assert";
import { EvaluatorError } from "./errors.ts";
import { SandboxEvaluator } from "./evaluator.ts";

const SORTER = Deno.readTextFileSync(new URL("../examples/agents/sorter.ts", import.meta.url));
const CALL = "return sortNumbers(items as number[]);";
const descending = SORTER.replace(CALL, "return sortNumbers(items as number[]).reverse();");
const runaway = SORTER.replace(
  "const next = out.slice();",
  "const next = out.slice();\n    while (next.length >= 0) next.length;",
);
const tamper = SORTER.replace(CALL, "(Array.prototype as unknown as { o: number }).o = 1;\n    " + CALL);
const native = SORTER.replace(CALL, "return (items as number[]).slice().sort((a, b) => a - b);");

Deno.test("SandboxEvaluator screens a batch in a jail: passes, failures, work units", async () => {
  const ev = new SandboxEvaluator({ parallel: 1 });
  try {
    const [live, wrong, fast] = await ev.evaluate([SORTER, descending, native], SORTER);
    strictEqual(live.ok, true);
    strictEqual(live.cases.filter((c) => !c.regression).length, 8);
    ok(live.cases.length > 8, "probes follow the evals");
    ok(live.cases.every((c) => c.pass && c.work > 0 && c.ms.length === 1));
    strictEqual(wrong.ok, true);
    strictEqual(wrong.cases[0].pass, false);
    strictEqual(wrong.cases[0].critical, true);
    ok(fast.cases.every((c) => c.pass));
    const work = (r: typeof live) => r.cases.reduce((s, c) => s + c.work, 0);
    ok(work(fast) * 5 < work(live), `native ${work(fast)} vs bubble ${work(live)}`);
    strictEqual(ev.stats().jails, 1);
  } finally {
    await ev.close();
  }
});

Deno.test("SandboxEvaluator probes behaviour the evals miss: dropping input validation fails", async () => {
  const ev = new SandboxEvaluator({ parallel: 1 });
  const lax = SORTER.replace(
    "throw new TypeError(\"input needs 'items', an array of numbers\");",
    "return [];",
  );
  ok(lax !== SORTER);
  try {
    const [r] = await ev.evaluate([lax], SORTER);
    ok(r.ok);
    ok(r.cases.filter((c) => !c.regression).every((c) => c.pass), "the evals alone pass");
    ok(r.cases.some((c) => c.regression && !c.pass && c.error === "behaves unlike the live version"));
  } finally {
    await ev.close();
  }
});

Deno.test("SandboxEvaluator stops a runaway loop by its work budget, without killing the jail", async () => {
  const ev = new SandboxEvaluator({ parallel: 1 });
  try {
    const [loop, live] = await ev.evaluate([runaway, SORTER], SORTER);
    ok(loop.ok);
    ok(loop.cases.some((c) => !c.pass && /work budget exceeded/.test(c.error ?? "")));
    ok(live.cases.every((c) => c.pass));
    strictEqual(ev.stats().breaches, 0);
  } finally {
    await ev.close();
  }
});

Deno.test("SandboxEvaluator kills a jail on a breach, blames the culprit and re-runs the others", async () => {
  const ev = new SandboxEvaluator({ parallel: 1, caseMsMax: 300 });
  try {
    const [a, bad, b] = await ev.evaluate([SORTER, tamper, native], SORTER);
    ok(a.ok && b.ok, "the innocent ones have results");
    strictEqual(bad.ok, false);
    ok(/shared built-in/.test(bad.error ?? ""), bad.error);
    const stats = ev.stats();
    strictEqual(stats.breaches, 1);
    strictEqual(stats.reruns, 1);
    // Uncounted (alone) runs have no work budget: an endless loop is killed by the watchdog.
    const [stuck] = await ev.evaluate([runaway], SORTER, { alone: true, count: false });
    strictEqual(stuck.ok, false);
    ok(/time bound/.test(stuck.error ?? ""), stuck.error);
  } finally {
    await ev.close();
  }
});

Deno.test("SandboxEvaluator refuses reserved names and a live version that does not load", async () => {
  const ev = new SandboxEvaluator({ parallel: 1 });
  try {
    const [r] = await ev.evaluate([SORTER.replace("let out", "let __oW = 0;\n  let out")], SORTER);
    strictEqual(r.ok, false);
    await rejects(ev.evaluate([SORTER], "export default 1;"), (e) => e instanceof EvaluatorError);
  } finally {
    await ev.close();
  }
});

Deno.test("SandboxEvaluator interleaves alone jails repetition by repetition", async () => {
  const ev = new SandboxEvaluator();
  try {
    const results = await ev.evaluate([SORTER, native, SORTER], SORTER, {
      alone: true,
      count: false,
      interleave: true,
      repeats: 5,
    });
    for (const r of results) {
      ok(r.ok && r.alone);
      ok(r.cases.every((c) => c.pass && c.ms.length === 5 && c.work === 0));
    }
  } finally {
    await ev.close();
  }
});
