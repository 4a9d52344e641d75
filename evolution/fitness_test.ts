import { ok, strictEqual } from "node:assert";
import type { CaseResult } from "./eval_result.ts";
import { compareFitness, computeFitness, fitnessValue, REJECTED } from "./fitness.ts";

function c(pass: boolean, ms: number[], extra: Partial<CaseResult> = {}): CaseResult {
  return {
    pass,
    score: null,
    ms,
    work: 10,
    out: "x",
    weight: 1,
    critical: false,
    regression: false,
    ...extra,
  };
}

Deno.test("computeFitness() sums per-case medians and weights correctness", () => {
  const f = computeFitness({
    ok: true,
    alone: true,
    cases: [c(true, [1, 9, 2]), c(false, [4], { weight: 3 })],
  });
  strictEqual(f.rejected, false);
  strictEqual(f.passed, 1);
  strictEqual(f.correctness, 0.25);
  strictEqual(f.latencyMs, 6);
  strictEqual(f.work, 20);
});

Deno.test("computeFitness() rejects a failed critical case and a candidate that did not run", () => {
  strictEqual(
    computeFitness({ ok: true, alone: false, cases: [c(false, [1], { critical: true })] }).rejected,
    true,
  );
  strictEqual(computeFitness({ ok: false, alone: false, cases: [] }), REJECTED);
});

Deno.test("compareFitness() puts correctness before score before cost", () => {
  const base = computeFitness({ ok: true, alone: true, cases: [c(true, [5]), c(true, [5])] });
  const faster = { ...base, latencyMs: 1, work: 1 };
  const wrongButFast = { ...faster, passed: 1, correctness: 0.5 };
  const betterScore = { ...base, score: 1.5 };
  ok(compareFitness(faster, base) < 0);
  ok(compareFitness(base, wrongButFast) < 0);
  ok(compareFitness(betterScore, faster) < 0);
  ok(compareFitness(wrongButFast, REJECTED) < 0);
  strictEqual(compareFitness(base, { ...base }), 0);
  ok(compareFitness({ ...base, work: 1 }, base, "work") < 0);
  ok(fitnessValue(faster) > fitnessValue(base) && fitnessValue(REJECTED) === 0);
  strictEqual(
    JSON.parse(JSON.stringify(REJECTED)).work,
    Number.MAX_VALUE,
    "a rejected fitness survives JSON",
  );
});
