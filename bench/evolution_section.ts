/**
 * Evaluation throughput: the jailed batch evaluator against a fresh jailed subprocess per evaluation, same
 * concurrency, same run; plus real A/A runs of the arbiter (must never promote), from `benchEvolution()`.
 *
 * @module
 */
import { benchEvolution } from "../evolution/mod.ts";
import type { Figure } from "./_util.ts";

/** Runs the section. */
export async function evolutionSection(quick: boolean): Promise<Figure[]> {
  const e = await benchEvolution({ candidates: quick ? 48 : 96, aaRuns: quick ? 4 : 10 });
  const section = "evolution";
  return [
    {
      section,
      name: `evaluations per second (${e.candidates} sorter mutants, ${e.parallel} jails)`,
      value: e.evals_per_s,
      unit: "evals/s",
      baseline: e.baseline_evals_per_s,
      baselineName: "fresh subprocess per evaluation",
      goal: "≥ 20× baseline",
      met: e.speedup >= 20,
    },
    {
      section,
      name: `A/A false promotions (${e.aa_runs} real runs)`,
      value: e.aa_false_promotions,
      unit: "",
      goal: "0",
      met: e.aa_false_promotions === 0,
    },
  ];
}
