/**
 * Distributed evaluation throughput: fresh seeded sorter mutants, screened through a PostgresEvaluator
 * served by 1, 2 and 4 `main.ts worker` processes (one jail each), against a local SandboxEvaluator
 * running one jail at a time in this process — all in the same run.
 *
 * Method: each configuration gets its own schema and its own workers, started once and warmed (jail
 * pools, compile of the live version); then rounds measure every configuration in turn, in a rotating
 * order, each time on mutants of a new seed (so no side profits from a compile cache); the figure is the
 * median over rounds. Rotation and medians keep the drift of a shared machine's load from favouring one
 * side.
 *
 * On a 2-core machine two workers fill the cores; four show what the queue costs when workers outnumber
 * cores. On more machines (or cores) each worker adds its jail.
 *
 * @module
 */
import { PostgresEvaluator } from "../evolution/distributed.ts";
import { type Evaluator, SandboxEvaluator } from "../evolution/mod.ts";
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

/** One configuration under test: an evaluator and what must be closed after. */
interface Side {
  name: string;
  evaluator: Evaluator;
  close(): Promise<void>;
}

async function localSide(live: string): Promise<Side> {
  const evaluator = new SandboxEvaluator({ parallel: 1 });
  await evaluator.evaluate(sorterMutants(4, 9_000).sources, live);
  return { name: "local", evaluator, close: () => evaluator.close() };
}

async function workersSide(count: number, live: string): Promise<Side> {
  const { schema, url } = freshSchema("bench_dist");
  const evaluator = await PostgresEvaluator.open(url);
  const warm = await PostgresEvaluator.open(url, { sourcesPerJobMax: 1 });
  const workers: WorkerProcess[] = [];
  const close = async () => {
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    await evaluator.close();
    await warm.close();
    await dropSchema(schema);
  };
  try {
    workers.push(
      ...await Promise.all(
        Array.from({ length: count }, () => startWorker(url, { concurrency: 1, leaseS: LEASE_S })),
      ),
    );
    // One-source jobs, several per worker: every worker warms its jail pool and compiles the live version.
    await warm.evaluate(sorterMutants(4 * count, 9_001).sources, live);
  } catch (e) {
    await close();
    throw e;
  }
  return { name: `${count}`, evaluator, close };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs the section. */
export async function distributedSection(quick: boolean): Promise<Figure[]> {
  const count = quick ? 64 : 128;
  const rounds = quick ? 2 : 4;
  const live = sorterMutants(0, 1).live;
  const sides: Side[] = [];
  const perS = new Map<string, number[]>();
  try {
    sides.push(await localSide(live));
    for (const n of WORKER_COUNTS) sides.push(await workersSide(n, live));
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(k + round) % sides.length];
        const { sources } = sorterMutants(count, 100 * round + k + 1);
        const started = performance.now();
        const results = await side.evaluator.evaluate(sources, live);
        const s = (performance.now() - started) / 1000;
        if (results.length !== count) throw new Error(`${side.name}: ${results.length} results for ${count}`);
        perS.set(side.name, [...perS.get(side.name) ?? [], count / s]);
      }
    }
  } finally {
    for (const side of sides) await side.close();
  }
  const round1 = (x: number) => Math.round(x * 10) / 10;
  const baseline = round1(median(perS.get("local")!));
  const one = round1(median(perS.get("1")!));
  const cores = navigator.hardwareConcurrency || 1;
  const section = "distributed evaluation";
  return [
    {
      section,
      name: `evaluations per second, 1 worker (${count} sorter mutants per call, Postgres queue)`,
      value: one,
      unit: "evals/s",
      baseline,
      baselineName: "local, one jail at a time",
      goal: "≥ 0.8× local (queue overhead)",
      met: one >= 0.8 * baseline,
    },
    ...WORKER_COUNTS.slice(1).map((n) => {
      const v = round1(median(perS.get(`${n}`)!));
      const expected = Math.min(n, cores);
      return {
        section,
        name: `evaluations per second, ${n} workers (${cores} cores)`,
        value: v,
        unit: "evals/s",
        baseline: one,
        baselineName: "1 worker",
        goal: `≥ ${round1(0.8 * expected)}× 1 worker (scales to the cores)`,
        met: v >= 0.8 * expected * one,
      };
    }),
  ];
}
