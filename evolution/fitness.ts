/**
 * Fitness: what an evaluation says about one candidate, and the total order the engine ranks by.
 *
 * The order, best first:
 *
 * 1. Not rejected before rejected (rejected: did not load or run, or failed a critical case).
 * 2. Higher weighted correctness (weight of passed cases over the weight of all cases), then more passed
 *    cases.
 * 3. Higher mean score (weighted; an `expect` case scores 1 when it passes, a `score` case its score; a
 *    failure scores 0).
 * 4. Lower cost, over the evals (not the regression or probe cases): by default `latency` (the sum over
 *    cases of each case's median repeated timing, ms); or
 *    `work` (deterministic work units), which the engine uses so a seed reproduces a run exactly.
 * 5. Otherwise equal. NaN never occurs (a non-finite score is a failure), so this is a total preorder;
 *    the engine breaks remaining ties by a stable key (the normalised source hash).
 *
 * @module
 */
import type { CaseResult, EvalResult } from "./eval_result.ts";
import { median } from "./stats.ts";

/** A candidate's fitness. */
export interface Fitness {
  rejected: boolean;
  passed: number;
  total: number;
  /** Weighted fraction of cases passed, in [0, 1]. */
  correctness: number;
  /** Weighted mean score. */
  score: number;
  /** Sum over cases of the median timed repetition, ms. */
  latencyMs: number;
  /** Sum over cases of the deterministic work units. */
  work: number;
}

/** What the cost step of the order compares. */
export type CostBasis = "latency" | "work";

/**
 * The fitness of a candidate that could not be evaluated. Its costs are `Number.MAX_VALUE`, not
 * `Infinity`, so a fitness survives a JSON round trip (engine state, lineage records).
 */
export const REJECTED: Fitness = {
  rejected: true,
  passed: 0,
  total: 0,
  correctness: 0,
  score: 0,
  latencyMs: Number.MAX_VALUE,
  work: Number.MAX_VALUE,
};

function caseScore(c: CaseResult): number {
  if (!c.pass) return 0;
  return c.score ?? 1;
}

/**
 * @param result One candidate's evaluation.
 * @returns Its fitness.
 */
export function computeFitness(result: EvalResult): Fitness {
  if (!result.ok || result.cases.length === 0) return REJECTED;
  let weightAll = 0;
  let weightPassed = 0;
  let scoreSum = 0;
  let passed = 0;
  let latencyMs = 0;
  let work = 0;
  let rejected = false;
  const onlyRegression = result.cases.every((c) => c.regression);
  for (const c of result.cases) {
    weightAll += c.weight;
    if (c.pass) {
      passed++;
      weightPassed += c.weight;
    } else if (c.critical) rejected = true;
    scoreSum += c.weight * caseScore(c);
    // Cost is measured on the evals: regression and probe cases test behaviour, not speed.
    if (c.regression && !onlyRegression) continue;
    latencyMs += c.ms.length > 0 ? median(c.ms) : 0;
    work += c.work;
  }
  const correctness = weightAll > 0 ? weightPassed / weightAll : 0;
  const score = weightAll > 0 ? scoreSum / weightAll : 0;
  return { rejected, passed, total: result.cases.length, correctness, score, latencyMs, work };
}

/**
 * The total order of the module doc.
 *
 * @param a One fitness.
 * @param b Another.
 * @param basis What the cost step compares. @default "latency"
 * @returns Negative when `a` is better, positive when `b` is, 0 when equal.
 */
export function compareFitness(a: Fitness, b: Fitness, basis: CostBasis = "latency"): number {
  if (a.rejected !== b.rejected) return a.rejected ? 1 : -1;
  if (a.correctness !== b.correctness) return b.correctness - a.correctness;
  if (a.passed !== b.passed) return b.passed - a.passed;
  if (a.score !== b.score) return b.score - a.score;
  const ca = basis === "latency" ? a.latencyMs : a.work;
  const cb = basis === "latency" ? b.latencyMs : b.work;
  if (ca === cb) return 0;
  return ca < cb ? -1 : 1;
}

/**
 * One number for reports (`baseline_fitness`, `best_fitness`), consistent with the order for scores in
 * [0, 1]: 1000 × correctness + 100 × score + 1 / (1 + latency ms). Rejected candidates are 0.
 *
 * @param f A fitness.
 * @returns The scalar, rounded to 6 decimals.
 */
export function fitnessValue(f: Fitness): number {
  if (f.rejected) return 0;
  const speed = 1 / (1 + f.latencyMs);
  return Math.round((1000 * f.correctness + 100 * f.score + speed) * 1e6) / 1e6;
}
