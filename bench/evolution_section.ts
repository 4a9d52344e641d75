/**
 * Evaluation throughput: the jailed batch evaluator against a fresh jailed subprocess per evaluation, same
 * concurrency, same run; plus real A/A runs of the arbiter (must never promote), from `benchEvolution()`;
 * and live latency while evaluations run beside it, per CPU class of their jails.
 *
 * @module
 */
import { benchEvolution } from "../evolution/mod.ts";
import type { Figure } from "./_util.ts";
import { evalBesideLive } from "./_eval_beside_live.ts";

/** Runs the section. */
export async function evolutionSection(quick: boolean): Promise<Figure[]> {
  const e = await benchEvolution({ candidates: quick ? 48 : 96, aaRuns: quick ? 4 : 10 });
  const beside = await evalBesideLive(quick ? 1 : 3, quick ? 2_000 : 4_000);
  const section = "evolution";
  return [
    {
      section,
      name: "live p99 at 100 req/s while evaluations run in the same supervisor (batch CPU class)",
      value: beside.batch.p99,
      unit: "ms",
      baseline: beside.normal.p99,
      baselineName: "normal class",
      goal: "< normal class",
      met: beside.batch.p99 < beside.normal.p99,
    },
    {
      section,
      name: "evaluations per second beside live traffic, batch CPU class",
      value: beside.batch.evalsPerS,
      unit: "evals/s",
      baseline: beside.normal.evalsPerS,
      baselineName: "normal class",
      goal: "≥ 0.8× normal (live is light)",
      met: beside.batch.evalsPerS >= 0.8 * beside.normal.evalsPerS,
    },
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
