/**
 * Starting a sandboxed Deno subprocess: the one way O runs agent and candidate code.
 *
 * Layers, outside in (each one is there because the one inside it is not enough, see DESIGN.md):
 *
 * 1. A per-sandbox memory + pids cgroup (v1 or v2) that the start shell joins before it execs anything, so
 *    the whole tree is bounded from its first page; without a writable cgroup, an RSS watchdog.
 * 2. `prlimit`: CPU seconds, open files, no core files (and file size in the process tier).
 * 3. bubblewrap (tier `jail`): no network, no /proc, no host files but the runtime and `readDirs`, a private
 *    size-capped /tmp, a throwaway DENO_DIR, an empty environment.
 * 4. Deno's permissions: `deno run --no-prompt` with no permission flag, `--no-remote`, `--no-npm`.
 * 5. V8's heap cap (`--max-old-space-size`).
 *
 * The process starts detached (its own process group); `kill` SIGKILLs the group and every task in the
 * cgroup, and `exited` resolves only once no process of the sandbox is left.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";
import { type CpuClass, cpuClassGroup, SandboxCgroup } from "./cgroup.ts";
import { denoBinary, findBwrap, JAIL_DENO_PATH, jailArgs } from "./jail.ts";
import { seccompFilterPath } from "./seccomp.ts";
import {
  FILES_MAX_DEFAULT,
  KILL_REAP_MS_MAX,
  PROCESSES_MAX_DEFAULT,
  REAP_POLL_MS,
  RUNTIME_TASKS_PER_CORE,
  SANDBOX_NICE,
  STDERR_TAIL_BYTES_MAX,
  TMP_MB_DEFAULT,
} from "./limits.ts";
import { startRssWatchdog, type Watchdog } from "./watchdog.ts";

/** Where code runs: `jail` (bubblewrap + limits), `process` (limits only) or `worker` (trusted only). */
export type Tier = "jail" | "process" | "worker";

/** Resource bounds of one sandbox. Every breach kills the whole process group. */
export interface SandboxLimits {
  /** Heap and process-tree memory, MiB. */
  memoryMb: number;
  /** CPU seconds for the process's whole life; 0 means unbounded (long-lived agents). */
  cpuS: number;
  /** Open file descriptors. */
  files: number;
  /** Processes/threads of the sandbox (a pids cgroup, or the watchdog's thread count). */
  processes: number;
  /** Private temp disk, MiB. */
  tmpMb: number;
  /** Bytes of stderr kept for `stderrTail()`. */
  stderrBytesMax: number;
  /**
   * stdout + stderr bytes the sandbox may write before it is killed for `output`; the supervisor stops
   * reading there. 0 or absent: stdout is unbounded (a live agent's frame channel), stderr is only tailed.
   */
  outputBytesMax?: number;
  /** Wall time from spawn before a kill for `wall`, ms; 0 or absent: none (the caller times invokes). */
  wallMs?: number;
  /** Scheduling niceness (0–19) so the supervisor wins scarce cores; 0 runs at the supervisor's. @default 10 */
  nice?: number;
  /**
   * CPU class. `background` (shadows) joins one shared CPU group that runs only on cycles nothing else
   * wants (`cpu.idle`), `batch` (evaluations) one shared low-weight group (see sandbox/cgroup.ts):
   * niceness alone does neither, because bubblewrap's new session puts each jail in its own autogroup,
   * where niceness only ranks a group's own tasks.
   * @default "normal"
   */
  cpu?: CpuClass;
}

/** What to run and how. */
export interface SandboxSpec {
  /** Absolute path of the entry module. */
  entry: string;
  /** Arguments after the entry module. */
  args?: string[];
  /** Absolute path of the import map to run with (maps `@o/agent`). */
  importMap: string;
  /** Directories the code must read (bound read-only in the jail). */
  readDirs: string[];
  tier: Tier;
  limits: SandboxLimits;
}

/** How a sandbox ended. */
export interface SandboxExit {
  code: number | null;
  signal: string | null;
  /** The limit that killed it, or the caller's reason passed to `kill`. */
  killedFor: string | null;
  /** Peak memory of the whole tree, bytes, where measured (cgroup or watchdog). */
  memoryPeakBytes?: number;
  /** `performance.now()` when the sandbox's last process was reaped (before temp files were removed). */
  goneAt?: number;
  /** Processes still in the sandbox's cgroup after repeated SIGKILLs (a kernel-level hang); normally absent. */
  leftoverPids?: number[];
}

/** A running sandbox. */
export interface SandboxProcess {
  readonly pid: number;
  readonly tier: Tier;
  /** The sandbox's stdin (frames to it). */
  readonly stdin: WritableStream<Uint8Array>;
  /** The sandbox's stdout (frames from it). */
  readonly stdout: ReadableStream<Uint8Array>;
  /** Resolves once the process has exited and been reaped. */
  readonly exited: Promise<SandboxExit>;
  /** The last stderr bytes, decoded (bounded). */
  stderrTail(): string;
  /** SIGKILLs the process group; `reason` becomes `killedFor`. Idempotent. */
  kill(reason: string): void;
}

/** Default limits for a long-lived agent sandbox. */
export const AGENT_LIMITS_DEFAULT: SandboxLimits = {
  memoryMb: 256,
  cpuS: 0,
  files: FILES_MAX_DEFAULT,
  processes: PROCESSES_MAX_DEFAULT,
  tmpMb: TMP_MB_DEFAULT,
  stderrBytesMax: STDERR_TAIL_BYTES_MAX,
};

/** How the memory of a sandbox tree is bounded on this machine. */
export type MemoryBound = "cgroup" | "watchdog";

const SIGNALS: Record<number, Deno.Signal> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  31: "SIGSYS",
};
const V8_OOM_EXIT_CODE = 133;
const MIB = 1024 * 1024;
// Joins every cgroup named before `--` (the sandbox is bounded before its first page), opens the seccomp
// filter named next on fd 3 for bubblewrap ("-": none), then execs the rest.
const START_SCRIPT = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; ' +
  'if [ "$1" != - ]; then exec 3<"$1" || exit 125; fi; shift; exec "$@"';
const SECCOMP_FD = "3";
const SANDBOX_ENV = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
const WORKER_HOST = new URL("./worker_host.ts", import.meta.url).pathname;
let warnedNoJail = false;
let prlimitPath: string | null | undefined;
let setprivPath: string | null | undefined;
let nicePath: string | null | undefined;

function findTool(name: string): string | null {
  for (const dir of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    try {
      Deno.statSync(`${dir}/${name}`);
      return `${dir}/${name}`;
    } catch {
      // Try the next directory.
    }
  }
  return null;
}

/**
 * The tier a request really gets: `jail` falls back to `process` where bubblewrap cannot run, with a loud
 * warning on stderr (once per process).
 *
 * @param requested The tier asked for.
 * @returns The tier that will run.
 */
export function effectiveTier(requested: Tier): Tier {
  if (requested !== "jail" || findBwrap() !== null) return requested;
  if (!warnedNoJail) {
    warnedNoJail = true;
    console.error(
      "WARNING: bubblewrap (bwrap) is missing or cannot create namespaces here: sandboxes fall back to " +
        'the PROCESS tier, which does NOT stop file reads through `import … with {type: "text"}`. ' +
        "Install bubblewrap (apt-get install bubblewrap) for the jail.",
    );
  }
  return "process";
}

/** @returns How this machine bounds a sandbox's memory: a writable cgroup, or the RSS watchdog. */
export function memoryBoundKind(): MemoryBound {
  const probe = SandboxCgroup.create({ memoryBytes: 64 * MIB, tasksMax: 0 });
  if (!probe) return "watchdog";
  probe.remove();
  return "cgroup";
}

/** The tasks bound: the code's `processes` plus the runtime's own threads on this many cores. */
function tasksMax(limits: SandboxLimits): number {
  if (limits.processes === 0) return 0;
  return limits.processes + RUNTIME_TASKS_PER_CORE * (navigator.hardwareConcurrency || 1);
}

function checkSpec(spec: SandboxSpec): void {
  assert(spec.entry.startsWith("/"), "A sandbox entry must be an absolute path");
  assert(spec.importMap.startsWith("/"), "A sandbox import map must be an absolute path");
  for (const dir of spec.readDirs) {
    assert(dir.startsWith("/"), `A sandbox read directory must be absolute: ${dir}`);
  }
  const l = spec.limits;
  assert(Number.isInteger(l.memoryMb) && l.memoryMb > 0, "A sandbox memory bound must be a positive integer");
  assert(Number.isInteger(l.cpuS) && l.cpuS >= 0, "A sandbox CPU bound must be a non-negative integer");
  assert(Number.isInteger(l.files) && l.files > 0, "A sandbox file bound must be a positive integer");
  assert(Number.isInteger(l.processes) && l.processes >= 0, "A sandbox process bound must be an integer");
  assert(l.tmpMb > 0, "A sandbox tmp disk must be positive");
  assert(
    l.nice === undefined || (Number.isInteger(l.nice) && l.nice >= 0 && l.nice <= 19),
    "Niceness is 0–19",
  );
}

function denoArgs(spec: SandboxSpec, tier: Tier): string[] {
  const args = [
    "run",
    "--no-prompt",
    "--no-config",
    "--no-lock",
    "--no-remote",
    "--no-npm",
    `--import-map=${spec.importMap}`,
    `--v8-flags=--max-old-space-size=${spec.limits.memoryMb}`,
  ];
  if (tier !== "worker") return [...args, spec.entry, ...(spec.args ?? [])];
  // The host reads what the worker must load; the worker itself gets no permission at all.
  const readable = [...spec.readDirs, spec.importMap, spec.entry].join(",");
  return [
    ...args,
    `--allow-read=${readable}`,
    "--unstable-worker-options",
    WORKER_HOST,
    spec.entry,
    ...(spec.args ?? []),
  ];
}

/** The full command line: [sh: cgroup join, seccomp fd] → nice → prlimit → [setpriv] → [bwrap] → deno. */
function commandLine(spec: SandboxSpec, tier: Tier, cgroup: SandboxCgroup | null, workDir: string | null) {
  prlimitPath ??= findTool("prlimit");
  setprivPath ??= findTool("setpriv");
  const l = spec.limits;
  const deno = denoBinary();
  const filter = tier === "jail" ? seccompFilterPath() : null;
  let line: string[];
  if (tier === "jail") {
    const jail = jailArgs({
      readDirs: spec.readDirs,
      readFiles: [spec.entry, spec.importMap],
      tmpBytes: l.tmpMb * MIB,
      env: SANDBOX_ENV,
    });
    const seccomp = filter ? ["--seccomp", SECCOMP_FD] : [];
    line = [findBwrap()!, ...jail, ...seccomp, "--", JAIL_DENO_PATH, ...denoArgs(spec, tier)];
  } else {
    line = [deno, ...denoArgs(spec, tier)];
    // Without bubblewrap nothing kills the sandbox if the supervisor dies: the kernel must. And a
    // supervisor running as root must not hand its capabilities down: an empty bounding set means exec
    // grants none, so a V8 exploit lands as a capability-less process.
    if (setprivPath) {
      const drop = ["--no-new-privs", "--bounding-set=-all", "--inh-caps=-all"];
      line = [setprivPath, "--pdeathsig", "KILL", ...drop, "--", ...line];
    }
  }
  if (prlimitPath) {
    const rl = [`--nofile=${l.files}`, "--core=0"];
    if (l.cpuS > 0) rl.push(`--cpu=${l.cpuS}:${l.cpuS + 1}`);
    // Outside the jail there is no size-capped tmpfs: bound each file Deno writes into DENO_DIR.
    if (tier !== "jail") rl.push(`--fsize=${l.tmpMb * MIB}`);
    line = [prlimitPath, ...rl, "--", ...line];
  }
  nicePath ??= findTool("nice");
  const nice = l.nice ?? SANDBOX_NICE;
  if (nicePath && nice > 0) line = [nicePath, "-n", String(nice), ...line];
  const groups = [...(cgroup?.procsFiles ?? [])];
  const shared = l.cpu === "background" || l.cpu === "batch" ? cpuClassGroup(l.cpu) : null;
  if (shared && !groups.includes(shared)) groups.push(shared);
  if (groups.length > 0 || filter) {
    line = ["/bin/sh", "-c", START_SCRIPT, "sh", ...groups, "--", filter ?? "-", ...line];
  }
  const env: Record<string, string> = { ...SANDBOX_ENV };
  if (workDir) env.DENO_DIR = `${workDir}/deno`;
  return { line, env, cwd: workDir ?? "/" };
}

/**
 * Spawns a sandbox. `jail` runs under bubblewrap (falling back to `process`, loudly, where it cannot);
 * `process` is a bare `deno run` with no permission; `worker` runs the entry in a permission-less Web
 * Worker inside such a process (trusted code only: a worker's imports are checked against its host's
 * read grant, which covers `readDirs`).
 *
 * @param spec What to run.
 * @returns The running sandbox.
 */
export function spawnSandbox(spec: SandboxSpec): SandboxProcess {
  checkSpec(spec);
  const tier = effectiveTier(spec.tier);
  const limits = spec.limits;
  const cgroup = SandboxCgroup.create({
    memoryBytes: limits.memoryMb * MIB,
    tasksMax: tasksMax(limits),
    cpu: limits.cpu ?? "normal",
  });
  const workDir = tier === "jail" ? null : Deno.makeTempDirSync({ prefix: "o-sbx-" });
  const { line, env, cwd } = commandLine(spec, tier, cgroup, workDir);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(line[0], {
      args: line.slice(1),
      clearEnv: true,
      env,
      cwd,
      detached: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    cgroup?.remove();
    if (workDir) Deno.removeSync(workDir, { recursive: true });
    throw e;
  }
  return new Sandbox(child, tier, spec.limits, cgroup, workDir);
}

/** One running sandbox; see {@link spawnSandbox}. */
class Sandbox implements SandboxProcess {
  readonly pid: number;
  readonly tier: Tier;
  readonly stdin: WritableStream<Uint8Array>;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly exited: Promise<SandboxExit>;
  #killedFor: string | null = null;
  #tail: Uint8Array[] = [];
  #tailBytes = 0;
  #outputBytes = 0;
  readonly #limits: SandboxLimits;
  readonly #cgroup: SandboxCgroup | null;
  #watchdog: Watchdog | null = null;
  #wallTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    child: Deno.ChildProcess,
    tier: Tier,
    limits: SandboxLimits,
    cgroup: SandboxCgroup | null,
    workDir: string | null,
  ) {
    this.pid = child.pid;
    this.tier = tier;
    this.stdin = child.stdin;
    this.#limits = limits;
    this.#cgroup = cgroup;
    this.stdout = limits.outputBytesMax ? child.stdout.pipeThrough(this.#counter()) : child.stdout;
    if (!cgroup) {
      this.#watchdog = startRssWatchdog(
        child.pid,
        { memoryBytes: limits.memoryMb * MIB, tasksMax: tasksMax(limits) },
        () => this.kill("memory"),
      );
    }
    if (limits.wallMs && limits.wallMs > 0) {
      this.#wallTimer = setTimeout(() => this.kill("wall"), limits.wallMs);
    }
    const stderrDone = this.#readStderr(child.stderr);
    this.exited = this.#finish(child, stderrDone, workDir);
  }

  /** Counts stdout bytes against the output bound; at the bound, stops passing bytes on and kills. */
  #counter(): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream({
      transform: (chunk, controller) => {
        const room = this.#outputRoom(chunk.length);
        if (room > 0) controller.enqueue(room < chunk.length ? chunk.subarray(0, room) : chunk);
      },
    });
  }

  /** Accounts `bytes` more output; returns how many of them fit, killing for `output` when not all do. */
  #outputRoom(bytes: number): number {
    const max = this.#limits.outputBytesMax ?? 0;
    if (max <= 0) return bytes;
    const room = Math.max(0, Math.min(bytes, max - this.#outputBytes));
    this.#outputBytes += bytes;
    if (this.#outputBytes > max) this.kill("output");
    return room;
  }

  async #readStderr(stderr: ReadableStream<Uint8Array>): Promise<void> {
    const keep = Math.max(this.#limits.stderrBytesMax, 1);
    try {
      for await (const chunk of stderr) {
        const room = this.#outputRoom(chunk.length);
        if (room === 0) continue;
        this.#tail.push(room < chunk.length ? chunk.slice(0, room) : chunk);
        this.#tailBytes += room;
        while (this.#tailBytes - this.#tail[0].length >= keep) this.#tailBytes -= this.#tail.shift()!.length;
      }
    } catch {
      // The pipe broke because the sandbox died: the tail is what it is.
    }
  }

  stderrTail(): string {
    const all = new Uint8Array(this.#tailBytes);
    let at = 0;
    for (const c of this.#tail) {
      all.set(c, at);
      at += c.length;
    }
    const keep = Math.max(this.#limits.stderrBytesMax, 1);
    return new TextDecoder().decode(all.length > keep ? all.subarray(all.length - keep) : all);
  }

  kill(reason: string): void {
    if (this.#killedFor !== null) return;
    this.#killedFor = reason;
    this.#killTree();
  }

  #killTree(): void {
    try {
      Deno.kill(-this.pid, "SIGKILL");
    } catch {
      // The group is already gone.
    }
    this.#cgroup?.killAll();
  }

  async #finish(
    child: Deno.ChildProcess,
    stderrDone: Promise<void>,
    workDir: string | null,
  ): Promise<SandboxExit> {
    const status = await child.status;
    clearTimeout(this.#wallTimer);
    this.#watchdog?.stop();
    // Stragglers: anything left in the group or the cgroup dies now (a jail's inner processes die with
    // their pid namespace, so this is normally a no-op).
    this.#killTree();
    const leftovers = await this.#reapCgroup();
    const goneAt = performance.now();
    let stderrTimer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([stderrDone, new Promise((r) => stderrTimer = setTimeout(r, KILL_REAP_MS_MAX))]);
    clearTimeout(stderrTimer);
    const exit: SandboxExit = { ...this.#classify(status), goneAt };
    if (leftovers.length > 0) {
      // Not an exception: `exited` is awaited by supervisors that must go on. Reported, and the group
      // stays (killed again on the next start's stale sweep) instead of being removed populated.
      exit.leftoverPids = leftovers;
      console.error(`sandbox ${this.pid}: processes ${leftovers.join(",")} survived SIGKILL`);
    } else {
      this.#cgroup?.remove();
    }
    if (workDir) await Deno.remove(workDir, { recursive: true }).catch(() => {});
    return exit;
  }

  /** Kills until the cgroup is empty, for at most {@link KILL_REAP_MS_MAX}; returns what is still there. */
  async #reapCgroup(): Promise<number[]> {
    if (!this.#cgroup) return [];
    const deadline = performance.now() + KILL_REAP_MS_MAX;
    let pids = this.#cgroup.pids();
    while (pids.length > 0 && performance.now() < deadline) {
      this.#cgroup.killAll();
      await new Promise((r) => setTimeout(r, REAP_POLL_MS));
      pids = this.#cgroup.pids();
    }
    return pids;
  }

  #classify(status: Deno.CommandStatus): SandboxExit {
    let code: number | null = status.signal ? null : status.code;
    let signal: string | null = status.signal;
    // bubblewrap reports a child killed by signal N as exit code 128 + N: report the signal.
    if (this.tier === "jail" && code !== null && code > 128 && SIGNALS[code - 128]) {
      signal = SIGNALS[code - 128];
      code = null;
    }
    const peak = this.#cgroup?.memoryPeakBytes() ?? this.#watchdog?.peakBytes() ?? 0;
    return {
      code,
      signal,
      killedFor: this.#killedFor ?? this.#limitThatKilled(code, signal),
      memoryPeakBytes: peak,
    };
  }

  /** Which limit the kernel or V8 enforced, when the sandbox died without our `kill`. */
  #limitThatKilled(code: number | null, signal: string | null): string | null {
    if ((this.#cgroup?.oomKills() ?? 0) > 0) return "memory";
    const v8Oom = signal === "SIGTRAP" || code === V8_OOM_EXIT_CODE;
    if (v8Oom && /out of memory/i.test(this.stderrTail())) return "memory";
    if (signal === "SIGXCPU") return "cpu";
    // RLIMIT_CPU's hard limit is a SIGKILL nobody else sends (ours set `killedFor`; OOM is counted above).
    if (signal === "SIGKILL" && this.#limits.cpuS > 0) return "cpu";
    return null;
  }
}
