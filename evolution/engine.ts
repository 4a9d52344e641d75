/**
 * The evolution engine: islands of individuals, seeded operators, stage 0 (pre-filter, near-duplicate
 * rejection, type check), batched screening through an injected {@link Evaluator}, elitist tournament
 * survival with ring migration, then the final stage: the best few candidates are re-evaluated alone,
 * each in its own jail, in lock-step with two jails of the live version, and the arbiter decides. The
 * two live measurements also give an A/A comparison (the live version against itself), recorded with
 * every run: it must never promote.
 *
 * Determinism: every choice is drawn from one seeded PRNG and ranking uses the deterministic work count
 * (cost basis `work`), so the same seed, source and evaluator make the same individuals in the same
 * order and the same best candidate; only the arbiter's wall-clock statistics vary between runs. The run
 * state ({@link EngineState}, plain JSON) is handed to an injected `save` after every generation and can
 * be passed back as `resume` to continue exactly where the run stopped.
 *
 * @module
 */
import { prefilter } from "../sandbox/mod.ts";
import { assert } from "../protocol/mod.ts";
import { decide, type Decision } from "./arbiter.ts";
import { EngineStateError, EvolveOptionError } from "./errors.ts";
import type { EvalResult, Evaluator } from "./eval_result.ts";
import { computeFitness, type CostBasis, type Fitness, fitnessValue, REJECTED } from "./fitness.ts";
import { type Genome, normalizedHash, normalizedTokens, parseGenome } from "./genome.ts";
import { RESERVED_NAME } from "./compile.ts";
import {
  CHILD_ATTEMPTS_MAX,
  ELITES_PER_ISLAND,
  EVAL_CASE_MS_MAX,
  EVAL_REPEATS_FINAL,
  EVAL_REPEATS_SCREEN,
  FINALISTS_MAX,
  GENERATIONS_DEFAULT,
  GENERATIONS_MAX,
  ISLANDS_DEFAULT,
  ISLANDS_MAX,
  MIGRATION_INTERVAL_GENERATIONS,
  POPULATION_SIZE_DEFAULT,
  POPULATION_SIZE_MAX,
  TOURNAMENT_SIZE,
} from "./limits.ts";
import { mutate, pruneUnreachable } from "./operators.ts";
import { Prng, type PrngState } from "./prng.ts";
import { type Individual, migrate, rank, survive, tournament } from "./selection.ts";
import type { TypeDiagnostic } from "./typecheck.ts";

/** Why stage 0 turned a child away. */
export type Stage0Reject = "duplicate" | "parse" | "policy" | "type";

/** Stage 0's tally. */
export interface Stage0Stats {
  /** Children the operators made. */
  children: number;
  /** Children that passed stage 0 and were evaluated. */
  survived: number;
  rejected: Record<Stage0Reject, number>;
}

/** One lineage entry: what the supervisor stores per evaluated individual. */
export interface LineageRecord {
  id: string;
  parents: string[];
  operator: string;
  detail: string;
  generation: number;
  hash: string;
  fitness: Fitness;
  /** The arbiter's decision, for finalists. */
  decision?: Decision;
  promoted?: boolean;
}

/** The serializable state of a run (plain JSON). */
export interface EngineState {
  format: 1;
  seed: string;
  /** {@link normalizedHash} of the live source: a state resumes only against the same live version. */
  liveHash: string;
  /** The last generation completed (0: the initial population is evaluated). */
  generation: number;
  generations: number;
  populationSize: number;
  prng: PrngState;
  nextId: number;
  islands: Individual[][];
  live: Individual;
  seen: string[];
  stage0: Stage0Stats;
  /** Evaluations so far (sources evaluated, each over the whole eval set). */
  evals: number;
  /** Wall time spent in the evaluator, ms. */
  evalMs: number;
  lineage: LineageRecord[];
}

/** Progress after each generation. */
export interface EngineProgress {
  generation: number;
  generations: number;
  bestFitness: number;
  evals: number;
  evalsPerS: number;
}

/** Options of {@link runEvolution}. */
export interface EngineOptions {
  /** The live version's source (its evals are the yardstick). */
  source: string;
  evaluator: Evaluator & { prepare?(sources: string[]): void };
  /** @default 1 */
  seed?: string | number;
  /** @default GENERATIONS_DEFAULT */
  generations?: number;
  /** Individuals per island. @default POPULATION_SIZE_DEFAULT */
  populationSize?: number;
  /** @default ISLANDS_DEFAULT */
  islands?: number;
  /** Stop starting new generations after this much wall time, ms; the final stage still runs. @default none */
  budgetMs?: number;
  /** Milliseconds from any origin. @default performance.now */
  clock?: () => number;
  /** Called with the state after every generation (persist it to resume). */
  save?: (state: EngineState) => void | Promise<void>;
  /** A state from `save` to continue from. */
  resume?: EngineState;
  /** Stage 0's type check (e.g. `new TypeChecker()`); `null` skips it. */
  typeCheck: ((source: string) => TypeDiagnostic[]) | null;
  /** Called after every generation. */
  onProgress?: (progress: EngineProgress) => void;
  /** Cost step of the fitness order used for ranking. @default "work" (deterministic) */
  costBasis?: CostBasis;
  /** Timed repetitions in the final stage. @default EVAL_REPEATS_FINAL */
  repeatsFinal?: number;
}

/** What a run found. */
export interface EvolutionResult {
  promoted: boolean;
  /** The promoted source, or the live source when nothing was promoted. */
  source: string;
  /** The best candidate found (by the ranking), whether promoted or not; `null` if none beat the live version. */
  best: Individual | null;
  /** The deciding finalist's decision (the promoted one, or the last rejected), `null` without finalists. */
  decision: Decision | null;
  /** The live version against itself, measured like a finalist: must never promote. */
  aa: Decision | null;
  /** The live version's fitness from the final stage (alone, repeated timing). */
  baselineFitness: Fitness;
  /** The deciding finalist's fitness from the final stage (the baseline's when there was none). */
  bestFitness: Fitness;
  generations: number;
  evals: number;
  evalMs: number;
  evalsPerS: number;
  stage0: Stage0Stats & { rate: number };
  lineage: LineageRecord[];
  state: EngineState;
}

interface Run {
  o: Required<Omit<EngineOptions, "resume" | "save" | "onProgress" | "budgetMs" | "seed">> & EngineOptions;
  state: EngineState;
  prng: Prng;
  genomes: Map<string, Genome>;
  /** `state.seen` as a set. */
  seen: Set<string>;
  /** Token counts of the live source. */
  liveTokens: Map<string, number>;
}

function tokenCounts(source: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of normalizedTokens(source)) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

/** Tokens in one source and not the other, counted with multiplicity. */
function tokenDistance(live: Map<string, number>, source: string): number {
  const mine = tokenCounts(source);
  let d = 0;
  for (const [t, n] of mine) d += Math.abs(n - (live.get(t) ?? 0));
  for (const [t, n] of live) if (!mine.has(t)) d += n;
  return d;
}

function checkOptions(o: EngineOptions): void {
  const ranges: [string, number | undefined, number, number][] = [
    ["generations", o.generations, 0, GENERATIONS_MAX],
    ["populationSize", o.populationSize, 2, POPULATION_SIZE_MAX],
    ["islands", o.islands, 1, ISLANDS_MAX],
  ];
  for (const [name, value, min, max] of ranges) {
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
      throw new EvolveOptionError(
        "EVOLVE_OPTION_INVALID",
        `Cannot evolve as '${name}' must be an integer in [${min}, ${max}]: current value is ${value}`,
      );
    }
  }
}

function genomeOf(run: Run, ind: Individual): Genome {
  let g = run.genomes.get(ind.hash);
  if (g === undefined) {
    g = parseGenome(ind.source);
    if (run.genomes.size > 2048) run.genomes.clear();
    run.genomes.set(ind.hash, g);
  }
  return g;
}

/** Stage 0 for one child: near-duplicate, parse, pre-filter, reserved names, type check. */
function stage0(run: Run, source: string): Stage0Reject | null {
  const s = run.state;
  s.stage0.children++;
  const hash = normalizedHash(source);
  const reject = (why: Stage0Reject) => (s.stage0.rejected[why]++, why);
  if (run.seen.has(hash)) return reject("duplicate");
  run.seen.add(hash);
  s.seen.push(hash);
  try {
    parseGenome(source);
  } catch {
    return reject("parse");
  }
  if (!prefilter(source).ok || RESERVED_NAME.test(source)) return reject("policy");
  if (run.o.typeCheck !== null && run.o.typeCheck(source).length > 0) return reject("type");
  s.stage0.survived++;
  return null;
}

/** Makes up to `count` stage-0 survivors for one island. */
function breed(run: Run, island: Individual[], count: number, generation: number): Individual[] {
  const basis = run.o.costBasis;
  const out: Individual[] = [];
  for (let attempt = 0; out.length < count && attempt < count * CHILD_ATTEMPTS_MAX; attempt++) {
    const parent = tournament(island, TOURNAMENT_SIZE, run.prng, basis);
    const mate = tournament(island, TOURNAMENT_SIZE, run.prng, basis);
    const mates = mate.hash === parent.hash ? [] : [genomeOf(run, mate)];
    const made = mutate(genomeOf(run, parent), mates, run.prng);
    const child = made && { ...made, source: pruneUnreachable(made.source) };
    if (child === null || child.source === parent.source || stage0(run, child.source) !== null) continue;
    run.o.evaluator.prepare?.([child.source]);
    const parents = child.operator === "crossover" || child.detail.includes(":donor:")
      ? [parent.id, mate.id]
      : [parent.id];
    out.push({
      id: `c${run.state.nextId++}`,
      source: child.source,
      hash: normalizedHash(child.source),
      distance: tokenDistance(run.liveTokens, child.source),
      parents,
      operator: child.operator,
      detail: child.detail,
      generation,
      fitness: REJECTED,
    });
  }
  return out;
}

/** Screens individuals in one evaluator call and sets their fitness; records lineage. */
async function screen(run: Run, individuals: Individual[]): Promise<void> {
  if (individuals.length === 0) return;
  const sources = individuals.map((i) => i.source);
  const started = run.o.clock();
  const results = await run.o.evaluator.evaluate(sources, run.o.source, {
    repeats: EVAL_REPEATS_SCREEN,
    caseMsMax: caseBound(run),
  });
  run.state.evalMs += run.o.clock() - started;
  run.state.evals += sources.length;
  assert(results.length === individuals.length, "An evaluator answers once per source");
  individuals.forEach((ind, k) => {
    ind.fitness = computeFitness(results[k]);
    run.state.lineage.push({
      id: ind.id,
      parents: ind.parents,
      operator: ind.operator,
      detail: ind.detail,
      generation: ind.generation,
      hash: ind.hash,
      fitness: ind.fitness,
    });
  });
}

/** A screening call bound from the live version's own time: generous, but far below the jail's. */
function caseBound(run: Run): number {
  const live = run.state.live.fitness;
  if (live.rejected || live.total === 0) return EVAL_CASE_MS_MAX;
  return Math.min(EVAL_CASE_MS_MAX, Math.max(100, Math.ceil(50 * live.latencyMs)));
}

function initialState(o: EngineOptions, seed: string): EngineState {
  return {
    format: 1,
    seed,
    liveHash: normalizedHash(o.source),
    generation: -1,
    generations: o.generations ?? GENERATIONS_DEFAULT,
    populationSize: o.populationSize ?? POPULATION_SIZE_DEFAULT,
    prng: Prng.seeded(seed).state(),
    nextId: 0,
    islands: [],
    live: {
      id: "live",
      source: o.source,
      hash: normalizedHash(o.source),
      distance: 0,
      parents: [],
      operator: "live",
      detail: "live",
      generation: 0,
      fitness: REJECTED,
    },
    seen: [normalizedHash(o.source)],
    stage0: { children: 0, survived: 0, rejected: { duplicate: 0, parse: 0, policy: 0, type: 0 } },
    evals: 0,
    evalMs: 0,
    lineage: [],
  };
}

/** Checks a state from `save` before resuming it. */
function checkResume(state: EngineState, o: EngineOptions, seed: string): EngineState {
  const ok = state?.format === 1 && Array.isArray(state.islands) && Array.isArray(state.prng);
  if (!ok) {
    throw new EngineStateError("ENGINE_STATE_INVALID", "Cannot resume: the state is not an engine state");
  }
  if (state.seed !== seed) {
    throw new EngineStateError(
      "ENGINE_STATE_INVALID",
      `Cannot resume: the state is for seed ${state.seed}, not ${seed}`,
    );
  }
  if (state.liveHash !== normalizedHash(o.source)) {
    throw new EngineStateError(
      "ENGINE_STATE_INVALID",
      "Cannot resume: the live version changed since the state was saved",
    );
  }
  return structuredClone(state);
}

/** Generation 0: the live version plus mutants of it on every island, screened together. */
async function seedPopulation(run: Run, islands: number): Promise<void> {
  const s = run.state;
  const children = Array.from(
    { length: islands },
    () => breed(run, [s.live], s.populationSize - 1, 0),
  );
  await screen(run, [s.live, ...children.flat()]);
  s.islands = children.map((c) => rank([s.live, ...c], run.o.costBasis));
  s.generation = 0;
}

async function generation(run: Run, g: number): Promise<void> {
  const s = run.state;
  const basis = run.o.costBasis;
  const children = s.islands.map((island) => breed(run, island, s.populationSize - ELITES_PER_ISLAND, g));
  await screen(run, children.flat());
  s.islands = s.islands.map((island, i) =>
    survive(island, children[i], s.populationSize, ELITES_PER_ISLAND, run.prng, basis)
  );
  if (g % MIGRATION_INTERVAL_GENERATIONS === 0) s.islands = migrate(s.islands, basis);
  s.generation = g;
}

function progress(run: Run): EngineProgress {
  const s = run.state;
  const best = rank(s.islands.flat(), run.o.costBasis)[0];
  return {
    generation: s.generation,
    generations: s.generations,
    bestFitness: fitnessValue(best?.fitness ?? REJECTED),
    evals: s.evals,
    evalsPerS: s.evalMs > 0 ? (s.evals * 1000) / s.evalMs : 0,
  };
}

/**
 * Runs (or resumes) an evolution (see the module doc).
 *
 * @param options The live source, the evaluator, the seed and the bounds.
 * @returns The outcome with its evidence, lineage and final state.
 * @throws {EvolveOptionError} When an option is out of range.
 * @throws {EngineStateError} When `resume` does not belong to this run.
 */
export async function runEvolution(options: EngineOptions): Promise<EvolutionResult> {
  checkOptions(options);
  const seed = String(options.seed ?? 1);
  const o = {
    clock: () => performance.now(),
    costBasis: "work" as CostBasis,
    repeatsFinal: EVAL_REPEATS_FINAL,
    generations: GENERATIONS_DEFAULT,
    populationSize: POPULATION_SIZE_DEFAULT,
    islands: ISLANDS_DEFAULT,
    ...options,
  };
  const state = options.resume ? checkResume(options.resume, options, seed) : initialState(options, seed);
  if (options.resume && options.generations !== undefined) state.generations = options.generations;
  const run: Run = {
    o,
    state,
    prng: new Prng(state.prng),
    genomes: new Map(),
    seen: new Set(state.seen),
    liveTokens: tokenCounts(options.source),
  };
  const started = o.clock();
  const overBudget = () => options.budgetMs !== undefined && o.clock() - started >= options.budgetMs;
  if (state.generation < 0) {
    await seedPopulation(run, o.islands);
    await checkpoint(run);
  }
  while (state.generation < state.generations && !overBudget()) {
    await generation(run, state.generation + 1);
    await checkpoint(run);
  }
  return await finish(run);
}

async function checkpoint(run: Run): Promise<void> {
  run.state.prng = run.prng.state();
  await run.o.save?.(structuredClone(run.state));
  run.o.onProgress?.(progress(run));
}

/** Evaluates sources alone in their jails with the final repetitions. */
async function evaluateAlone(run: Run, sources: string[]): Promise<EvalResult[]> {
  const started = run.o.clock();
  const results = await run.o.evaluator.evaluate(sources, run.o.source, {
    alone: true,
    count: false,
    interleave: true,
    repeats: run.o.repeatsFinal,
  });
  run.state.evalMs += run.o.clock() - started;
  run.state.evals += sources.length;
  assert(results.length === sources.length, "An evaluator answers once per source");
  return results;
}

/**
 * The final stage: the best candidates that rank above the live version, best first, each re-evaluated
 * alone beside the live version; the first the arbiter accepts is promoted. The first comparison also
 * evaluates the live version a second time for the A/A check.
 */
async function finish(run: Run): Promise<EvolutionResult> {
  const s = run.state;
  const basis = run.o.costBasis;
  const live = s.live;
  const seen = new Set<string>([live.hash]);
  const finalists = rank(s.islands.flat(), basis)
    .filter((i) => !seen.has(i.hash) && seen.add(i.hash) && rank([i, live], basis)[0] === i)
    .slice(0, FINALISTS_MAX);
  let decision: Decision | null = null;
  let aa: Decision | null = null;
  let promoted: Individual | null = null;
  let baselineFitness = live.fitness;
  let bestFitness = live.fitness;
  for (const f of finalists) {
    // Live, candidate, live again: three jails in lock-step, so load changes hit all three alike.
    const results = await evaluateAlone(run, [live.source, f.source, live.source]);
    decision = decide({ live: results[0], candidate: results[1], liveAgain: results[2] });
    aa ??= decide({ live: results[0], candidate: results[2] });
    baselineFitness = computeFitness(results[0]);
    bestFitness = computeFitness(results[1]);
    const record = s.lineage.find((r) => r.id === f.id);
    if (record) Object.assign(record, { decision, promoted: decision.promote });
    if (decision.promote) {
      promoted = f;
      break;
    }
  }
  if (aa === null) {
    const results = await evaluateAlone(run, [live.source, live.source]);
    aa = decide({ live: results[0], candidate: results[1] });
    baselineFitness = bestFitness = computeFitness(results[0]);
  }
  const rate = s.stage0.children > 0 ? s.stage0.survived / s.stage0.children : 0;
  return {
    promoted: promoted !== null,
    source: promoted?.source ?? live.source,
    best: promoted ?? finalists[0] ?? null,
    decision,
    aa,
    baselineFitness,
    bestFitness,
    generations: Math.max(0, s.generation),
    evals: s.evals,
    evalMs: s.evalMs,
    evalsPerS: s.evalMs > 0 ? (s.evals * 1000) / s.evalMs : 0,
    stage0: { ...s.stage0, rate },
    lineage: s.lineage,
    state: structuredClone(s),
  };
}
