/**
 * Auto-fix: error patterns in the logs become reproducing regression cases, fixes from the engine, and a
 * candidate on the protected path.
 *
 * 1. **Find.** The supervisor logs every invoke that failed in the agent's code (`invoke failed`, with
 *    the error code, message and the input; supervisor/http.ts) to `DATA/logs/o.log` (JSON lines).
 *    Lines are grouped by agent, error code, normalised message and input shape; a group with at least
 *    {@link SPIKE_COUNT_MIN} failures inside the window is a spike (the live error rate in the health
 *    monitor, a trigger of the job, says the same from the metrics side).
 * 2. **Root-cause guess.** The features (input_shape.ts) of the failing inputs are compared with those
 *    of inputs the agent answered (the answer log, the WAL's recent history): the feature most failing
 *    inputs have and fewest answered ones have names the likely cause, next to the error message.
 * 3. **Reproduce.** The failing inputs run against the live version in a jail; those that fail again
 *    (one per failure signature) are shrunk (red_team.ts) and stored in the regression set (origin
 *    `autofix`): from now on every evaluation of the agent runs them.
 * 4. **Fix.** The blue team evolves against the regression set; the result goes through the candidate
 *    path (operator `autofix`), and on promotion the report and evidence join the lineage record.
 *
 * @module
 */
import { patchWithFinds } from "./blue_team.ts";
import type { CoevolutionHost, SubmitOutcome } from "./coevolution.ts";
import { SandboxEvaluator } from "./evaluator.ts";
import { features, keyOf, normalizeMessage, shapeKey, sizeOf } from "./input_shape.ts";
import type { LlmMutator } from "./llm_mutator.ts";
import { answersCase, attack, recordOf, shrinkAll, type Verdict } from "./red_team.ts";
import type { RegressionRecord } from "./regressions.ts";
import type { TypeDiagnostic } from "./typecheck.ts";

/** Failures of one group inside the window that make a spike. */
export const SPIKE_COUNT_MIN = 3;
/** The window a spike is counted in, ms. */
export const SPIKE_WINDOW_MS = 15 * 60_000;
/** Inputs of one pattern tried as reproductions. */
export const REPRODUCE_INPUTS_MAX = 16;

/** One JSON log line (observability/log.ts), as far as auto-fix reads it. */
export interface LogLine {
  time: string;
  level: string;
  msg: string;
  agent?: string;
  version?: string;
  request_id?: string;
  code?: string;
  error?: string;
  input?: unknown;
  input_kept?: boolean;
}

/** A group of failures. */
export interface ErrorPattern {
  agent: string;
  code: string;
  /** The normalised message (numbers and quoted parts blanked). */
  message: string;
  /** One message as logged. */
  example: string;
  shape: string;
  count: number;
  window_count: number;
  first_ms: number;
  last_ms: number;
  versions: string[];
  spike: boolean;
  /** Kept inputs, smallest first, deduplicated. */
  inputs: unknown[];
  request_ids: string[];
}

/** What the cause probably is. */
export interface RootCause {
  feature: string | null;
  /** Share of failing inputs with the feature. */
  failing_share: number;
  /** Share of answered inputs with it. */
  answered_share: number;
  text: string;
}

/**
 * Parses JSON log lines; malformed lines are skipped.
 *
 * @param text The log file's content.
 */
export function parseLogLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split("\n")) {
    if (line.length === 0 || line[0] !== "{") continue;
    try {
      const v = JSON.parse(line);
      if (typeof v?.msg === "string") out.push(v);
    } catch {
      // A torn last line (the process was killed mid-write): skip it.
    }
  }
  return out;
}

/**
 * Groups the failures in the lines (see the module doc), biggest spike first.
 *
 * @param lines Parsed log lines.
 * @param options `agent` (only that one), `now` and `windowMs` (the spike window).
 */
export function findErrorPatterns(
  lines: readonly LogLine[],
  options: { agent?: string; now?: number; windowMs?: number } = {},
): ErrorPattern[] {
  const now = options.now ?? Date.now();
  const since = now - (options.windowMs ?? SPIKE_WINDOW_MS);
  const groups = new Map<string, ErrorPattern>();
  for (const l of lines) {
    if (l.msg !== "invoke failed" || typeof l.agent !== "string") continue;
    if (options.agent !== undefined && l.agent !== options.agent) continue;
    const t = Date.parse(l.time);
    const at = Number.isFinite(t) ? t : now;
    const message = normalizeMessage(String(l.error ?? ""));
    const shape = l.input_kept === false ? "(too large)" : shapeKey(l.input);
    const key = [l.agent, l.code, message, shape].join("\u0000");
    let g = groups.get(key);
    if (g === undefined) {
      g = {
        agent: l.agent,
        code: String(l.code ?? "?"),
        message,
        example: String(l.error ?? ""),
        shape,
        count: 0,
        window_count: 0,
        first_ms: at,
        last_ms: at,
        versions: [],
        spike: false,
        inputs: [],
        request_ids: [],
      };
      groups.set(key, g);
    }
    g.count++;
    if (at >= since) g.window_count++;
    g.first_ms = Math.min(g.first_ms, at);
    g.last_ms = Math.max(g.last_ms, at);
    if (l.version && !g.versions.includes(l.version)) g.versions.push(l.version);
    if (l.request_id && g.request_ids.length < 32) g.request_ids.push(l.request_id);
    if (l.input_kept !== false && "input" in l && !g.inputs.some((i) => keyOf(i) === keyOf(l.input))) {
      g.inputs.push(l.input);
    }
  }
  const out = [...groups.values()];
  for (const g of out) {
    g.spike = g.window_count >= SPIKE_COUNT_MIN;
    g.inputs.sort((a, b) => sizeOf(a) - sizeOf(b));
    g.inputs = g.inputs.slice(0, REPRODUCE_INPUTS_MAX);
  }
  return out.sort((a, b) => b.window_count - a.window_count || b.count - a.count);
}

/**
 * The root-cause guess of the module doc.
 *
 * @param pattern The failure group.
 * @param answered Inputs the agent answered.
 */
export function rootCauseGuess(pattern: ErrorPattern, answered: readonly unknown[]): RootCause {
  const share = (inputs: readonly unknown[]) => {
    const counts = new Map<string, number>();
    for (const i of inputs) for (const f of features(i)) counts.set(f, (counts.get(f) ?? 0) + 1);
    return (f: string) => inputs.length === 0 ? 0 : (counts.get(f) ?? 0) / inputs.length;
  };
  const failing = share(pattern.inputs);
  const passing = share(answered);
  let best: { feature: string; f: number; p: number } | null = null;
  for (const f of new Set(pattern.inputs.flatMap((i) => features(i)))) {
    const d = failing(f) - passing(f);
    if (best === null || d > best.f - best.p || (d === best.f - best.p && f < best.feature)) {
      best = { feature: f, f: failing(f), p: passing(f) };
    }
  }
  const head = `${pattern.code} "${
    pattern.example.slice(0, 120)
  }" on ${pattern.count} ${pattern.shape} input(s)`;
  if (best === null || best.f - best.p < 0.3) {
    return {
      feature: null,
      failing_share: 0,
      answered_share: 0,
      text: `${head}; no input feature sets them apart`,
    };
  }
  const pct = (x: number) => `${Math.round(100 * x)} %`;
  return {
    feature: best.feature,
    failing_share: best.f,
    answered_share: best.p,
    text: `${head}; ${pct(best.f)} of the failing inputs have ${best.feature}, ${
      pct(best.p)
    } of the answered ones`,
  };
}

/** Options of {@link runAutofix}. */
export interface AutofixOptions {
  agent: string;
  host: CoevolutionHost;
  lines: readonly LogLine[];
  /** Inputs the agent answered (for the root-cause guess). */
  answered: readonly unknown[];
  typeCheck: ((source: string) => TypeDiagnostic[]) | null;
  /** @default 1 */
  seed?: string | number;
  generations?: number;
  populationSize?: number;
  llm?: LlmMutator | null;
  jobId?: string;
  now?: number;
}

/** What auto-fix found and did. */
export interface AutofixReport {
  found: Omit<ErrorPattern, "inputs">[];
  root_cause: RootCause | null;
  reproduced: { input: unknown; message: string; kind: string }[];
  fix: { candidate: SubmitOutcome | null; reason: string } | null;
  reason: string;
}

/** Runs auto-fix once (see the module doc) on the agent's biggest spike. */
export async function runAutofix(o: AutofixOptions): Promise<AutofixReport> {
  const patterns = findErrorPatterns(o.lines, { agent: o.agent, now: o.now });
  const found = patterns.slice(0, 8).map(({ inputs: _i, ...p }) => p);
  const spike = patterns.find((p) => p.spike && p.inputs.length > 0);
  if (spike === undefined) {
    return { found, root_cause: null, reproduced: [], fix: null, reason: "no error spike" };
  }
  const root = rootCauseGuess(spike, o.answered);
  const live = await o.host.live();
  const records = await reproduce(o, spike, live.source, root);
  const reproduced = records.map((r) => ({ input: r.case.input, message: r.message, kind: r.kind }));
  const base = { found, root_cause: root, reproduced };
  if (records.length === 0) {
    return { ...base, fix: null, reason: "the failures do not reproduce against the live version" };
  }
  const { blue, records: all } = await patchWithFinds(
    o,
    live.source,
    records,
    `The agent fails in production: ${root.text}. ` +
      `Failing inputs: ${reproduced.map((r) => JSON.stringify(r.input)).join(", ").slice(0, 600)}. ` +
      `Fix the cause, keep every other answer the same.`,
  );
  if (blue.candidate === null) {
    return { ...base, fix: { candidate: null, reason: blue.reason }, reason: blue.reason };
  }
  const candidate = await o.host.submit(blue.candidate, blue.operator === "llm" ? "llm" : "autofix", {
    autofix: {
      pattern: { ...found.find((p) => p.message === spike.message && p.shape === spike.shape) },
      root_cause: root,
      reproduced,
      engine_decision: blue.decision,
      via: blue.operator,
    },
  });
  if (candidate.status === "promoted") {
    const now = await o.host.live();
    const ev = new SandboxEvaluator();
    try {
      const { verdicts } = await attack(
        ev,
        now.source,
        now.source,
        all.map((r) => ({ ...r.case, critical: false })),
      );
      await o.host.regressions.updateStatus(
        o.agent,
        new Set(all.filter((_, i) => verdicts[i].pass).map((r) => r.id)),
        now.version,
      );
    } finally {
      await ev.close();
    }
  }
  return { ...base, fix: { candidate, reason: candidate.reason }, reason: candidate.reason };
}

/** Runs the pattern's inputs against the live version; the ones failing the logged way, shrunk, as records. */
async function reproduce(
  o: AutofixOptions,
  p: ErrorPattern,
  live: string,
  root: RootCause,
): Promise<RegressionRecord[]> {
  const ev = new SandboxEvaluator();
  try {
    const { verdicts } = await attack(ev, live, live, p.inputs.map((i) => answersCase(i)));
    const failing = new Map<string, Verdict>();
    for (const v of verdicts) {
      if (v.pass) continue;
      const best = failing.get(v.signature!);
      if (best === undefined || sizeOf(v.input) < sizeOf(best.input)) failing.set(v.signature!, v);
    }
    const { shrunk } = await shrinkAll({ evaluator: ev, source: live }, failing);
    return [...shrunk.values()].map((v) => ({
      ...recordOf({ agent: o.agent, origin: "autofix", foundBy: o.jobId }, v),
      evidence: {
        code: p.code,
        message: p.example,
        request_ids: p.request_ids.slice(0, 8),
        root_cause: root.text,
      },
    }));
  } finally {
    await ev.close();
  }
}
