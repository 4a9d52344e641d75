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
 * Growth with workers is shown on emulated nodes: each worker (and the jails it starts) bounded by a CPU
 * quota of NODE_CORES, as if each ran on a machine of that size; 1, 2 and 4 such nodes fill up to the
 * machine's 2 cores. The goal is 80 % of linear growth.
 *
 * Unbounded, throughput is bounded by the cores: on this 2-core machine one worker with one jail already keeps about
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
/**
 * Sources per call on the emulated nodes: a job (one per worker slot) pays a fixed start (its jail, the
 * live version's reference run), so the call must be big enough that 4 workers' quarter-size jobs are
 * still mostly evaluation (measured: 128 per call gives 4 nodes 2.4×, 256 gives 3.2–3.5×).
 */
const NODE_SOURCES_PER_CALL = 256;
/** Cores of one emulated node: each worker and its jails bounded by a CPU quota (see startWorker). */
const NODE_CORES = 0.4;

/** One configuration under test: an evaluator and what must be closed after. */
interface Side {
  name: string;
  /** Sources per call; 0: the section's default. */
  perCall?: number;
  evaluator: Evaluator;
  close(): Promise<void>;
}

async function localSide(live: string): Promise<Side> {
  const evaluator = new SandboxEvaluator({ parallel: 1 });
  await evaluator.evaluate(sorterMutants(4, 9_000).sources, live);
  return { name: "local", evaluator, close: () => evaluator.close() };
}

async function workersSide(count: number, live: string, cpuCores?: number): Promise<Side> {
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
        Array.from({ length: count }, () => startWorker(url, { concurrency: 1, leaseS: LEASE_S, cpuCores })),
      ),
    );
    // One-source jobs, several per worker: every worker warms its jail pool and compiles the live version.
    await warm.evaluate(sorterMutants(4 * count, 9_001).sources, live);
  } catch (e) {
    await close();
    throw e;
  }
  if (cpuCores === undefined) return { name: `${count}`, evaluator, close };
  return { name: `${count} nodes`, evaluator, close, perCall: NODE_SOURCES_PER_CALL };
}

/** Busy and total CPU time of the whole machine so far, in ticks (/proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const ticks = Deno.readTextFileSync("/proc/stat").split("\n")[0].split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3] - ticks[4], total };
}

/** Waits until the machine is quiet (under 15 % busy over 200 ms; at most 5 s): a side's jail pools refill after its call, and that must not land in the next side's figure. */
async function settle(): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (performance.now() < deadline) {
    const a = machineCpu();
    await new Promise((r) => setTimeout(r, 200));
    const b = machineCpu();
    if ((b.busy - a.busy) / Math.max(1, b.total - a.total) < 0.15) return;
  }
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
    for (const n of WORKER_COUNTS) sides.push(await workersSide(n, live, NODE_CORES));
    // One unmeasured call of the measured size per side: the first big batch pays for JIT and pool refills.
    for (const [k, side] of sides.entries()) {
      await side.evaluator.evaluate(sorterMutants(side.perCall ?? count, 50 + k).sources, live);
    }
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(k + round) % sides.length];
        const n = side.perCall ?? count;
        const { sources } = sorterMutants(n, 100 * round + k + 1);
        await settle();
        const cpuBefore = machineCpu();
        const started = performance.now();
        const results = await side.evaluator.evaluate(sources, live);
        const s = (performance.now() - started) / 1000;
        const cpuAfter = machineCpu();
        if (results.length !== n) throw new Error(`${side.name}: ${results.length} results for ${n}`);
        const busy = ((cpuAfter.busy - cpuBefore.busy) / Math.max(1, cpuAfter.total - cpuBefore.total)) *
          cores;
        const push = (m: Map<string, number[]>, v: number) =>
          m.set(side.name, [...m.get(side.name) ?? [], v]);
        push(perS, n / s);
        push(busyCores, busy);
        push(perCoreS, n / (s * Math.max(busy, 0.01)));
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
  const oneNode = round1(med(perS, "1 nodes"));
  const nodes: Figure[] = [
    {
      section,
      name:
        `evaluations per second, 1 worker as a ${NODE_CORES}-core node (CPU quota; ${NODE_SOURCES_PER_CALL} mutants per call)`,
      value: oneNode,
      unit: "evals/s",
      goal: "baseline",
    },
    ...WORKER_COUNTS.slice(1).map((n) => {
      const v = round1(med(perS, `${n} nodes`));
      return {
        section,
        name: `evaluations per second, ${n} workers as ${NODE_CORES}-core nodes (${
          n * NODE_CORES
        } of ${cores} cores)`,
        value: v,
        unit: "evals/s",
        baseline: oneNode,
        baselineName: "1 node",
        goal: `≥ ${0.8 * n}× 1 node (80 % of linear)`,
        met: v >= 0.8 * n * oneNode,
      };
    }),
  ];
  return [
    ...nodes,
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
