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
 * Throughput is bounded by the cores: on this 2-core machine one worker with one jail already keeps about
 * 1.6 cores busy (the worker compiles the candidates while its jail runs the previous ones, V8 compiles and
 * collects on threads of its own, the next jail starts ahead), so a second worker adds little here. What
 * must hold is that workers add no waste: evaluations per busy core-second (the machine's CPU time,
 * from /proc/stat) stay where one worker has them. On more machines each worker brings its own cores.
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

/** Busy and total CPU time of the whole machine so far, in ticks (/proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const ticks = Deno.readTextFileSync("/proc/stat").split("\n")[0].split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3] - ticks[4], total };
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
  const perCoreS = new Map<string, number[]>();
  const busyCores = new Map<string, number[]>();
  const cores = navigator.hardwareConcurrency || 1;
  try {
    sides.push(await localSide(live));
    for (const n of WORKER_COUNTS) sides.push(await workersSide(n, live));
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(k + round) % sides.length];
        const { sources } = sorterMutants(count, 100 * round + k + 1);
        const cpuBefore = machineCpu();
        const started = performance.now();
        const results = await side.evaluator.evaluate(sources, live);
        const s = (performance.now() - started) / 1000;
        const cpuAfter = machineCpu();
        if (results.length !== count) throw new Error(`${side.name}: ${results.length} results for ${count}`);
        const busy = ((cpuAfter.busy - cpuBefore.busy) / Math.max(1, cpuAfter.total - cpuBefore.total)) *
          cores;
        const push = (m: Map<string, number[]>, v: number) =>
          m.set(side.name, [...m.get(side.name) ?? [], v]);
        push(perS, count / s);
        push(busyCores, busy);
        push(perCoreS, count / (s * Math.max(busy, 0.01)));
      }
    }
  } finally {
    for (const side of sides) await side.close();
  }
  const round1 = (x: number) => Math.round(x * 10) / 10;
  const round2 = (x: number) => Math.round(x * 100) / 100;
  const med = (m: Map<string, number[]>, name: string) => median(m.get(name)!);
  const baseline = round1(med(perS, "local"));
  const one = round1(med(perS, "1"));
  const onePerCore = round1(med(perCoreS, "1"));
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
    {
      section,
      name: `busy cores with 1 worker (of ${cores})`,
      value: round2(med(busyCores, "1")),
      unit: "cores",
      baseline: round2(med(busyCores, "local")),
      baselineName: "local, one jail at a time",
      goal: "–",
    },
    ...WORKER_COUNTS.slice(1).flatMap((n) => {
      const v = round1(med(perS, `${n}`));
      const perCore = round1(med(perCoreS, `${n}`));
      return [
        {
          section,
          name: `evaluations per second, ${n} workers (${cores} cores, ${
            round2(med(busyCores, `${n}`))
          } busy)`,
          value: v,
          unit: "evals/s",
          baseline: one,
          baselineName: "1 worker",
          goal: "≥ 0.9× 1 worker (CPU-bound here: no loss)",
          met: v >= 0.9 * one,
        },
        {
          section,
          name: `evaluations per busy core-second, ${n} workers`,
          value: perCore,
          unit: "evals/core·s",
          baseline: onePerCore,
          baselineName: "1 worker",
          goal: "≥ 0.8× 1 worker (workers add no waste)",
          met: perCore >= 0.8 * onePerCore,
        },
      ];
    }),
  ];
}
