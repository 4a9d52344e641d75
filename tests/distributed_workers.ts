/**
 * Helpers of the distributed-evaluation tests and bench: fresh vault schemas on the test Postgres, worker
 * processes (`main.ts worker`, optionally inside a network namespace) whose JSON-line events are
 * collected, seeded sorter mutants, and results with their timings stripped (the only part of an
 * evaluation that differs between two runs of the same candidate).
 *
 * Postgres is required: set `O_TEST_POSTGRES_URL` to use another server than
 * `postgres://postgres@127.0.0.1:5432/test`.
 *
 * @module
 */
import postgres from "postgres";
import { join } from "node:path";
import { type EvalResult, mutate, parseGenome, Prng } from "../evolution/mod.ts";
import type { WorkerEvent } from "../evolution/distributed.ts";
import { ROOT } from "./_server.ts";

/** The test server, without a schema. */
export const POSTGRES_URL: string = Deno.env.get("O_TEST_POSTGRES_URL") ??
  "postgres://postgres@127.0.0.1:5432/test";
const READY_TIMEOUT_MS = 60_000;

/** A fresh schema name and the vault URL that uses it. */
export function freshSchema(prefix: string): { schema: string; url: string } {
  const schema = `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  return { schema, url: withSchema(POSTGRES_URL, schema) };
}

/** `url` with `?schema=NAME` (or `&schema=NAME`). */
export function withSchema(url: string, schema: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}schema=${schema}`;
}

/** Drops a schema made by {@link freshSchema}. */
export async function dropSchema(schema: string): Promise<void> {
  const sql = postgres(POSTGRES_URL, { onnotice: () => {}, max: 1 });
  try {
    await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** A running `main.ts worker` and what it reported. */
export interface WorkerProcess {
  /** Its id in the queue (from its `ready` event). */
  id: string;
  pid: number;
  events: WorkerEvent[];
  /** Resolves with the first event (seen or to come) that matches. */
  waitFor(match: (e: WorkerEvent) => boolean, timeoutMs?: number): Promise<WorkerEvent>;
  /** Everything it wrote on stderr. */
  stderr(): string;
  kill(signal: Deno.Signal): void;
  /** Resolves with the exit code once the process and its output streams ended. */
  exited: Promise<number>;
}

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  concurrency?: number;
  leaseS?: number;
  id?: string;
  /** Run inside this network namespace (`ip netns exec NS …`). */
  netns?: string;
  /**
   * Bound the worker and its jails to this many cores (a cgroup v1 `cpu` group with a CFS quota): several
   * workers on one machine then behave like nodes of that size each. Needs a writable `cpu` hierarchy.
   */
  cpuCores?: number;
}

const CPU_PERIOD_US = 100_000;
let nodeGroups = 0;

/** A `cpu` group bounded to `cores`; returns its directory (remove it once its processes are gone). */
function nodeCpuGroup(cores: number): string {
  const mount = "/sys/fs/cgroup/cpu";
  const dir = `${mount}/o-node-${Deno.pid}-${++nodeGroups}`;
  Deno.mkdirSync(dir);
  Deno.writeTextFileSync(`${dir}/cpu.cfs_period_us`, String(CPU_PERIOD_US));
  Deno.writeTextFileSync(`${dir}/cpu.cfs_quota_us`, String(Math.round(cores * CPU_PERIOD_US)));
  return dir;
}

/** Starts `main.ts worker` and resolves once it announced itself. */
export async function startWorker(url: string, options: StartWorkerOptions = {}): Promise<WorkerProcess> {
  const args = ["run", "-A", join(ROOT, "main.ts"), "worker", "--vault", url];
  if (options.concurrency !== undefined) args.push("--concurrency", String(options.concurrency));
  if (options.leaseS !== undefined) args.push("--lease-s", String(options.leaseS));
  if (options.id !== undefined) args.push("--id", options.id);
  let line = [Deno.execPath(), ...args];
  if (options.netns !== undefined) line = ["ip", "netns", "exec", options.netns, ...line];
  const group = options.cpuCores === undefined ? null : nodeCpuGroup(options.cpuCores);
  if (group !== null) {
    line = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', group, ...line];
  }
  const child = new Deno.Command(line[0], {
    args: line.slice(1),
    stdout: "piped",
    stderr: "piped",
    cwd: ROOT,
  })
    .spawn();
  const events: WorkerEvent[] = [];
  const watchers: { match: (e: WorkerEvent) => boolean; resolve: (e: WorkerEvent) => void }[] = [];
  let err = "";
  let ended = false;
  const onEnd: (() => void)[] = [];
  const readOut = (async () => {
    let buffered = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as WorkerEvent;
        events.push(event);
        for (const w of [...watchers]) {
          if (w.match(event)) (watchers.splice(watchers.indexOf(w), 1), w.resolve(event));
        }
      }
    }
    ended = true;
    for (const f of onEnd) f();
  })();
  const readErr = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) err += text;
  })();
  const exited = Promise.all([child.status, readOut, readErr]).then(async ([s]) => {
    // Its jails may outlive it by a moment (they die with it, then are reaped): retry the rmdir briefly.
    for (let i = 0; group !== null && i < 50; i++) {
      try {
        Deno.removeSync(group);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    return s.code;
  });
  const waitFor = (match: (e: WorkerEvent) => boolean, timeoutMs = READY_TIMEOUT_MS) => {
    const seen = events.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<WorkerEvent>((resolve, reject) => {
      const fail = (why: string) =>
        reject(new Error(`worker ${child.pid}: ${why}; stderr:\n${err.slice(-2000)}`));
      if (ended) return fail("exited");
      const timer = setTimeout(() => fail(`no matching event in ${timeoutMs} ms`), timeoutMs);
      watchers.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
      onEnd.push(() => {
        clearTimeout(timer);
        fail("exited");
      });
    });
  };
  let ready: WorkerEvent;
  try {
    ready = await waitFor((e) => e.t === "ready");
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await exited;
    throw e;
  }
  return {
    id: (ready as { worker: string }).worker,
    pid: child.pid,
    events,
    waitFor,
    stderr: () => err,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch { /* gone */ }
    },
    exited,
  };
}

const SORTER = join(ROOT, "examples", "agents", "sorter.ts");

/** The sorter (the live version) and `count` seeded mutants of it. */
export function sorterMutants(count: number, seed: number): { live: string; sources: string[] } {
  const live = Deno.readTextFileSync(SORTER);
  const genome = parseGenome(live);
  const prng = Prng.seeded(seed);
  const sources: string[] = [];
  for (let tries = 0; sources.length < count && tries < count * 20; tries++) {
    const child = mutate(genome, [], prng);
    if (child !== null) sources.push(child.source);
  }
  return { live, sources };
}

/** A result without its wall-clock timings (the only part two runs of one candidate do not share). */
export function withoutTimings(r: EvalResult): unknown {
  return { ...r, cases: r.cases.map(({ ms: _ms, ...rest }) => rest) };
}

/** Whether a process is still there and still runs what `cmdlinePart` names (pids are reused). */
export function alive(pid: number, cmdlinePart: string): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ").includes(cmdlinePart);
  } catch {
    return false;
  }
}
