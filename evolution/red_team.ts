/**
 * The red team: evolves inputs that make the blue agent (the live version) fail, crash, time out or slow
 * down, and keeps every failure forever as a regression case.
 *
 * A round draws inputs from four sources: property-based generators of the agent's input shape (inferred
 * from its evals' inputs, npm `fast-check`, seeded per round), edge-case seeds (empty, huge, unicode,
 * NaN, infinities, negative, deeply nested), mutations and crossovers of past inputs (the regression set
 * and the evals), and then a stress burst (repeated calls of a few inputs, looking for calls that grow
 * slower). Every input runs against the live code in a jail, through the {@link Evaluator} (the
 * evaluation jail of eval_main.ts: the inputs are regression cases with `answers: true`), as one batch.
 *
 * The oracles, all on inputs of the declared shape: a throw (`crash`), a time-out or a runaway loop caught
 * by the work budget (`timeout`), an output holding NaN or an infinity the input did not hold
 * (`nonfinite`), an output that cannot be sent (`unsendable`), a broken general property of the live
 * evals (`property`: a `score` function that holds on every eval input must hold on every input), a jail
 * killed for memory or time (`jail`, found by bisecting the batch), and work per input size far above
 * the evals' (`slow`).
 *
 * Every new failure is minimised: shrink steps (input_shape.ts) are tried in jailed batches and the
 * smallest input that still fails with the same signature (kind + normalised message) replaces it, until
 * none does. A failure is new when no stored case has its input and no open stored case its signature.
 *
 * @module
 */
import type { EvaluateOptions, Evaluator, RegressionCase } from "./eval_result.ts";
import {
  crossInputs,
  edgeSeeds,
  generate,
  inferShape,
  keyOf,
  mutateInput,
  normalizeMessage,
  type Shape,
  shrinkCandidates,
  sizeOf,
  subPrng,
  subSeed,
} from "./input_shape.ts";
import { median } from "./stats.ts";
import {
  literalEvalCases,
  regressionId,
  type RegressionOrigin,
  type RegressionRecord,
  toCases,
} from "./regressions.ts";

/** Inputs tried per red round (edge seeds, generated, mutated), before shrinking. */
export const RED_INPUTS_PER_ROUND = 96;
/** New failures (distinct signatures) kept per round; the rest wait for the next round. */
export const RED_NEW_PER_ROUND_MAX = 3;
/** Shrink rounds per failure (each one jailed batch). */
export const SHRINK_ROUNDS_MAX = 12;
/** A call over this fails as a time-out while the red team probes, ms. */
export const RED_CASE_MS_MAX = 500;
/** Bisection depth when a batch kills its jail. */
export const BISECT_DEPTH_MAX = 7;
/** Work per input size this many times the evals' own is a `slow` finding… */
export const SLOW_WORK_FACTOR = 50;
/** …if the call also took at least this long, ms. */
export const SLOW_MS_MIN = 200;
/** Inputs of a stress burst, and the calls made of each. */
export const BURST_INPUTS = 6;
export const BURST_REPEATS = 20;

/** What one input did. */
export interface Verdict {
  input: unknown;
  pass: boolean;
  /** `crash`, `timeout`, `property`, `nonfinite`, `unsendable`, `disliked`, `wrong`, `jail`, `slow`, or `null`. */
  kind: string | null;
  message: string;
  /** Kind plus normalised message, `null` for a pass. */
  signature: string | null;
  work: number;
  ms: number;
}

/** Options of {@link runRedTeam}. */
export interface RedTeamOptions {
  agent: string;
  /** The live version's source (the code attacked and the yardstick). */
  source: string;
  /** The jailed evaluator. */
  evaluator: Evaluator;
  /** @default 1 */
  seed?: string | number;
  /** The round number (each round draws other inputs). @default 0 */
  round?: number;
  /** The stored regression set: its inputs are mutated, and the live version's standing on it is checked. */
  known?: readonly RegressionRecord[];
  /** @default RED_INPUTS_PER_ROUND */
  inputsMax?: number;
  /** @default RED_NEW_PER_ROUND_MAX */
  newMax?: number;
  /** @default SHRINK_ROUNDS_MAX */
  shrinkRoundsMax?: number;
  /** Run a stress burst. @default true */
  burst?: boolean;
  /** @default RED_CASE_MS_MAX */
  caseMsMax?: number;
  /** @default "red-team" */
  origin?: RegressionOrigin;
  /** The job id, recorded with each find. */
  foundBy?: string;
}

/** One round's report. */
export interface RedTeamReport {
  round: number;
  /** Inputs tried (before shrinking). */
  inputs: number;
  /** Of those, how many failed. */
  failing: number;
  /** New failures, shrunk, as records to store. */
  fresh: RegressionRecord[];
  /** Known records the live version passes / fails now. */
  known: { passing: string[]; failing: string[] };
  /** Failures by kind (before deduplication). */
  kinds: Record<string, number>;
  /** Stress-burst findings: inputs whose calls grew slower (reported, not stored: timing-based). */
  bursts: { input: unknown; first_ms: number; last_ms: number }[];
  /** Evaluator calls (jailed batches) made. */
  batches: number;
  /** Shrink steps that made an input smaller. */
  shrinks: number;
  shape: Shape;
}

/** The kind of a failure from the evaluation's error text. */
export function classifyFailure(error: string): string {
  if (/work budget exceeded|no answer within|over \d+(\.\d+)? ms|ran past the time bound/.test(error)) {
    return "timeout";
  }
  if (/^property \d+/.test(error)) return "property";
  if (error.startsWith("the output holds a non-finite")) return "nonfinite";
  if (error.startsWith("the output is a disliked")) return "disliked";
  if (error.startsWith("the output cannot be sent")) return "unsendable";
  if (error === "output differs from expect") return "wrong";
  if (/^Killed|^The jail/.test(error)) return "jail";
  return "crash";
}

/** An `answers` case for an input: it must answer and keep the live evals' general properties. */
export function answersCase(input: unknown, extra: Partial<RegressionCase> = {}): RegressionCase {
  return { input, answers: true, properties: true, critical: false, ...extra };
}

/**
 * Runs cases against `source` (with the evals of `evalsFrom`) in one jailed batch, bisecting when the
 * batch kills its jail, and reports one verdict per case.
 *
 * @param evaluator The jailed evaluator.
 * @param source The code under test.
 * @param evalsFrom The live version (its evals and properties are the yardstick).
 * @param cases The cases.
 * @param options `caseMsMax`, `repeats`.
 * @returns Verdicts in order, and how many batches it took.
 */
export async function attack(
  evaluator: Evaluator,
  source: string,
  evalsFrom: string,
  cases: readonly RegressionCase[],
  options: { caseMsMax?: number; repeats?: number } = {},
): Promise<{ verdicts: Verdict[]; batches: number; evalWork: number[] }> {
  const state = { batches: 0, evalWork: [] as number[] };
  const verdicts = await attackBisect(evaluator, source, evalsFrom, cases, options, state, 0);
  return { verdicts, ...state };
}

async function attackBisect(
  evaluator: Evaluator,
  source: string,
  evalsFrom: string,
  cases: readonly RegressionCase[],
  options: { caseMsMax?: number; repeats?: number },
  state: { batches: number; evalWork: number[] },
  depth: number,
): Promise<Verdict[]> {
  if (cases.length === 0) return [];
  const opts: EvaluateOptions = {
    regression: [...cases],
    repeats: options.repeats ?? 1,
    count: true,
    cascade: false,
    caseMsMax: options.caseMsMax ?? RED_CASE_MS_MAX,
  };
  state.batches++;
  const [result] = await evaluator.evaluate([source], evalsFrom, opts);
  if (!result.ok) {
    if (cases.length === 1 || depth >= BISECT_DEPTH_MAX) {
      const message = result.error ?? "the jail died";
      return cases.map((c) => verdict(c.input, false, "jail", message, 0, 0));
    }
    const half = Math.ceil(cases.length / 2);
    const a = await attackBisect(
      evaluator,
      source,
      evalsFrom,
      cases.slice(0, half),
      options,
      state,
      depth + 1,
    );
    const b = await attackBisect(evaluator, source, evalsFrom, cases.slice(half), options, state, depth + 1);
    return [...a, ...b];
  }
  const evals = result.cases.filter((c) => !c.regression);
  if (state.evalWork.length === 0) state.evalWork = evals.map((c) => c.work);
  const mine = result.cases.slice(evals.length, evals.length + cases.length);
  return mine.map((c, i) => {
    const ms = c.ms.length > 0 ? c.ms[0] : 0;
    if (c.pass) return verdict(cases[i].input, true, null, "", c.work, ms);
    const message = c.error ?? "failed";
    return verdict(cases[i].input, false, classifyFailure(message), message, c.work, ms);
  });
}

function verdict(
  input: unknown,
  pass: boolean,
  kind: string | null,
  message: string,
  work: number,
  ms: number,
): Verdict {
  return {
    input,
    pass,
    kind,
    message,
    signature: kind === null ? null : `${kind}|${normalizeMessage(message)}`,
    work,
    ms,
  };
}

/** The inputs of one round: edge seeds first (round 0 only), then generated, mutated and crossed inputs. */
function roundInputs(
  shape: Shape,
  evalInputs: readonly unknown[],
  known: readonly RegressionRecord[],
  seed: string | number,
  round: number,
  max: number,
): unknown[] {
  const out: unknown[] = [];
  const seen = new Set<string>([...evalInputs, ...known.map((k) => k.case.input)].map(keyOf));
  const add = (v: unknown) => {
    const key = keyOf(v);
    if (out.length < max && !seen.has(key)) (seen.add(key), out.push(v));
  };
  const edges = edgeSeeds(shape, evalInputs);
  // Edges are few and always worth a try; spread them over the first rounds so each round stays small.
  const perRound = Math.ceil(max / 3);
  edges.slice(round * perRound, (round + 1) * perRound).forEach(add);
  const prng = subPrng(seed, `red/${round}/mutate`);
  const pool = [...evalInputs, ...known.map((k) => k.case.input)];
  const alphabet = shape.kind === "object"
    ? Object.values(shape.fields).flatMap((f) => f.kind === "string" ? f.alphabet : [])
    : shape.kind === "string"
    ? shape.alphabet
    : [];
  const mutants = Math.floor((max - out.length) / 4);
  for (let i = 0; i < mutants && pool.length > 0; i++) {
    add(
      prng.chance(0.7)
        ? mutateInput(prng.pick(pool), prng, alphabet)
        : crossInputs(prng.pick(pool), prng.pick(pool), prng),
    );
  }
  for (const v of generate(shape, 2 * (max - out.length), subSeed(seed, `red/${round}/generate`))) add(v);
  return out;
}

/** `slow` verdicts: work per input size far above the evals', and a long call. */
function markSlow(verdicts: Verdict[], evalWork: number[], evalInputs: readonly unknown[]): void {
  const sizes = evalInputs.map((i) => sizeOf(i));
  const reference = evalWork.length > 0
    ? Math.max(...evalWork) / Math.max(1, median(sizes.length ? sizes : [1]))
    : 0;
  for (const v of verdicts) {
    if (!v.pass || reference <= 0) continue;
    const perSize = v.work / Math.max(1, sizeOf(v.input));
    if (perSize > SLOW_WORK_FACTOR * reference && v.ms >= SLOW_MS_MIN) {
      Object.assign(v, verdict(v.input, false, "slow", `slow: ${Math.round(v.ms)} ms`, v.work, v.ms));
    }
  }
}

/**
 * Shrinks failing inputs (one per signature) against `o.source`, all signatures in one jailed batch per
 * step: the smallest shrink step that still fails with the same signature replaces each input, until none
 * does or the rounds run out. `slow` and `jail` failures are kept as found (timing and kills do not shrink
 * reliably).
 *
 * @returns The smallest failing input per signature, and the steps that made one smaller.
 */
export async function shrinkAll(
  o: Pick<RedTeamOptions, "evaluator" | "source" | "shrinkRoundsMax" | "caseMsMax">,
  failures: Map<string, Verdict>,
  state: { batches: number } = { batches: 0 },
): Promise<{ shrunk: Map<string, Verdict>; steps: number }> {
  const current = new Map(failures);
  const active = new Set([...current.keys()].filter((s) => !s.startsWith("slow|") && !s.startsWith("jail|")));
  let steps = 0;
  for (let r = 0; r < (o.shrinkRoundsMax ?? SHRINK_ROUNDS_MAX) && active.size > 0; r++) {
    const batch: { signature: string; input: unknown }[] = [];
    for (const sig of active) {
      for (const input of shrinkCandidates(current.get(sig)!.input)) batch.push({ signature: sig, input });
    }
    if (batch.length === 0) break;
    const { verdicts, batches } = await attack(
      o.evaluator,
      o.source,
      o.source,
      batch.map((b) => answersCase(b.input)),
      { caseMsMax: o.caseMsMax },
    );
    state.batches += batches;
    for (const sig of [...active]) {
      // Candidates are sorted smallest first: the first that still fails the same way wins.
      const k = batch.findIndex((b, i) => b.signature === sig && verdicts[i].signature === sig);
      if (k < 0) active.delete(sig);
      else {
        current.set(sig, verdicts[k]);
        steps++;
      }
    }
  }
  return { shrunk: current, steps };
}

/** Stress burst: repeated calls of a few passing inputs; calls that grow much slower are reported. */
async function burst(o: RedTeamOptions, inputs: unknown[], state: { batches: number }) {
  if (inputs.length === 0) return [];
  const [result] = await o.evaluator.evaluate([o.source], o.source, {
    regression: inputs.map((i) => answersCase(i)),
    repeats: BURST_REPEATS,
    count: false,
    cascade: false,
    caseMsMax: o.caseMsMax ?? RED_CASE_MS_MAX,
  });
  state.batches++;
  if (!result.ok) return [];
  const evals = result.cases.filter((c) => !c.regression).length;
  const out: { input: unknown; first_ms: number; last_ms: number }[] = [];
  result.cases.slice(evals, evals + inputs.length).forEach((c, i) => {
    if (c.ms.length < 10) return;
    const first = median(c.ms.slice(1, 6));
    const last = median(c.ms.slice(-5));
    if (last > 4 * first && last > 2) out.push({ input: inputs[i], first_ms: first, last_ms: last });
  });
  return out;
}

/**
 * One red round against the live version (see the module doc).
 *
 * @param o The agent, its live source, the evaluator, the seed and round, the stored regression set.
 * @returns What the round found; `fresh` holds the new records to store.
 */
export async function runRedTeam(o: RedTeamOptions): Promise<RedTeamReport> {
  const round = o.round ?? 0;
  const seed = o.seed ?? 1;
  const known = o.known ?? [];
  const evalInputs = literalEvalCases(o.source).map((c) => c.input);
  const shape = inferShape(evalInputs);
  const inputs = roundInputs(shape, evalInputs, known, seed, round, o.inputsMax ?? RED_INPUTS_PER_ROUND);
  const knownCases = toCases(known);
  const state = { batches: 0 };
  const all = [...knownCases, ...inputs.map((i) => answersCase(i))];
  const { verdicts, batches, evalWork } = await attack(o.evaluator, o.source, o.source, all, {
    caseMsMax: o.caseMsMax,
  });
  state.batches += batches;
  const knownVerdicts = verdicts.slice(0, knownCases.length);
  const mine = verdicts.slice(knownCases.length);
  markSlow(mine, evalWork, evalInputs);
  const kinds: Record<string, number> = {};
  for (const v of mine) if (!v.pass) kinds[v.kind!] = (kinds[v.kind!] ?? 0) + 1;
  const openSignatures = new Set(known.filter((k) => k.status === "open").map((k) => k.signature));
  const failures = new Map<string, Verdict>();
  for (const v of mine) {
    if (v.pass || openSignatures.has(v.signature!)) continue;
    const best = failures.get(v.signature!);
    if (best === undefined || sizeOf(v.input) < sizeOf(best.input)) failures.set(v.signature!, v);
  }
  const chosen = new Map([...failures].slice(0, o.newMax ?? RED_NEW_PER_ROUND_MAX));
  const { shrunk, steps } = await shrinkAll(o, chosen, state);
  const bursts = o.burst === false
    ? []
    : await burst(o, mine.filter((v) => v.pass).slice(0, BURST_INPUTS).map((v) => v.input), state);
  const knownIds = new Set(known.map((k) => k.id));
  const fresh = [...shrunk.values()].map((v) => recordOf(o, v)).filter((r) => !knownIds.has(r.id));
  return {
    round,
    inputs: inputs.length,
    failing: mine.filter((v) => !v.pass).length,
    fresh,
    known: {
      passing: known.filter((_, i) => knownVerdicts[i].pass).map((k) => k.id),
      failing: known.filter((_, i) => !knownVerdicts[i].pass).map((k) => k.id),
    },
    kinds,
    bursts,
    batches: state.batches,
    shrinks: steps,
    shape,
  };
}

/** A stored record for a (shrunk) failure. */
export function recordOf(
  o: Pick<RedTeamOptions, "agent" | "origin" | "foundBy">,
  v: Verdict,
): RegressionRecord {
  const c = answersCase(v.input, v.kind === "slow" ? { ms_max: Math.max(100, Math.round(v.ms / 4)) } : {});
  return {
    agent: o.agent,
    id: regressionId(v.kind!, c),
    origin: o.origin ?? "red-team",
    kind: v.kind!,
    signature: v.signature!,
    message: v.message,
    case: c,
    status: "open",
    found_ms: Date.now(),
    ...(o.foundBy ? { found_by: o.foundBy } : {}),
  };
}
