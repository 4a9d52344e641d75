/**
 * Helper of the shadow stress test and the shadows bench: an in-process Supervisor (real jailed sandboxes,
 * a real vault in a temp dir) with one stateless live agent, a fleet of shadows started with
 * `Shadow.start` and registered with the supervisor's TrafficSplitter (so every live answer is mirrored to
 * them), a fixed-rate load driver that records each live invoke's latency, and readers of a sandbox's
 * memory cgroup (limit and peak) and niceness.
 *
 * @module
 */
import { join } from "node:path";
import { processTreeRss } from "../observability/mod.ts";
import { AGENT_LIMITS_DEFAULT, type SandboxLimits } from "../sandbox/mod.ts";
import type { AgentHost, Supervisor } from "../supervisor/mod.ts";
import type { Shadow } from "../supervisor/splitter.ts";
import { localSupervisor } from "./_supervisor.ts";

/** The live agent: stateless, a little arithmetic per call (an answer is a pure function of the input). */
export const FLEET_AGENT = `import { defineAgent } from "@o/agent";
export default defineAgent({
  name: "fleet",
  version: "1.0.0",
  handle: (ctx) => {
    const n = ctx.arg("n") as number;
    let acc = 0;
    for (let i = 0; i < 200; i++) acc = (acc + n * i) % 1_000_003;
    return { n, acc };
  },
});
`;

/** A shadow candidate that behaves like the live agent but allocates `mb` MiB when asked for `n = 13`. */
export function hogAgent(mb: number): string {
  return FLEET_AGENT.replace(
    'const n = ctx.arg("n") as number;',
    `const n = ctx.arg("n") as number;
    if (n === 13) { const keep = []; for (let i = 0; i < ${mb}; i++) keep.push(new Uint8Array(1 << 20).fill(1)); return keep.length; }`,
  );
}

/** A running fleet. */
export interface Fleet {
  supervisor: Supervisor;
  live: AgentHost;
  shadows: Shadow[];
  dataDir: string;
  /** Starts `count` more shadows (`concurrency` at a time) and mirrors live traffic to them. */
  addShadows(count: number, options?: { source?: string; concurrency?: number }): Promise<Shadow[]>;
  /** Stops and removes the newest `count` shadows. */
  removeShadows(count: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a supervisor with the fleet agent live; every sandbox (live and shadows) gets `memoryMb`. */
export async function startFleet(options: { memoryMb: number }): Promise<Fleet> {
  const limits: SandboxLimits = { ...AGENT_LIMITS_DEFAULT, memoryMb: options.memoryMb };
  const local = await localSupervisor({ limits, prefix: "o-fleet-" });
  const { supervisor, dataDir } = local;
  const live = await supervisor.register(FLEET_AGENT, "dir");
  const shadows: Shadow[] = [];
  let counter = 0;
  const startOne = async (source: string): Promise<Shadow> => {
    const id = `s${++counter}`;
    const state = await live.durableState();
    const shadow = await supervisor.shadows.start({
      id,
      agent: live.name,
      source,
      version: `1.0.0+${id}`,
      start: { snapshot: state.snapshot, seq: state.seq, history: [] },
      tools: [],
    });
    supervisor.splitter.add(shadow);
    shadows.push(shadow);
    return shadow;
  };
  return {
    supervisor,
    live,
    shadows,
    dataDir,
    async addShadows(count, opts = {}) {
      const started: Shadow[] = [];
      let next = 0;
      const worker = async () => {
        while (next < count) {
          next++;
          started.push(await startOne(opts.source ?? FLEET_AGENT));
        }
      };
      await Promise.all(Array.from({ length: Math.min(count, opts.concurrency ?? 4) }, worker));
      return started;
    },
    async removeShadows(count) {
      const gone = shadows.splice(Math.max(0, shadows.length - count), count);
      for (const s of gone) supervisor.splitter.remove(s.spec.agent, s.spec.id);
      await Promise.all(gone.map((s) => s.stop()));
    },
    async stop() {
      for (const s of shadows) supervisor.splitter.remove(s.spec.agent, s.spec.id);
      await Promise.all(shadows.splice(0).map((s) => s.stop()));
      await local.close();
    },
  };
}

/** What {@link drive} saw. */
export interface DriveReport {
  latenciesMs: number[];
  errors: string[];
  wrong: number;
}

/**
 * Invokes the live agent at a fixed rate (open loop: a slow answer does not delay the next send).
 *
 * @param ratePerS Invokes per second.
 * @param durationMs How long.
 */
export async function drive(live: AgentHost, ratePerS: number, durationMs: number): Promise<DriveReport> {
  const report: DriveReport = { latenciesMs: [], errors: [], wrong: 0 };
  const intervalMs = 1000 / ratePerS;
  const total = Math.round((durationMs / 1000) * ratePerS);
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const n = (i % 1000) + 14; // Never 13: the hog shadow's trigger is sent on purpose only.
    const sent = performance.now();
    pending.push(
      live.invoke({ n }, { requestId: `drive-${i}` }).then(
        (answer) => {
          report.latenciesMs.push(performance.now() - sent);
          if ((answer.output as { n: number }).n !== n) report.wrong++;
        },
        (e) => void report.errors.push(e instanceof Error ? e.message : String(e)),
      ),
    );
  }
  await Promise.all(pending);
  return report;
}

/** A sandbox's memory cgroup: its limit and its peak so far, bytes (null when not cgroup-bounded). */
export function sandboxMemory(pid: number): { limitBytes: number; peakBytes: number } | null {
  try {
    for (const line of Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n")) {
      const [, controllers, path] = line.split(":");
      if (controllers?.split(",").includes("memory")) {
        const dir = `/sys/fs/cgroup/memory${path}`;
        return {
          limitBytes: Number(Deno.readTextFileSync(`${dir}/memory.limit_in_bytes`).trim()),
          peakBytes: Number(Deno.readTextFileSync(`${dir}/memory.max_usage_in_bytes`).trim()),
        };
      }
      if (controllers === "" && path !== "/" && path !== undefined) {
        const dir = join("/sys/fs/cgroup", path);
        return {
          limitBytes: Number(Deno.readTextFileSync(`${dir}/memory.max`).trim()),
          peakBytes: Number(Deno.readTextFileSync(`${dir}/memory.peak`).trim()),
        };
      }
    }
  } catch { /* gone, or no cgroup */ }
  return null;
}

/** The niceness of a process (field 19 of /proc/PID/stat), or null when it is gone. */
export function niceness(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  } catch {
    return null;
  }
}

/**
 * The cgroup v1 `cpu` group a process is in and that group's `cpu.idle` (null where there is no v1 `cpu`
 * hierarchy, or the process is gone).
 */
export function cpuGroup(pid: number): { path: string; idle: boolean } | null {
  try {
    for (const line of Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n")) {
      const [, controllers, path] = line.split(":");
      if (!controllers?.split(",").includes("cpu")) continue;
      const idle = Deno.readTextFileSync(`/sys/fs/cgroup/cpu${path === "/" ? "" : path}/cpu.idle`).trim();
      return { path, idle: idle === "1" };
    }
  } catch { /* gone, or no cpu hierarchy */ }
  return null;
}

/** RSS of each shadow's process tree, bytes (0 for one not running). */
export function shadowRss(shadows: readonly Shadow[]): number[] {
  const pids = shadows.map((s) => s.host.pid ?? -1);
  const rss = processTreeRss(pids.filter((p) => p > 0));
  return pids.map((p) => (p > 0 ? rss.get(p) ?? 0 : 0));
}
