/**
 * The adversarial loop: red and blue rounds, alternating, against the live agent, until convergence.
 *
 * Each round: the red team attacks the live version (red_team.ts), every new failure (shrunk) is stored
 * in the regression set and the standing of the live version on the whole set is recorded (`open` /
 * `fixed`); then, while anything is open, the blue team (blue_team.ts) evolves a patch against the whole
 * set and submits it through the protected path — the host's candidate queue, i.e. stage 0, a shadow on
 * mirrored traffic, the lock-step evaluation and the arbiter. Nothing is promoted here; a promoted
 * candidate becomes the live version the next red round attacks.
 *
 * Convergence: the red team finds nothing new for K rounds in a row and nothing is open (robust), or it
 * finds nothing new for K rounds and the blue team's robustness (the share of the regression set the live
 * version passes) has not risen for P rounds (a plateau: what is left, blue cannot fix). The loop also
 * stops at its round limit or budget. The report counts rounds, failures found, fixed and remaining.
 *
 * The state after each round is plain JSON handed to `onRound`; passed back as `state`, the loop resumes
 * at the next round (rounds are the unit of resumption; each round's inputs depend only on the seed and
 * the round number).
 *
 * @module
 */
import { runBlueTeam } from "./blue_team.ts";
import type { Evaluator } from "./eval_result.ts";
import { SandboxEvaluator } from "./evaluator.ts";
import { subSeed } from "./input_shape.ts";
import type { LlmMutator } from "./llm_mutator.ts";
import { attack, runRedTeam } from "./red_team.ts";
import type { RegressionRecord, RegressionStore } from "./regressions.ts";
import type { TypeDiagnostic } from "./typecheck.ts";

/** Rounds of one loop at most. */
export const COEVOLUTION_ROUNDS_MAX = 50;
/** Rounds in a row with nothing new before the loop may converge. @default */
export const QUIET_ROUNDS_DEFAULT = 2;
/** Rounds without a robustness gain that make a plateau. */
export const PLATEAU_ROUNDS_DEFAULT = 3;

/** How a loop reaches the live agent and the protected path. */
export interface CoevolutionHost {
  /** The live version's source and version label, now. */
  live(): Promise<{ source: string; version: string }>;
  regressions: RegressionStore;
  /**
   * Submits a candidate through the protected path and waits for the decision.
   *
   * @param evidence What made it (joined to the lineage record on promotion).
   */
  submit(source: string, operator: string, evidence: Record<string, unknown>): Promise<SubmitOutcome>;
  /** Aborts the loop between steps. */
  signal?: AbortSignal;
}

/** A candidate's fate on the protected path. */
export interface SubmitOutcome {
  id: string;
  status: "promoted" | "rejected";
  version: string;
  reason: string;
}

/** One round's summary. */
export interface RoundReport {
  round: number;
  red: { inputs: number; failing: number; fresh: number; kinds: Record<string, number>; shrinks: number };
  blue: {
    attempted: boolean;
    operator?: string;
    reason?: string;
    tampered?: number;
    held_out?: string | null;
    candidate?: SubmitOutcome;
  };
  /** Share of the regression set the live version passes at the end of the round. */
  robustness: number;
  open: number;
  fixed: number;
  ms: number;
}

/** The loop's resumable state (plain JSON). */
export interface CoevolutionState {
  agent: string;
  seed: string;
  /** The next round to run. */
  round: number;
  quiet: number;
  plateau: number;
  bestRobustness: number;
  found: string[];
  rounds: RoundReport[];
  done: boolean;
  reason: string;
}

/** The report of a loop. */
export interface CoevolutionReport {
  agent: string;
  rounds: number;
  converged: boolean;
  reason: string;
  /** Failures the red team found in this loop. */
  failures_found: number;
  /** Of those, how many the live version passes now. */
  fixed: number;
  /** Open cases of the whole regression set. */
  remaining: number;
  promoted: string[];
  rounds_detail: RoundReport[];
}

/** Options of {@link runCoevolution}. */
export interface CoevolutionOptions {
  agent: string;
  host: CoevolutionHost;
  /** @default 1 */
  seed?: string | number;
  /** @default 8 */
  roundsMax?: number;
  /** K. @default QUIET_ROUNDS_DEFAULT */
  quietRounds?: number;
  /** P. @default PLATEAU_ROUNDS_DEFAULT */
  plateauRounds?: number;
  /** Stop starting rounds after this long, ms. */
  budgetMs?: number;
  typeCheck: ((source: string) => TypeDiagnostic[]) | null;
  /** Blue team's engine bounds. */
  generations?: number;
  populationSize?: number;
  llm?: LlmMutator | null;
  /** Red team inputs per round. */
  inputsMax?: number;
  /** Final-stage repetitions of the blue team's engine. */
  repeatsFinal?: number;
  jobId?: string;
  state?: CoevolutionState;
  onRound?: (state: CoevolutionState) => void | Promise<void>;
}

/** Thrown (by the host's signal) when a loop is cancelled between steps. */
export class CoevolutionAborted extends Error {}

function check(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CoevolutionAborted("the loop was stopped");
}

/** The live version's standing on the regression set: ids it passes. */
async function standing(
  evaluator: Evaluator,
  source: string,
  records: readonly RegressionRecord[],
): Promise<Set<string>> {
  if (records.length === 0) return new Set();
  const { verdicts } = await attack(
    evaluator,
    source,
    source,
    records.map((r) => ({ ...r.case, critical: false })),
  );
  return new Set(records.filter((_, i) => verdicts[i].pass).map((r) => r.id));
}

/**
 * Runs (or resumes) the adversarial loop (see the module doc).
 *
 * @returns The report.
 * @throws {CoevolutionAborted} When the host's signal aborts it (its state was saved after the last round).
 */
export async function runCoevolution(o: CoevolutionOptions): Promise<CoevolutionReport> {
  const seed = String(o.seed ?? 1);
  const state: CoevolutionState = o.state ? structuredClone(o.state) : {
    agent: o.agent,
    seed,
    round: 0,
    quiet: 0,
    plateau: 0,
    bestRobustness: -1,
    found: [],
    rounds: [],
    done: false,
    reason: "",
  };
  const started = performance.now();
  const roundsMax = Math.min(o.roundsMax ?? 8, COEVOLUTION_ROUNDS_MAX);
  const evaluator = new SandboxEvaluator();
  try {
    while (!state.done) {
      if (state.round >= roundsMax) (state.done = true, state.reason = `round limit (${roundsMax})`);
      else if (o.budgetMs !== undefined && performance.now() - started >= o.budgetMs) {
        state.done = true;
        state.reason = "budget spent";
      } else await round(o, state, evaluator);
      await o.onRound?.(structuredClone(state));
    }
  } finally {
    await evaluator.close();
  }
  return report(o, state);
}

async function round(o: CoevolutionOptions, state: CoevolutionState, evaluator: Evaluator): Promise<void> {
  const t0 = performance.now();
  const store = o.host.regressions;
  check(o.host.signal);
  const live = await o.host.live();
  const known = await store.list(o.agent);
  const red = await runRedTeam({
    agent: o.agent,
    source: live.source,
    evaluator,
    seed: state.seed,
    round: state.round,
    known,
    inputsMax: o.inputsMax,
    foundBy: o.jobId,
  });
  await store.updateStatus(o.agent, new Set(red.known.passing), live.version);
  const added = await store.add(red.fresh);
  state.found.push(...added.map((r) => r.id));
  const entry: RoundReport = {
    round: state.round,
    red: {
      inputs: red.inputs,
      failing: red.failing,
      fresh: added.length,
      kinds: red.kinds,
      shrinks: red.shrinks,
    },
    blue: { attempted: false },
    robustness: 0,
    open: 0,
    fixed: 0,
    ms: 0,
  };
  let records = await store.list(o.agent);
  if (records.some((r) => r.status === "open")) {
    check(o.host.signal);
    entry.blue = await blueRound(o, state, live.source, records);
    if (entry.blue.candidate?.status === "promoted") {
      const now = await o.host.live();
      await store.updateStatus(o.agent, await standing(evaluator, now.source, records), now.version);
      records = await store.list(o.agent);
    }
  }
  const fixed = records.filter((r) => r.status === "fixed").length;
  entry.open = records.length - fixed;
  entry.fixed = fixed;
  entry.robustness = records.length === 0 ? 1 : fixed / records.length;
  entry.ms = Math.round(performance.now() - t0);
  state.rounds.push(entry);
  state.round++;
  advance(o, state, entry);
}

/** Updates the convergence counters after a round. */
function advance(o: CoevolutionOptions, state: CoevolutionState, entry: RoundReport): void {
  const k = o.quietRounds ?? QUIET_ROUNDS_DEFAULT;
  const p = o.plateauRounds ?? PLATEAU_ROUNDS_DEFAULT;
  state.quiet = entry.red.fresh === 0 ? state.quiet + 1 : 0;
  if (entry.robustness > state.bestRobustness) (state.bestRobustness = entry.robustness, state.plateau = 0);
  else state.plateau++;
  if (state.quiet >= k && entry.open === 0) {
    state.done = true;
    state.reason = `converged: nothing new for ${state.quiet} rounds, nothing open`;
  } else if (state.quiet >= k && state.plateau >= p) {
    state.done = true;
    state.reason = `converged: nothing new for ${state.quiet} rounds, robustness plateaued at ${
      entry.robustness.toFixed(3)
    } (${entry.open} open)`;
  }
}

async function blueRound(
  o: CoevolutionOptions,
  state: CoevolutionState,
  source: string,
  records: RegressionRecord[],
): Promise<RoundReport["blue"]> {
  const blue = await runBlueTeam({
    source,
    records,
    typeCheck: o.typeCheck,
    seed: subSeed(state.seed, `blue/${state.round}`),
    generations: o.generations,
    populationSize: o.populationSize,
    llm: o.llm,
    repeatsFinal: o.repeatsFinal,
  });
  const out: RoundReport["blue"] = {
    attempted: true,
    operator: blue.operator,
    reason: blue.reason,
    tampered: blue.tampered.count,
    held_out: blue.heldOut,
  };
  if (blue.candidate === null) return out;
  check(o.host.signal);
  const open = records.filter((r) => r.status === "open");
  out.candidate = await o.host.submit(blue.candidate, blue.operator === "llm" ? "llm" : "red-team", {
    coevolution: {
      round: state.round,
      seed: state.seed,
      targets: open.map((r) => ({ id: r.id, kind: r.kind, input: r.case.input, message: r.message })),
      engine_decision: blue.decision,
      held_out: blue.heldOut,
      tampered: blue.tampered,
    },
  });
  return out;
}

async function report(o: CoevolutionOptions, state: CoevolutionState): Promise<CoevolutionReport> {
  const records = await o.host.regressions.list(o.agent);
  const found = new Set(state.found);
  const mine = records.filter((r) => found.has(r.id));
  return {
    agent: o.agent,
    rounds: state.rounds.length,
    converged: state.reason.startsWith("converged"),
    reason: state.reason,
    failures_found: mine.length,
    fixed: mine.filter((r) => r.status === "fixed").length,
    remaining: records.filter((r) => r.status === "open").length,
    promoted: state.rounds.flatMap((r) =>
      r.blue.candidate?.status === "promoted" ? [r.blue.candidate.version] : []
    ),
    rounds_detail: state.rounds,
  };
}
