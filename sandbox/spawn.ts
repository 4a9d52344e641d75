/**
 * Starting a sandboxed Deno subprocess: the one way O runs agent and candidate code.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";

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
  /** Processes/threads of the sandbox's user. */
  processes: number;
  /** Private temp disk, MiB. */
  tmpMb: number;
  /** stdout + stderr bytes the supervisor reads before it kills for `output`. */
  stderrBytesMax: number;
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
  files: 256,
  processes: 64,
  tmpMb: 64,
  stderrBytesMax: 64 * 1024,
};

/**
 * Spawns a sandbox. This first cut runs the `process` tier only: a `deno run --no-prompt` subprocess with
 * no permission flags, an empty environment and a V8 heap cap. The jail tier replaces it (sandbox issue).
 *
 * @param spec What to run.
 * @returns The running sandbox.
 */
export function spawnSandbox(spec: SandboxSpec): SandboxProcess {
  assert(spec.entry.startsWith("/"), "A sandbox entry must be an absolute path");
  const args = [
    "run",
    "--no-prompt",
    "--no-config",
    "--no-lock",
    `--import-map=${spec.importMap}`,
    `--v8-flags=--max-old-space-size=${spec.limits.memoryMb}`,
    spec.entry,
    ...(spec.args ?? []),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    clearEnv: true,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killedFor: string | null = null;
  let tail = "";
  const decoder = new TextDecoder();
  const stderrDone = (async () => {
    for await (const chunk of child.stderr) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-spec.limits.stderrBytesMax);
    }
  })().catch(() => {});
  const exited = child.status.then(async (s) => {
    await stderrDone;
    return { code: s.signal ? null : s.code, signal: s.signal, killedFor };
  });
  return {
    pid: child.pid,
    tier: "process",
    stdin: child.stdin,
    stdout: child.stdout,
    exited,
    stderrTail: () => tail,
    kill(reason: string) {
      if (killedFor !== null) return;
      killedFor = reason;
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    },
  };
}
