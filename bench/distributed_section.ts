/**
 * Distributed evaluation throughput: the same kind of work (fresh seeded sorter mutants, screened) through
 * a PostgresEvaluator served by 1, 2 and 4 `main.ts worker` processes (one jail each), against a local
 * SandboxEvaluator running one jail at a time in this process, all in the same run. Every measurement
 * gets mutants of its own seed, so no side profits from another's compile cache.
 *
 * On this 2-core machine two workers fill the cores; four show the queue's overhead when workers outnumber
 * cores, not more speed. On more machines (or cores) each worker adds its jail.
 *
 * @module
 */
import { PostgresEvaluator } from "../evolution/distributed.ts";
import { SandboxEvaluator } from "../evolution/mod.ts";
import {
  dropSchema,
  freshSchema,
  sorterMutants,
  startWorker,
  type WorkerProcess,
} from "../tests/distributed_workers.ts";
import type { Figure } from "./_util.ts";

const WORKER_COUNTS = [1, 2, 4];
const LEASE_S = 30;

async function local(count: number, seed: number): Promise<number> {
  const { live, sources } = sorterMutants(count, seed);
  const evaluator = new SandboxEvaluator({ parallel: 1 });
  try {
    await evaluator.evaluate(sorterMutants(4, seed + 1000).sources, live); // Warm: pool, live compile.
    const started = performance.now();
    await evaluator.evaluate(sources, live);
    return count / ((performance.now() - started) / 1000);
  } finally {
    await evaluator.close();
  }
}

async function distributed(workerCount: number, count: number, seed: number): Promise<number> {
  const { schema, url } = freshSchema("bench_dist");
  const evaluator = await PostgresEvaluator.open(url);
  const workers: WorkerProcess[] = [];
  try {
    workers.push(
      ...await Promise.all(
        Array.from({ length: workerCount }, () => startWorker(url, { concurrency: 1, leaseS: LEASE_S })),
      ),
    );
    const { live, sources } = sorterMutants(count, seed);
    // Warm every worker's jail pool and its compile of the live version, outside the measurement.
    await evaluator.evaluate(sorterMutants(4 * workerCount, seed + 1000).sources, live, { alone: true });
    const started = performance.now();
    const results = await evaluator.evaluate(sources, live);
    const perS = count / ((performance.now() - started) / 1000);
    if (results.length !== count) throw new Error(`distributed: ${results.length} results for ${count}`);
    return perS;
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    await evaluator.close();
    await dropSchema(schema);
  }
}

/** Runs the section. */
export async function distributedSection(quick: boolean): Promise<Figure[]> {
  const count = quick ? 48 : 128;
  // Baseline before and after the distributed runs (the machine's load may drift): their mean.
  const before = await local(count, 101);
  const perWorkers = new Map<number, number>();
  for (const [k, n] of WORKER_COUNTS.entries()) perWorkers.set(n, await distributed(n, count, 200 + k));
  const after = await local(count, 102);
  const baseline = Math.round(((before + after) / 2) * 10) / 10;
  const one = perWorkers.get(1)!;
  const section = "distributed evaluation";
  const round = (x: number) => Math.round(x * 10) / 10;
  return [
    {
      section,
      name: `evaluations per second, 1 worker (${count} sorter mutants, Postgres queue)`,
      value: round(one),
      unit: "evals/s",
      baseline,
      baselineName: "local, one jail at a time",
      goal: "≥ 0.8× local (queue overhead)",
      met: one >= 0.8 * baseline,
    },
    ...WORKER_COUNTS.slice(1).map((n) => {
      const v = perWorkers.get(n)!;
      const cores = navigator.hardwareConcurrency || 1;
      const expected = Math.min(n, cores);
      return {
        section,
        name: `evaluations per second, ${n} workers (${cores} cores)`,
        value: round(v),
        unit: "evals/s",
        baseline: round(one),
        baselineName: "1 worker",
        goal: `≥ ${round(0.8 * expected)}× 1 worker (scales to the cores)`,
        met: v >= 0.8 * expected * one,
      };
    }),
  ];
}
