/**
 * `benchEvolution()`: evaluations per second of the engine's evaluator (screening batches in warm jails,
 * one per core) against a loop that starts a fresh jailed `deno run` per evaluation (same entry, same
 * cases, same concurrency), measured in the same run on the same candidates.
 *
 * @module
 */
import { decide } from "./arbiter.ts";
import { SandboxEvaluator } from "./evaluator.ts";
import { EVAL_REPEATS_FINAL } from "./limits.ts";
import { parseGenome } from "./genome.ts";
import { mutate } from "./operators.ts";
import { Prng } from "./prng.ts";

/** Options of {@link benchEvolution}. */
export interface EvolutionBenchOptions {
  /** Candidates evaluated by each side. @default 96 */
  candidates?: number;
  /** Seed of the mutants. @default 1 */
  seed?: number;
  /** The agent whose mutants are evaluated. @default examples/agents/sorter.ts */
  agentPath?: string;
  /** Real A/A comparisons (three lock-step jails of the live version, judged by the arbiter). @default 10 */
  aaRuns?: number;
}

/** What {@link benchEvolution} measured. */
export interface EvolutionBench {
  candidates: number;
  /** The evaluator's screening throughput. */
  evals_per_s: number;
  /** A fresh jailed subprocess per evaluation, same concurrency. */
  baseline_evals_per_s: number;
  /** `evals_per_s / baseline_evals_per_s`. */
  speedup: number;
  /** Jails the screening side used. */
  jails: number;
  /** Candidates that broke a jail (same on both sides but counted once here). */
  breaches: number;
  /** Jails run at once on each side. */
  parallel: number;
  /** Real A/A comparisons run. */
  aa_runs: number;
  /** Of those, how many the arbiter would have promoted (must be 0). */
  aa_false_promotions: number;
  /** The A/A median-latency ratios seen (second live over first), smallest and largest. */
  aa_ratio_min: number | null;
  aa_ratio_max: number | null;
}

/** The live version against itself, measured exactly as a finalist is: three lock-step jails. */
async function realAa(evaluator: SandboxEvaluator, live: string, runs: number) {
  let promoted = 0;
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [a, b, c] = await evaluator.evaluate([live, live, live], live, {
      alone: true,
      count: false,
      interleave: true,
      repeats: EVAL_REPEATS_FINAL,
    });
    const d = decide({ live: a, candidate: b, liveAgain: c });
    if (d.promote) promoted++;
    if (d.aa_ratio !== null) ratios.push(d.aa_ratio);
  }
  return {
    aa_runs: runs,
    aa_false_promotions: promoted,
    aa_ratio_min: ratios.length ? Math.round(Math.min(...ratios) * 1000) / 1000 : null,
    aa_ratio_max: ratios.length ? Math.round(Math.max(...ratios) * 1000) / 1000 : null,
  };
}

const SORTER = new URL("../examples/agents/sorter.ts", import.meta.url).pathname;

/**
 * Runs the benchmark: the same seeded mutants of one agent through both evaluators.
 *
 * @param options Candidate count, seed, agent.
 * @returns Throughputs and their ratio.
 */
export async function benchEvolution(options: EvolutionBenchOptions = {}): Promise<EvolutionBench> {
  const count = options.candidates ?? 96;
  const live = await Deno.readTextFile(options.agentPath ?? SORTER);
  const genome = parseGenome(live);
  const prng = Prng.seeded(options.seed ?? 1);
  const sources: string[] = [];
  for (let tries = 0; sources.length < count && tries < count * 10; tries++) {
    const child = mutate(genome, [], prng);
    if (child !== null) sources.push(child.source);
  }
  const parallel = Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8));
  const screening = new SandboxEvaluator({ parallel });
  const baseline = new SandboxEvaluator({ parallel, warm: false, batchMax: 1 });
  try {
    // Stage 0 compiles candidates as they are made (evaluator.prepare); both sides get that done up
    // front. Warm-up: start the pool and load the host-side code paths once, outside the measurement.
    screening.prepare([live, ...sources]);
    baseline.prepare([live, ...sources]);
    baseline.prepare([live], false);
    await screening.evaluate(sources.slice(0, 2), live);
    // ABBA order (screening, baseline, baseline, screening) so a change in machine load during the run
    // weighs on both sides alike.
    const before = screening.stats();
    const half = sources.slice(0, Math.max(1, sources.length >> 1));
    let screeningS = 0;
    let baselineS = 0;
    let baselineEvals = 0;
    for (const phase of ["screen", "base", "base", "screen"] as const) {
      const started = performance.now();
      if (phase === "screen") await screening.evaluate(sources, live);
      else await baseline.evaluate(half, live, { alone: true, count: true, cascade: true, repeats: 1 });
      const s = (performance.now() - started) / 1000;
      if (phase === "screen") screeningS += s;
      else {
        baselineS += s;
        baselineEvals += half.length;
      }
    }
    const after = screening.stats();
    const aa = await realAa(screening, live, options.aaRuns ?? 10);
    const evalsPerS = (2 * sources.length) / screeningS;
    const baselinePerS = baselineEvals / baselineS;
    return {
      candidates: sources.length,
      evals_per_s: Math.round(evalsPerS * 10) / 10,
      baseline_evals_per_s: Math.round(baselinePerS * 10) / 10,
      speedup: Math.round((evalsPerS / baselinePerS) * 100) / 100,
      jails: after.jails - before.jails,
      breaches: after.breaches - before.breaches,
      parallel,
      ...aa,
    };
  } finally {
    await screening.close();
    await baseline.close();
  }
}

if (import.meta.main) console.log(JSON.stringify(await benchEvolution()));
