/**
 * Bounds of the evolution engine. Every population, batch, loop and sample has a named limit here, with its
 * unit last (`_MS`, `_BYTES`); the relations between them are asserted at load.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";

/** Largest population of one island; `--population` above it is refused. */
export const POPULATION_SIZE_MAX = 256;
/** `--population` default: individuals per island. */
export const POPULATION_SIZE_DEFAULT = 16;
/** Largest `--generations`. */
export const GENERATIONS_MAX = 1_000;
/** `--generations` default. */
export const GENERATIONS_DEFAULT = 6;
/** Most islands of one run. */
export const ISLANDS_MAX = 16;
/** Islands by default: two, so migration has somewhere to go. */
export const ISLANDS_DEFAULT = 2;
/** Generations between two migrations (ring: the best of island i replaces the worst of island i+1). */
export const MIGRATION_INTERVAL_GENERATIONS = 2;
/** Individuals drawn per tournament. */
export const TOURNAMENT_SIZE = 3;
/** Best individuals of an island carried unchanged into its next generation. */
export const ELITES_PER_ISLAND = 2;
/** Tries to make one valid child (operator + pre-filter + type check) before the slot is left empty. */
export const CHILD_ATTEMPTS_MAX = 8;
/** Largest agent or candidate source the genome parses. */
export const GENOME_SOURCE_BYTES_MAX = 256 * 1024;
/** Most AST nodes the genome walks in one source (a bound on every traversal). */
export const GENOME_NODES_MAX = 200_000;
/** Largest absolute value a numeric literal may take after a parameter tweak. */
export const LITERAL_NUMBER_ABS_MAX = 1_000_000;
/** Longest string literal a parameter tweak produces. */
export const LITERAL_STRING_CHARS_MAX = 256;

/** A case that runs longer than this (one call, ms) fails; a candidate stuck longer is killed. */
export const EVAL_CASE_MS_MAX = 1_000;
/** Timed repetitions of each case while screening. */
export const EVAL_REPEATS_SCREEN = 1;
/** Timed repetitions of each case when a candidate that could be promoted is re-evaluated alone. */
export const EVAL_REPEATS_FINAL = 31;
/** Most repetitions an evaluation may ask for. */
export const EVAL_REPEATS_MAX = 200;
/** Most probe cases (odd inputs near the evals', answered as the live version answers) per evaluation. */
export const EVAL_PROBES_MAX = 24;
/** Most cases (live evals plus regression set) one evaluation runs. */
export const EVAL_CASES_MAX = 1_000;
/** A case's work budget floor (work units: loop iterations plus function entries). */
export const WORK_BUDGET_MIN = 100_000;
/** A case's work budget is this many times the live version's work on it (at least the floor). */
export const WORK_BUDGET_FACTOR = 50;
/** Most candidates screened together in one jail. */
export const BATCH_CANDIDATES_MAX = 64;
/** Jails that evaluate at once (further capped by the machine's cores). */
export const JAILS_PARALLEL_MAX = 8;
/** Memory of one evaluation jail, MiB. */
export const EVAL_JAIL_MEMORY_MB = 512;
/** Wall time a jail gets to start and load the live version before its first candidate, ms. */
export const EVAL_JAIL_START_MS_MAX = 10_000;
/** Candidates that go through the final alone re-evaluation and the arbiter, best first. */
export const FINALISTS_MAX = 3;

/** Largest one-sided p-value the arbiter accepts as significant. */
export const P_VALUE_MAX = 0.05;
/** Smallest effect size (Cliff's delta, candidate better) the arbiter accepts. */
export const EFFECT_SIZE_MIN = 0.5;
/** Largest candidate/live ratio of median latency the arbiter counts as a latency improvement. */
export const LATENCY_RATIO_MAX = 0.8;
/** Largest candidate/live latency ratio at which a fix of a regression-set case is still promoted. */
export const FIX_LATENCY_RATIO_MAX = 2;
/** Sample sizes up to which Mann–Whitney U uses the exact distribution (both samples at most this). */
export const MWU_EXACT_N_MAX = 20;
/** Largest sample the statistics accept (per side). */
export const STATS_SAMPLE_MAX = 100_000;
/** Runs of an A/A calibration. */
export const AA_RUNS_MAX = 100_000;

assert(POPULATION_SIZE_DEFAULT <= POPULATION_SIZE_MAX, "The default population must be allowed");
assert(GENERATIONS_DEFAULT <= GENERATIONS_MAX, "The default generation count must be allowed");
assert(ISLANDS_DEFAULT <= ISLANDS_MAX, "The default island count must be allowed");
assert(ELITES_PER_ISLAND < POPULATION_SIZE_DEFAULT, "Elites must leave room for children");
assert(TOURNAMENT_SIZE >= 2, "A tournament needs at least two entrants");
assert(EVAL_REPEATS_SCREEN <= EVAL_REPEATS_FINAL, "The final evaluation must time at least as often");
assert(EVAL_REPEATS_FINAL <= EVAL_REPEATS_MAX, "The final repetitions must be allowed");
assert(P_VALUE_MAX > 0 && P_VALUE_MAX < 0.5, "The significance level must be a small probability");
assert(FIX_LATENCY_RATIO_MAX >= 1 / LATENCY_RATIO_MAX, "A fix may cost at least what a score gain may");
assert(EFFECT_SIZE_MIN > 0 && EFFECT_SIZE_MIN <= 1, "The effect-size floor is a Cliff's delta");
