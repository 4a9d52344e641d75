/**
 * `main.ts worker --vault postgres://…[?schema=NAME] [--concurrency N] [--lease-s S] [--tier jail|process]
 * [--id NAME]`: a distributed evaluation worker. It pulls evaluation jobs from the job queue of a shared
 * Postgres vault, runs each in its own jail, and writes the results back (evolution/distributed.ts). Any
 * number of workers on any number of machines may serve one vault; a worker killed mid-job loses
 * nothing (its job is claimed again once its lease expires).
 *
 * Events go to stdout as JSON lines (`{"t":"ready"|"claimed"|"done"|"lost"|"released"|"db_error"|
 * "stopped",…}`); SIGTERM or SIGINT stops claiming, lets running jobs finish for a few seconds, gives the
 * rest back, and exits 0.
 *
 * @module
 */
import { parseArgs } from "node:util";
// distributed.ts directly, not evolution/mod.ts: the latter loads the TypeScript compiler (~0.7 s more at
// every worker start), which a worker never uses.
import {
  EvaluationWorker,
  WORKER_CONCURRENCY_MAX,
  WORKER_LEASE_S_DEFAULT,
  type WorkerEvent,
} from "../evolution/distributed.ts";
import { JOB_LEASE_S_MAX, JOB_LEASE_S_MIN, JobQueue } from "../vault/mod.ts";
import type { Tier } from "../sandbox/mod.ts";

/** How long the worker keeps trying to reach the vault at start, ms. */
export const WORKER_CONNECT_WAIT_MS = 30_000;
/** After SIGTERM/SIGINT the process is gone within this, ms (running jobs get most of it). */
const WORKER_EXIT_DEADLINE_MS = 6_000;

/** Usage of `main.ts worker`. */
export const WORKER_USAGE = `Usage: main.ts worker --vault postgres://…[?schema=NAME] [options]

Runs a distributed evaluation worker: pulls evaluation jobs from the job queue of a shared Postgres vault
(the schema the O nodes use, 'o' by default), runs each in its own jail, and writes the results back.
Start as many as you like, on any machine that reaches the database. A worker killed mid-job loses
nothing: its job is claimed by another worker once its lease expires.

Events are printed to stdout as JSON lines. SIGTERM/SIGINT: stop claiming, let running jobs finish for a
few seconds, give the rest back, exit 0.

Options:
  --vault URL          postgres://user@host:port/db[?schema=NAME] (required)
  --concurrency N      jobs run at once, each in its own jail (default: the machine's cores, at most ${WORKER_CONCURRENCY_MAX})
  --lease-s S          lease of a claimed job, seconds, renewed every third of it (default ${WORKER_LEASE_S_DEFAULT});
                       a dead worker's job is retried after at most this long
  --tier jail|process  sandbox tier of the evaluation jails (default jail)
  --id NAME            this worker's id in the queue (default HOST:PID:RANDOM)
  -h, --help           show this help`;

interface WorkerArgs {
  vault: string;
  concurrency: number | undefined;
  leaseS: number;
  tier: Tier;
  id: string | undefined;
}

/**
 * Parses `worker` flags.
 *
 * @returns The options, or `"help"`.
 * @throws {TypeError} On an unknown flag or a bad value.
 */
export function parseWorkerArgs(args: string[]): WorkerArgs | "help" {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      vault: { type: "string" },
      concurrency: { type: "string" },
      "lease-s": { type: "string" },
      tier: { type: "string" },
      id: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const vault = values.vault;
  if (vault === undefined || !/^postgres(ql)?:\/\//.test(vault)) {
    throw new TypeError("Cannot start a worker: --vault postgres://… is required");
  }
  let concurrency: number | undefined;
  if (values.concurrency !== undefined) {
    concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > WORKER_CONCURRENCY_MAX) {
      throw new TypeError(
        `Cannot use --concurrency: an integer in [1, ${WORKER_CONCURRENCY_MAX}], current value is ${values.concurrency}`,
      );
    }
  }
  const leaseS = Number(values["lease-s"] ?? WORKER_LEASE_S_DEFAULT);
  if (!(leaseS >= JOB_LEASE_S_MIN && leaseS <= JOB_LEASE_S_MAX)) {
    throw new TypeError(
      `Cannot use --lease-s: within [${JOB_LEASE_S_MIN}, ${JOB_LEASE_S_MAX}], current value is ${
        values["lease-s"]
      }`,
    );
  }
  const tier = values.tier ?? "jail";
  if (tier !== "jail" && tier !== "process") {
    throw new TypeError(`Cannot use --tier: jail or process, not ${tier}`);
  }
  return { vault, concurrency, leaseS, tier, id: values.id };
}

async function connect(url: string, signal: AbortSignal) {
  const deadline = Date.now() + WORKER_CONNECT_WAIT_MS;
  let waitMs = 250;
  while (true) {
    try {
      return await JobQueue.connect(url);
    } catch (e) {
      if (Date.now() > deadline || signal.aborted) throw e;
      console.error(`worker: ${e instanceof Error ? e.message : e}; retrying`);
      await new Promise((r) => setTimeout(r, waitMs));
      waitMs = Math.min(waitMs * 2, 4_000);
    }
  }
}

/** `main.ts worker`. @returns The exit code. */
export async function workerCommand(args: string[]): Promise<number> {
  let opts: WorkerArgs | "help";
  try {
    opts = parseWorkerArgs(args);
  } catch (e) {
    console.error(`worker: ${e instanceof Error ? e.message : e}\n\n${WORKER_USAGE}`);
    return 2;
  }
  if (opts === "help") {
    console.log(WORKER_USAGE);
    return 0;
  }
  const stop = new AbortController();
  const onSignal = () => {
    // Whatever happens, the process is gone soon after the signal; running jobs are retried elsewhere.
    const hard = setTimeout(() => Deno.exit(0), WORKER_EXIT_DEADLINE_MS);
    Deno.unrefTimer(hard);
    stop.abort();
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  let queue: JobQueue;
  try {
    queue = await connect(opts.vault, stop.signal);
  } catch (e) {
    console.error(`worker: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  const print = (event: WorkerEvent) => console.log(JSON.stringify(event));
  try {
    const worker = new EvaluationWorker(queue, {
      id: opts.id,
      concurrency: opts.concurrency,
      leaseS: opts.leaseS,
      tier: opts.tier,
      onEvent: print,
    });
    await worker.run(stop.signal);
    return 0;
  } catch (e) {
    console.error(`worker: ${e instanceof Error ? e.message : e}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
    await queue.close();
  }
}
