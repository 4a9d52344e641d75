/**
 * The arbiter: decides from evidence whether a candidate replaces the live version. Pure.
 *
 * Promote only when all of these hold:
 *
 * 1. Both the candidate and the live version ran (each alone in its own jail, same cases).
 * 2. Zero regressions on the correctness set (the live evals plus the regression set): no case fails
 *    that the live version passes, and no regression-set or critical case fails at all.
 * 3. The mean score is not lower than the live version's.
 * 4. An improvement, on one of three metrics:
 *    - latency: per-repetition totals (the sum over cases of repetition r's time), one-sided
 *      Mann–Whitney U "candidate faster" with p < {@link P_VALUE_MAX}, Cliff's delta ≥ the effect-size floor,
 *      and a median ratio ≤ {@link LATENCY_RATIO_MAX}; or
 *    - score: per-case scores, one-sided "candidate higher" with the same p and effect-size floor, and the
 *      latency ratio no worse than 1 / {@link LATENCY_RATIO_MAX}; or
 *    - fix: the candidate passes at least one regression-set case that the live version fails (a red-team
 *      find, an auto-fix reproduction, a feedback hypothesis: known inputs, judged deterministically, so
 *      one such case is evidence, not noise), at most {@link FIX_LATENCY_RATIO_MAX} times slower (a right
 *      answer is worth some time; a pathological slow-down is not).
 *
 * A regression-set case the live version fails and that is not critical (an open find nobody has fixed
 * yet) is not a regression when a candidate fails it too: it must not block unrelated improvements. Once
 * fixed, such a case is stored as critical and no candidate may fail it again.
 *
 * Why three gates on latency: the p-value alone promotes ~5 % of A/A comparisons by construction, and
 * far more when two processes run at systematically different speeds (another core, another JIT
 * decision, a load burst). The effect-size floor and the ratio floor make noise essentially never pass.
 * With a second live measurement (`liveAgain`), both floors grow with the A/A distance actually seen in
 * this comparison: the ratio must beat {@link LATENCY_RATIO_MAX} × e^(−2·|ln aa_ratio|) and the effect
 * must exceed the A/A effect by 0.25. The A/A tests in arbiter_test.ts and the engine's A/A run measure it.
 *
 * @module
 */
import type { CaseResult, EvalResult } from "./eval_result.ts";
import { EFFECT_SIZE_MIN, FIX_LATENCY_RATIO_MAX, LATENCY_RATIO_MAX, P_VALUE_MAX } from "./limits.ts";
import { cliffsDelta, mannWhitneyU, median } from "./stats.ts";

/** How much an improvement's effect size must exceed the A/A comparison's own. */
const AA_EFFECT_MARGIN = 0.25;

/** What the arbiter looks at. */
export interface Evidence {
  /** The live version's evaluation (alone, same cases and repetitions). */
  live: EvalResult;
  /** The candidate's evaluation (alone). */
  candidate: EvalResult;
  /**
   * The live version measured a second time, in its own jail, interleaved with the other two: its
   * timings join the live sample, and its distance from the first measurement (an A/A comparison) sets
   * how much larger than noise an improvement must be.
   */
  liveAgain?: EvalResult;
}

/** The arbiter's verdict, stored with the lineage record (snake_case: it is served as JSON). */
export interface Decision {
  promote: boolean;
  reason: string;
  /** The one-sided p-value of the deciding metric (`null` when no test ran). */
  p_value: number | null;
  /** Cliff's delta in the candidate's favour (positive: better), `null` when no test ran. */
  effect_size: number | null;
  /** Cases of the correctness set the candidate broke. */
  regressions: number;
  /** Cases evaluated. */
  cases: number;
  /** Cases the candidate failed. */
  failures: number;
  /** Cases whose output differs from the live version's. */
  mismatches: number;
  /** The metric tested: `latency`, `score`, `fix`, or `null`. */
  metric: "latency" | "score" | "fix" | null;
  /** Regression-set cases the live version fails and the candidate passes. */
  fixes?: number;
  /** Candidate over live median per-repetition latency (`null` without timings). */
  latency_ratio: number | null;
  /** Second over first live median (the A/A noise), `null` without a second live measurement. */
  aa_ratio: number | null;
  /** Cliff's delta of the second live measurement over the first, `null` without one. */
  aa_effect_size: number | null;
}

/** Thresholds of {@link decide}. */
export interface ArbiterOptions {
  /** @default P_VALUE_MAX */
  pValueMax?: number;
  /** @default EFFECT_SIZE_MIN */
  effectSizeMin?: number;
  /** @default LATENCY_RATIO_MAX */
  latencyRatioMax?: number;
}

/**
 * Per-repetition total latency over the evals (regression and probe cases test behaviour, not speed):
 * for each repetition r, the sum over those cases of its r-th timing.
 *
 * @param all One candidate's cases (all with the same number of timings).
 * @returns One total per repetition (empty when a case has no timing).
 */
export function repetitionTotals(all: readonly CaseResult[]): number[] {
  const cases = all.some((c) => !c.regression) ? all.filter((c) => !c.regression) : all;
  const reps = cases.length === 0 ? 0 : Math.min(...cases.map((c) => c.ms.length));
  const totals = new Array<number>(reps).fill(0);
  for (const c of cases) for (let r = 0; r < reps; r++) totals[r] += c.ms[r];
  return totals;
}

function weightedScore(cases: readonly CaseResult[]): number {
  let w = 0;
  let s = 0;
  for (const c of cases) {
    w += c.weight;
    s += c.weight * (c.pass ? c.score ?? 1 : 0);
  }
  return w > 0 ? s / w : 0;
}

function tally(live: readonly CaseResult[], candidate: readonly CaseResult[]) {
  let regressions = 0;
  let failures = 0;
  let mismatches = 0;
  let fixes = 0;
  candidate.forEach((c, i) => {
    const l = live[i];
    if (!c.pass) {
      failures++;
      if (l.pass || c.critical) regressions++;
    } else if (!l.pass && c.regression) fixes++;
    if (c.out !== l.out) mismatches++;
  });
  return { regressions, failures, mismatches, fixes };
}

/**
 * Decides one promotion (see the module doc for the rule).
 *
 * @param evidence The live version's and the candidate's evaluations, each alone in its jail.
 * @param options Thresholds.
 * @returns The decision with its evidence figures.
 */
export function decide(evidence: Evidence, options: ArbiterOptions = {}): Decision {
  const pMax = options.pValueMax ?? P_VALUE_MAX;
  const deltaMin = options.effectSizeMin ?? EFFECT_SIZE_MIN;
  const ratioMax = options.latencyRatioMax ?? LATENCY_RATIO_MAX;
  const { live, candidate } = evidence;
  const base: Decision = {
    promote: false,
    reason: "",
    p_value: null,
    effect_size: null,
    regressions: 0,
    cases: candidate.cases.length,
    failures: 0,
    mismatches: 0,
    metric: null,
    latency_ratio: null,
    aa_ratio: null,
    aa_effect_size: null,
  };
  if (!candidate.ok) {
    return { ...base, reason: `The candidate did not run: ${candidate.error ?? "unknown error"}` };
  }
  if (!live.ok) return { ...base, reason: `The live version did not run: ${live.error ?? "unknown error"}` };
  if (live.cases.length !== candidate.cases.length) {
    return { ...base, reason: "The live version and the candidate ran different cases" };
  }
  const counts = tally(live.cases, candidate.cases);
  const d: Decision = { ...base, ...counts };
  if (counts.regressions > 0) {
    return { ...d, reason: `${counts.regressions} regression(s) on the correctness set` };
  }
  const liveScore = weightedScore(live.cases);
  const candidateScore = weightedScore(candidate.cases);
  if (candidateScore < liveScore) {
    return {
      ...d,
      reason: `The mean score fell from ${liveScore.toFixed(4)} to ${candidateScore.toFixed(4)}`,
    };
  }
  const first = repetitionTotals(live.cases);
  const again = evidence.liveAgain?.ok && evidence.liveAgain.cases.length === live.cases.length
    ? repetitionTotals(evidence.liveAgain.cases)
    : [];
  const lt = [...first, ...again];
  const ct = repetitionTotals(candidate.cases);
  const ratio = lt.length > 0 && ct.length > 0 && median(lt) > 0 ? median(ct) / median(lt) : null;
  d.latency_ratio = ratio;
  // The A/A noise: how far apart two measurements of the same code came out in this very comparison.
  let noise = 0;
  let aaDelta = 0;
  if (first.length >= 2 && again.length >= 2 && median(first) > 0) {
    d.aa_ratio = median(again) / median(first);
    d.aa_effect_size = aaDelta = cliffsDelta(again, first);
    noise = Math.abs(Math.log(d.aa_ratio));
  }
  const ratioFloor = ratioMax * Math.exp(-2 * noise);
  const deltaFloor = Math.min(1, Math.max(deltaMin, Math.abs(aaDelta) + AA_EFFECT_MARGIN));
  if (candidateScore > liveScore) {
    const s = scoreTest(live.cases, candidate.cases);
    const slower = ratio !== null && ratio > 1 / ratioMax;
    if (s.p < pMax && s.delta >= deltaMin && !slower) {
      return {
        ...d,
        promote: true,
        metric: "score",
        p_value: s.p,
        effect_size: s.delta,
        reason: "Significantly higher scores, no regression",
      };
    }
  }
  if (counts.fixes > 0 && !(ratio !== null && ratio > FIX_LATENCY_RATIO_MAX)) {
    return {
      ...d,
      promote: true,
      metric: "fix",
      reason: `Fixes ${counts.fixes} regression-set case(s) the live version fails, no regression`,
    };
  }
  if (lt.length < 2 || ct.length < 2 || ratio === null) {
    return { ...d, reason: "No significant improvement: too few timings to test latency" };
  }
  const u = mannWhitneyU(ct, lt, { alternative: "less" });
  const delta = -cliffsDelta(ct, lt);
  const out = { ...d, metric: "latency" as const, p_value: u.p, effect_size: delta };
  if (u.p < pMax && delta >= deltaFloor && ratio <= ratioFloor) {
    return {
      ...out,
      promote: true,
      reason: `Significantly faster (median ×${ratio.toFixed(3)}), no regression`,
    };
  }
  return {
    ...out,
    reason:
      `No significant improvement (p=${u.p.toPrecision(3)}, effect=${delta.toFixed(3)} of ${
        deltaFloor.toFixed(2)
      } needed, ` +
      `ratio=${ratio.toFixed(3)} of ${ratioFloor.toFixed(3)} needed)`,
  };
}

function scoreTest(
  live: readonly CaseResult[],
  candidate: readonly CaseResult[],
): { p: number; delta: number } {
  const ls = live.map((c) => (c.pass ? c.score ?? 1 : 0));
  const cs = candidate.map((c) => (c.pass ? c.score ?? 1 : 0));
  const u = mannWhitneyU(cs, ls, { alternative: "greater" });
  return { p: u.p, delta: cliffsDelta(cs, ls) };
}
