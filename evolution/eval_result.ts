/**
 * What an evaluation reports: per candidate, per case, whether it passed, its score, its timings and its
 * deterministic work; and the {@link Evaluator} interface the engine is given (the real one runs jailed
 * sandboxes, tests use fakes).
 *
 * @module
 */

/** One case of one candidate. */
export interface CaseResult {
  /** `expect` deep-equal, or a finite score; no throw, no timeout. */
  pass: boolean;
  /** The score of a `score` case (higher is better); `null` for an `expect` case or a failure. */
  score: number | null;
  /** Wall time of each timed repetition, ms. */
  ms: number[];
  /**
   * Deterministic work units of one run: loop iterations plus function entries in the candidate's own
   * code, counted by an instrumented copy (native built-ins count as the callbacks they make).
   */
  work: number;
  /** A hash of the output (equal outputs hash alike), for counting mismatches against the live version. */
  out: string;
  /** Relative weight of the case. */
  weight: number;
  /** A failing critical case rejects the candidate outright. */
  critical: boolean;
  /** Whether the case comes from the regression set rather than the live evals. */
  regression: boolean;
  /** Why the case failed, if it did. */
  error?: string;
}

/** One candidate's evaluation. */
export interface EvalResult {
  /** `false` when the candidate did not load, broke the jail or was killed; `cases` is then empty. */
  ok: boolean;
  error?: string;
  cases: CaseResult[];
  /** Whether it ran alone in its own jail (only such results may decide a promotion). */
  alone: boolean;
}

/**
 * A case of the regression set: a known input with its expected output, or (with `answers: true`) a
 * known input on which the code must merely behave: answer without a throw or a time-out, with no
 * non-finite number in the output unless the input holds one, plus the optional `avoid`, `properties`
 * and `ms_max` checks. Red-team finds, auto-fix reproductions and feedback hypotheses are of that kind.
 */
export interface RegressionCase {
  input: unknown;
  /** The expected output (deep equality); ignored with `answers: true`. */
  expect?: unknown;
  /** No expected output: the case checks that the call answers (see above). @default false */
  answers?: boolean;
  /** With `answers`: the output must not deep-equal this one (a disliked answer). */
  avoid?: unknown;
  /** With `answers`: `avoid` is set (msgpack cannot tell an absent field from `undefined`). */
  has_avoid?: boolean;
  /**
   * With `answers`: every general property of the live evals must hold: each `score` case whose function
   * scores every eval input's live output at least as high as its own is a property, and must score the
   * output at least that high. @default false
   */
  properties?: boolean;
  /** With `answers`: the first call must answer within this many ms. */
  ms_max?: number;
  /** @default true: every regression case is critical */
  critical?: boolean;
}

/** Options of one {@link Evaluator.evaluate} call. */
export interface EvaluateOptions {
  /** Timed repetitions of each case. @default EVAL_REPEATS_SCREEN */
  repeats?: number;
  /** Run each source alone in its own jail instead of screening them together. @default false */
  alone?: boolean;
  /**
   * Run the work-counting copy (work units are reported, timings include the counting). @default !alone
   */
  count?: boolean;
  /**
   * Screening cascade: the cheapest cases first, a candidate stops at its first failed case (the rest
   * are reported as skipped failures). @default !alone
   */
  cascade?: boolean;
  /** A call over this fails its case (capped by the evaluator's own bound), ms. */
  caseMsMax?: number;
  /**
   * With `alone`: drive the jails in lock-step, one repetition of every case at a time, round-robin over
   * the sources, so changes in machine load hit every side alike (the arbiter compares such runs).
   * @default false
   */
  interleave?: boolean;
  /** The regression set of this call, instead of the evaluator's own. @default the evaluator's */
  regression?: RegressionCase[];
}

/** Runs candidates against the live version's evals. */
export interface Evaluator {
  /**
   * Evaluates every source against the evals of `evalsFrom` (the live version; never the candidate's
   * own) plus the evaluator's regression set.
   *
   * @param sources Candidate sources.
   * @param evalsFrom The live version's source.
   * @param options Repetitions, alone or batched.
   * @returns One result per source, in order.
   */
  evaluate(sources: string[], evalsFrom: string, options?: EvaluateOptions): Promise<EvalResult[]>;
}
