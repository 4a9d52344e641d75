/**
 * Live latency while evaluations run beside it in the same supervisor (what candidates, co-evolution and
 * auto-fix do on a serving node): live invokes at a fixed rate, with a SandboxEvaluator screening sorter
 * mutants in a loop, its jails in the `normal` and in the `batch` CPU class (sandbox/cgroup.ts), in
 * alternating rounds; and the evaluation throughput each class still gets.
 *
 * @module
 */
import { SandboxEvaluator } from "../evolution/mod.ts";
import type { CpuClass } from "../sandbox/mod.ts";
import { drive, startFleet } from "../tests/stress_fleet.ts";
import { sorterMutants } from "../tests/distributed_workers.ts";
import { percentile } from "./_util.ts";

const RATE_PER_S = 100;
const MUTANTS_PER_CALL = 32;

/** What one class gave: live p50/p99 (ms) and evaluations per second. */
export interface BesideLive {
  p50: number;
  p99: number;
  evalsPerS: number;
}

/** Runs `rounds` rounds of normal then batch, `blockMs` each; pooled per class. */
export async function evalBesideLive(rounds: number, blockMs: number): Promise<Record<CpuClass, BesideLive>> {
  const fleet = await startFleet({ memoryMb: 128 });
  const live = sorterMutants(0, 1).live;
  const samples = new Map<CpuClass, number[]>();
  const rates = new Map<CpuClass, number[]>();
  let seed = 1_000;
  try {
    await drive(fleet.live, RATE_PER_S, 1_000);
    for (let r = 0; r < rounds; r++) {
      for (const cpu of ["normal", "batch"] as const) {
        const evaluator = new SandboxEvaluator({ cpu });
        await evaluator.evaluate(sorterMutants(8, seed++).sources, live); // Warm its pool.
        let stop = false;
        let evals = 0;
        const loop = (async () => {
          while (!stop) {
            await evaluator.evaluate(sorterMutants(MUTANTS_PER_CALL, seed++).sources, live);
            evals += MUTANTS_PER_CALL;
          }
        })();
        const started = performance.now();
        const report = await drive(fleet.live, RATE_PER_S, blockMs);
        const s = (performance.now() - started) / 1000;
        stop = true;
        await loop;
        await evaluator.close();
        samples.set(cpu, [...samples.get(cpu) ?? [], ...report.latenciesMs]);
        rates.set(cpu, [...rates.get(cpu) ?? [], evals / s]);
        await new Promise((res) => setTimeout(res, 500));
      }
    }
  } finally {
    await fleet.stop();
  }
  const out = {} as Record<CpuClass, BesideLive>;
  for (const [cpu, l] of samples) {
    const r = rates.get(cpu)!;
    out[cpu] = {
      p50: Math.round(percentile(l, 50) * 100) / 100,
      p99: Math.round(percentile(l, 99) * 100) / 100,
      evalsPerS: Math.round(r.reduce((a, b) => a + b, 0) / r.length),
    };
  }
  return out;
}
