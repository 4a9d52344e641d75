/**
 * The arbiter's statistics, all pure: the Mann–Whitney U test (exact permutation distribution for small
 * samples, ties included; otherwise the normal approximation with tie correction and continuity
 * correction), one- and two-sided p-values, the effect size (Cliff's delta, which equals the
 * rank-biserial correlation), and an A/A calibration that measures how often a decision rule would
 * promote a version over itself.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";
import { AA_RUNS_MAX, MWU_EXACT_N_MAX, STATS_SAMPLE_MAX } from "./limits.ts";
import type { Prng } from "./prng.ts";

/** Which way the alternative hypothesis points: `x` tends to be greater, less, or either. */
export type Alternative = "greater" | "less" | "two-sided";

/** The outcome of {@link mannWhitneyU}. */
export interface MannWhitneyResult {
  /** U of the first sample: pairs (x, y) with x > y, plus half the ties. */
  u: number;
  /** The p-value for the alternative asked for. */
  p: number;
  /** `exact` (permutation distribution) or `normal` (approximation with tie and continuity correction). */
  method: "exact" | "normal";
  /** The z statistic of the normal approximation (0 for the exact method). */
  z: number;
  /** Cliff's delta of x over y, in [-1, 1]: P(x > y) − P(x < y). */
  effectSize: number;
}

/** Options of {@link mannWhitneyU}. */
export interface MannWhitneyOptions {
  /** @default "two-sided" */
  alternative?: Alternative;
  /** `auto` uses the exact distribution when both samples have at most {@link MWU_EXACT_N_MAX} values. @default "auto" */
  method?: "auto" | "exact" | "normal";
}

function checkSample(name: string, xs: readonly number[]): void {
  if (xs.length === 0 || xs.length > STATS_SAMPLE_MAX) {
    throw new RangeError(
      `Cannot test as sample '${name}' must hold 1 to ${STATS_SAMPLE_MAX} values: current size is ${xs.length}`,
    );
  }
  if (!xs.every(Number.isFinite)) {
    throw new RangeError(`Cannot test as sample '${name}' holds a non-finite value`);
  }
}

/**
 * Mid-ranks (1-based, ties get the mean of their ranks) of the pooled sample, and the tie group sizes.
 *
 * @param values The pooled values.
 * @returns `ranks[i]` for `values[i]`, and the size of every tie group.
 */
export function midRanks(values: readonly number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && order[end + 1].v === order[start].v) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k].i] = rank;
    ties.push(end - start + 1);
    start = end + 1;
  }
  return { ranks, ties };
}

/**
 * The standard normal CDF Φ(z), via a high-precision erfc (W. J. Cody's rational approximations as used
 * in Numerical Recipes' erfc, absolute error < 1.2e-7).
 *
 * @param z Any real.
 * @returns Φ(z) in [0, 1].
 */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc = t * Math.exp(
    -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
                      t *
                        (0.27886807 +
                          t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/**
 * The exact permutation distribution of the first sample's rank sum, given the pooled mid-ranks (ties
 * included): how many of the C(n, n1) ways to choose the first sample give each rank sum. Doubled ranks
 * are integers, so a subset-sum count over them is exact.
 *
 * @returns `count[s]` for doubled rank sum `s`, and the total number of arrangements.
 */
function rankSumDistribution(ranks: readonly number[], n1: number): { count: Float64Array; total: number } {
  const doubled = ranks.map((r) => Math.round(r * 2));
  const sumMax = doubled.reduce((a, b) => a + b, 0);
  // table[k][s]: ways to pick k of the ranks seen so far with doubled sum s.
  const table: Float64Array[] = Array.from({ length: n1 + 1 }, () => new Float64Array(sumMax + 1));
  table[0][0] = 1;
  for (const r of doubled) {
    for (let k = n1; k >= 1; k--) {
      const to = table[k];
      const from = table[k - 1];
      for (let s = sumMax; s >= r; s--) to[s] += from[s - r];
    }
  }
  const count = table[n1];
  let total = 0;
  for (let s = 0; s <= sumMax; s++) total += count[s];
  return { count, total };
}

/**
 * Mann–Whitney U test of `x` against `y`.
 *
 * @param x First sample (e.g. the candidate's latencies).
 * @param y Second sample (e.g. the live version's).
 * @param options Alternative and method.
 * @returns U, the p-value, the method used, z and Cliff's delta.
 * @throws {RangeError} When a sample is empty, too large or holds a non-finite value.
 * @example Textbook data (scipy's documentation: U = 17, exact two-sided p = 1/9)
 * ```ts
 * import { mannWhitneyU } from "./stats.ts";
 * import { ok, strictEqual } from "node:assert";
 * const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]);
 * strictEqual(r.u, 17);
 * ok(Math.abs(r.p - 0.1111) < 1e-4);
 * ```
 */
export function mannWhitneyU(
  x: readonly number[],
  y: readonly number[],
  options: MannWhitneyOptions = {},
): MannWhitneyResult {
  checkSample("x", x);
  checkSample("y", y);
  const alternative = options.alternative ?? "two-sided";
  const n1 = x.length;
  const n2 = y.length;
  const { ranks, ties } = midRanks([...x, ...y]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i];
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const effectSize = (2 * u) / (n1 * n2) - 1;
  const small = n1 <= MWU_EXACT_N_MAX && n2 <= MWU_EXACT_N_MAX;
  const exact = options.method === "exact" || (options.method !== "normal" && small);
  if (exact) {
    const { count, total } = rankSumDistribution(ranks, n1);
    const observed = Math.round(r1 * 2);
    let atLeast = 0;
    let atMost = 0;
    for (let s = 0; s < count.length; s++) {
      if (s >= observed) atLeast += count[s];
      if (s <= observed) atMost += count[s];
    }
    const greater = atLeast / total;
    const less = atMost / total;
    const p = alternative === "greater"
      ? greater
      : alternative === "less"
      ? less
      : Math.min(1, 2 * Math.min(greater, less));
    return { u, p, method: "exact", z: 0, effectSize };
  }
  const n = n1 + n2;
  const tieTerm = ties.reduce((s, t) => s + (t * t * t - t), 0) / (n * (n - 1));
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm));
  const mu = (n1 * n2) / 2;
  if (sigma === 0) return { u, p: 1, method: "normal", z: 0, effectSize };
  let z: number;
  let p: number;
  if (alternative === "greater") {
    z = (u - mu - 0.5) / sigma;
    p = 1 - normalCdf(z);
  } else if (alternative === "less") {
    z = (u - mu + 0.5) / sigma;
    p = normalCdf(z);
  } else {
    z = Math.max(0, Math.abs(u - mu) - 0.5) / sigma;
    p = Math.min(1, 2 * (1 - normalCdf(z)));
  }
  return { u, p, method: "normal", z, effectSize };
}

/**
 * Cliff's delta of `x` over `y`: P(x > y) − P(x < y) over all pairs. It equals the rank-biserial
 * correlation 2U/(n1·n2) − 1.
 *
 * @returns A value in [-1, 1]; 0 when neither sample tends to be larger.
 */
export function cliffsDelta(x: readonly number[], y: readonly number[]): number {
  checkSample("x", x);
  checkSample("y", y);
  let more = 0;
  let less = 0;
  for (const a of x) {
    for (const b of y) {
      if (a > b) more++;
      else if (a < b) less++;
    }
  }
  return (more - less) / (x.length * y.length);
}

/** @returns The median of a non-empty sample. */
export function median(xs: readonly number[]): number {
  assert(xs.length > 0, "The median needs a value");
  const s = xs.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The outcome of {@link aaCalibrate}. */
export interface AaCalibration {
  runs: number;
  /** Runs in which `wouldPromote` said yes, though both halves came from one version. */
  falsePromotions: number;
  /** `falsePromotions / runs`. */
  rate: number;
  /** The 99th percentile of the effect size seen between the halves: a floor below which effects are noise. */
  effectSizeP99: number;
}

/**
 * A/A calibration: splits one version's own samples into two random halves, many times, and counts how
 * often a decision rule would call one half significantly better than the other. A sound rule gives a
 * rate near zero; the effect-size percentile shows how large pure noise can look.
 *
 * @param samples One version's repeated measurements (at least 4).
 * @param wouldPromote The rule under test: given (candidate half, live half), would it promote?
 * @param prng Seeded randomness for the splits.
 * @param runs How many splits. @default 1000
 * @returns The false-promotion count and rate, and the 99th percentile of the effect size.
 */
export function aaCalibrate(
  samples: readonly number[],
  wouldPromote: (candidate: number[], live: number[]) => boolean,
  prng: Prng,
  runs = 1000,
): AaCalibration {
  checkSample("samples", samples);
  if (samples.length < 4) {
    throw new RangeError(`Cannot calibrate with fewer than 4 samples: current size is ${samples.length}`);
  }
  if (!Number.isInteger(runs) || runs < 1 || runs > AA_RUNS_MAX) {
    throw new RangeError(
      `Cannot calibrate as 'runs' must be an integer in [1, ${AA_RUNS_MAX}]: current value is ${runs}`,
    );
  }
  let falsePromotions = 0;
  const effects: number[] = [];
  const half = samples.length >> 1;
  for (let r = 0; r < runs; r++) {
    const shuffled = prng.shuffle(samples);
    const a = shuffled.slice(0, half);
    const b = shuffled.slice(half);
    if (wouldPromote(a, b)) falsePromotions++;
    effects.push(Math.abs(cliffsDelta(a, b)));
  }
  effects.sort((p, q) => p - q);
  const effectSizeP99 = effects[Math.min(effects.length - 1, Math.floor(0.99 * effects.length))];
  return { runs, falsePromotions, rate: falsePromotions / runs, effectSizeP99 };
}
