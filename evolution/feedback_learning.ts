/**
 * Feedback learning: what people and metrics say about an agent's answers becomes fitness.
 *
 * Examples come from explicit feedback (`POST …/feedback`, each record naming the judged answer's input
 * and output) and from implicit signals (answers that failed, answers far slower than usual). The loop
 * groups them by input features (input_shape.ts `features`: a field's category, an array's length class
 * or parity, a number's sign, a string's punctuation…) and keeps the patterns whose mean score is low
 * where the rest is clearly higher — e.g. "answers to inputs with `lang=fr` score −1, the others +1".
 *
 * A pattern becomes a hypothesis: new cases for the regression set. A disliked answer with a correction
 * in its comment (`expected: <JSON>`) becomes an `expect` case; one without becomes an `avoid` case (the
 * output must not be the disliked one, must not throw, must keep the evals' properties); a failure
 * becomes an `answers` case; every liked answer becomes an `expect` case kept as it is (no improvement may
 * break what people liked). The hypothesis is checked against the live version first (it must fail the
 * disliked cases and pass the liked ones), then the blue team evolves against it and the result goes
 * through the protected path (candidate → shadow → arbiter, operator `feedback`). On promotion the
 * pattern, the hypothesis and the feedback records behind it join the lineage record's decision.
 *
 * @module
 */
import { patchWithFinds } from "./blue_team.ts";
import type { CoevolutionHost, SubmitOutcome } from "./coevolution.ts";
import type { RegressionCase } from "./eval_result.ts";
import { SandboxEvaluator } from "./evaluator.ts";
import { features, keyOf } from "./input_shape.ts";
import type { LlmMutator } from "./llm_mutator.ts";
import { attack } from "./red_team.ts";
import { regressionId, type RegressionRecord } from "./regressions.ts";
import { median } from "./stats.ts";
import type { TypeDiagnostic } from "./typecheck.ts";

/** Examples a pattern needs. */
export const PATTERN_SUPPORT_MIN = 2;
/** A pattern's mean score must be at most this… */
export const PATTERN_MEAN_MAX = -0.25;
/** …and at least this much below the rest's. */
export const PATTERN_LIFT_MIN = 0.5;
/** Liked answers kept as cases. */
export const KEEP_CASES_MAX = 16;
/** Cases one hypothesis adds. */
export const HYPOTHESIS_CASES_MAX = 24;
/** Feedback examples looked at. */
export const EXAMPLES_MAX = 2_000;

/** A stored feedback record (supervisor.ts `feedback`). */
export interface FeedbackRecord {
  seq: number;
  score: number;
  comment?: string;
  version?: string;
  time_ms: number;
  request_id?: string;
  /** The judged answer's input and output, when the answer log still had it. */
  input?: unknown;
  output?: unknown;
}

/** An implicit signal: one answered or failed invoke (supervisor/answer_log.ts). */
export interface ImplicitSignal {
  input: unknown;
  ok: boolean;
  output?: unknown;
  error?: string;
  ms: number;
  request_id?: string;
}

/** One example the loop learns from. */
export interface FeedbackExample {
  input: unknown;
  output: unknown;
  hasOutput: boolean;
  /** −1..1. */
  score: number;
  source: "explicit" | "error" | "latency";
  /** A correction from the comment (`expected: <JSON>`). */
  correction?: { value: unknown };
  /** Where it came from (seq / request id), for the evidence. */
  ref: string;
  comment?: string;
}

/** A class of inputs whose answers score badly. */
export interface Pattern {
  feature: string;
  count: number;
  mean: number;
  others_mean: number | null;
  lift: number;
  examples: FeedbackExample[];
}

/** A pattern turned into cases. */
export interface Hypothesis {
  pattern: string;
  description: string;
  /** Cases the live version fails (what must change). */
  improve: { case: RegressionCase; ref: string; why: string }[];
  /** Liked answers (what must not change). */
  keep: { case: RegressionCase; ref: string }[];
}

/**
 * A correction in a comment: `expected: <JSON>`, `expect = <JSON>`, `should be <JSON>` (a bare word is
 * taken as a string).
 *
 * @returns The corrected value, or `null`.
 */
export function parseCorrection(comment: string | undefined): { value: unknown } | null {
  if (typeof comment !== "string") return null;
  const m = /(?:expected|expect|should be)\s*[:=]?\s*([\s\S]+)$/i.exec(comment.trim());
  if (!m) return null;
  const text = m[1].trim();
  try {
    return { value: JSON.parse(text) };
  } catch {
    return /^[\w.-]+$/.test(text) ? { value: text } : null;
  }
}

/**
 * The examples of explicit feedback and implicit signals.
 *
 * @param records Stored feedback records (those without an input are skipped: nothing to learn from).
 * @param implicit Recent invokes: failures score −1, answers slower than `slowMs` score −0.5.
 * @param slowMs @default max(50, 10 × the median answer time)
 */
export function examplesFrom(
  records: readonly FeedbackRecord[],
  implicit: readonly ImplicitSignal[] = [],
  slowMs?: number,
): FeedbackExample[] {
  const out: FeedbackExample[] = [];
  for (const r of records) {
    if (r.input === undefined || !Number.isFinite(r.score)) continue;
    const correction = parseCorrection(r.comment);
    out.push({
      input: r.input,
      output: r.output ?? null,
      hasOutput: "output" in r,
      score: Math.max(-1, Math.min(1, r.score)),
      source: "explicit",
      ...(correction ? { correction } : {}),
      ref: r.request_id ?? `seq ${r.seq}`,
      ...(r.comment ? { comment: r.comment } : {}),
    });
  }
  const okMs = implicit.filter((s) => s.ok).map((s) => s.ms);
  const slow = slowMs ?? Math.max(50, 10 * (okMs.length > 0 ? median(okMs) : 5));
  for (const s of implicit) {
    if (!s.ok) {
      out.push({
        input: s.input,
        output: null,
        hasOutput: false,
        score: -1,
        source: "error",
        ref: s.request_id ?? "?",
      });
    } else if (s.ms > slow) {
      out.push({
        input: s.input,
        output: s.output,
        hasOutput: true,
        score: -0.5,
        source: "latency",
        ref: s.request_id ?? "?",
      });
    }
  }
  return out.slice(-EXAMPLES_MAX);
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

/**
 * The input classes whose answers score badly (see the module doc), worst first.
 *
 * @param examples The examples.
 * @returns Patterns, deduplicated (features covering the same examples: the categorical one is kept).
 */
export function findPatterns(examples: readonly FeedbackExample[]): Pattern[] {
  const byFeature = new Map<string, number[]>();
  examples.forEach((e, i) => {
    for (const f of features(e.input)) {
      const list = byFeature.get(f) ?? [];
      list.push(i);
      byFeature.set(f, list);
    }
  });
  const out: Pattern[] = [];
  for (const [feature, idx] of byFeature) {
    if (idx.length < PATTERN_SUPPORT_MIN) continue;
    const inside = new Set(idx);
    const m = mean(idx.map((i) => examples[i].score));
    const rest = examples.filter((_, i) => !inside.has(i)).map((e) => e.score);
    const others = rest.length > 0 ? mean(rest) : null;
    const lift = others === null ? -m : others - m;
    if (m > PATTERN_MEAN_MAX || lift < PATTERN_LIFT_MIN) continue;
    out.push({
      feature,
      count: idx.length,
      mean: m,
      others_mean: others,
      lift,
      examples: idx.map((i) => examples[i]),
    });
  }
  out.sort((a, b) =>
    b.lift * Math.sqrt(b.count) - a.lift * Math.sqrt(a.count) ||
    Number(b.feature.includes("=")) - Number(a.feature.includes("=")) || (a.feature < b.feature ? -1 : 1)
  );
  const seen = new Set<string>();
  return out.filter((p) => {
    const key = p.examples.map((e) => e.ref).sort().join(",");
    return !seen.has(key) && seen.add(key);
  });
}

/**
 * A pattern's hypothesis: the cases of the module doc.
 *
 * @param pattern The pattern.
 * @param all Every example (liked answers anywhere are kept).
 */
export function hypothesize(pattern: Pattern, all: readonly FeedbackExample[]): Hypothesis {
  const improve: Hypothesis["improve"] = [];
  const seen = new Set<string>();
  for (const e of pattern.examples.filter((x) => x.score < 0)) {
    let c: RegressionCase;
    let why: string;
    if (e.correction) {
      c = { input: e.input, expect: e.correction.value, critical: false };
      why = `corrected: ${JSON.stringify(e.correction.value).slice(0, 80)}`;
    } else if (e.source === "explicit" && e.hasOutput) {
      c = {
        input: e.input,
        answers: true,
        avoid: e.output,
        has_avoid: true,
        properties: true,
        critical: false,
      };
      why = "disliked answer";
    } else if (e.source === "error") {
      c = { input: e.input, answers: true, properties: true, critical: false };
      why = "the call failed";
    } else continue;
    const key = keyOf([c.input, c.expect, c.avoid, c.answers]);
    if (seen.has(key) || improve.length >= HYPOTHESIS_CASES_MAX) continue;
    seen.add(key);
    improve.push({ case: c, ref: e.ref, why });
  }
  const keep: Hypothesis["keep"] = [];
  for (const e of all) {
    if (e.source !== "explicit" || e.score < 0.5 || !e.hasOutput || keep.length >= KEEP_CASES_MAX) continue;
    const key = keyOf(e.input);
    if (seen.has(key)) continue;
    seen.add(key);
    keep.push({ case: { input: e.input, expect: e.output, critical: true }, ref: e.ref });
  }
  const others = pattern.others_mean === null ? "" : `; the rest score ${pattern.others_mean.toFixed(2)}`;
  return {
    pattern: pattern.feature,
    description: `answers to inputs with ${pattern.feature} score ${
      pattern.mean.toFixed(2)
    } over ${pattern.count}${others}`,
    improve,
    keep,
  };
}

/** Options of {@link runFeedbackLearning}. */
export interface FeedbackLearningOptions {
  agent: string;
  host: CoevolutionHost;
  records: readonly FeedbackRecord[];
  implicit?: readonly ImplicitSignal[];
  typeCheck: ((source: string) => TypeDiagnostic[]) | null;
  /** @default 1 */
  seed?: string | number;
  generations?: number;
  populationSize?: number;
  llm?: LlmMutator | null;
  jobId?: string;
}

/** What a feedback-learning run did. */
export interface FeedbackReport {
  examples: number;
  patterns: Omit<Pattern, "examples">[];
  hypothesis:
    | (Omit<Hypothesis, "improve" | "keep"> & { improve: number; keep: number; dropped: number })
    | null;
  candidate: SubmitOutcome | null;
  reason: string;
}

/**
 * Runs the loop once (see the module doc): patterns, the top one's hypothesis, the blue team, the
 * protected path.
 */
export async function runFeedbackLearning(o: FeedbackLearningOptions): Promise<FeedbackReport> {
  const examples = examplesFrom(o.records, o.implicit ?? []);
  const patterns = findPatterns(examples);
  const summary = patterns.slice(0, 8).map(({ examples: _e, ...p }) => p);
  const none = (reason: string, hypothesis: FeedbackReport["hypothesis"] = null): FeedbackReport => ({
    examples: examples.length,
    patterns: summary,
    hypothesis,
    candidate: null,
    reason,
  });
  if (patterns.length === 0) return none("no class of answers scores badly");
  const h = hypothesize(patterns[0], examples);
  const live = await o.host.live();
  const evaluator = new SandboxEvaluator();
  let records: RegressionRecord[];
  try {
    records = await verified(o, h, live.source, evaluator);
  } finally {
    await evaluator.close();
  }
  const open = records.filter((r) => r.status === "open");
  const hypothesis = {
    pattern: h.pattern,
    description: h.description,
    improve: open.length,
    keep: records.length - open.length,
    dropped: h.improve.length + h.keep.length - records.length,
  };
  if (open.length === 0) {
    return none("the live version already answers the disliked inputs differently", hypothesis);
  }
  const { blue, records: all } = await patchWithFinds(o, live.source, records);
  if (blue.candidate === null) return none(`no candidate: ${blue.reason}`, hypothesis);
  const candidate = await o.host.submit(blue.candidate, blue.operator === "llm" ? "llm" : "feedback", {
    feedback: {
      pattern: { ...summary[0] },
      hypothesis: h.description,
      cases: records.map((r) => ({ id: r.id, input: r.case.input, status: r.status, message: r.message })),
      records: patterns[0].examples.map((e) => ({
        ref: e.ref,
        score: e.score,
        source: e.source,
        comment: e.comment,
      })),
      engine_decision: blue.decision,
    },
  });
  if (candidate.status === "promoted") {
    const now = await o.host.live();
    const { verdicts } = await withEvaluator((ev) =>
      attack(ev, now.source, now.source, all.map((r) => ({ ...r.case, critical: false })))
    );
    await o.host.regressions.updateStatus(
      o.agent,
      new Set(all.filter((_, i) => verdicts[i].pass).map((r) => r.id)),
      now.version,
    );
  }
  return { examples: examples.length, patterns: summary, hypothesis, candidate, reason: candidate.reason };
}

async function withEvaluator<T>(f: (ev: SandboxEvaluator) => Promise<T>): Promise<T> {
  const ev = new SandboxEvaluator();
  try {
    return await f(ev);
  } finally {
    await ev.close();
  }
}

/** The hypothesis' cases the live version behaves as expected on: fails the disliked, passes the liked. */
async function verified(
  o: FeedbackLearningOptions,
  h: Hypothesis,
  live: string,
  evaluator: SandboxEvaluator,
): Promise<RegressionRecord[]> {
  const all = [
    ...h.improve.map((x) => ({ ...x, keep: false })),
    ...h.keep.map((x) => ({ ...x, why: "liked", keep: true })),
  ];
  const { verdicts } = await attack(evaluator, live, live, all.map((x) => ({ ...x.case, critical: false })));
  const out: RegressionRecord[] = [];
  all.forEach((x, i) => {
    if (verdicts[i].pass !== x.keep) return;
    const kind = x.keep ? "feedback-keep" : "feedback";
    out.push({
      agent: o.agent,
      id: regressionId(kind, x.case),
      origin: "feedback",
      kind,
      signature: `${kind}|${h.pattern}`,
      message: x.keep ? `liked answer (${x.ref})` : `${x.why} (${x.ref}): ${verdicts[i].message}`,
      case: { ...x.case, critical: x.keep },
      status: x.keep ? "fixed" : "open",
      found_ms: Date.now(),
      ...(o.jobId ? { found_by: o.jobId } : {}),
      evidence: { pattern: h.pattern, ref: x.ref },
    });
  });
  return out;
}
