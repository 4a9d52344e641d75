/**
 * One bounded run of untrusted code, exactly as a candidate runs: the `sandbox run` command, the audit
 * and evaluations go through {@link runSource} (cold) or {@link runInSandbox} (a pre-started sandbox from
 * the warm pool). The module's top level runs, then its default export (awaited); the wall clock covers
 * all of it, loading included, and ends in a SIGKILL of the whole tree.
 *
 * @module
 */
import { encodeFrame } from "../protocol/mod.ts";
import { type SandboxExit, type SandboxProcess, type SandboxSpec, spawnSandbox, type Tier } from "./spawn.ts";
import { policyFor } from "./policy.ts";
import { RUN_MEMORY_MB_DEFAULT, RUN_TIMEOUT_MS_DEFAULT } from "./limits.ts";

/** What `sandbox run --json` prints (CONTRACT.md), plus the measured peak memory. */
export interface RunResult {
  ok: boolean;
  tier: Tier;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  killed_for: "cpu" | "memory" | "wall" | "output" | null;
  stdout: string;
  stderr: string;
  result: unknown;
  duration_ms: number;
  /** Peak memory of the whole tree, bytes (cgroup or watchdog measurement; 0 if unknown). */
  memory_peak_bytes: number;
}

/** Options of one run. */
export interface RunOptions {
  /** Tier to run in. @default "jail" */
  tier?: Tier;
  /** Wall time for everything, ms. @default 5000 */
  timeoutMs?: number;
  /** Memory of the process tree, MiB. @default 256 */
  memoryMb?: number;
  /** Extra directories the code may read (bound read-only in the jail; the audit binds canaries). */
  readDirs?: string[];
  /** A marker passed as the entry's argument, so a leftover process can be found in /proc. */
  tag?: string;
}

const PROJECT_ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const RUN_ENTRY = `${PROJECT_ROOT}/sandbox/run_entry.ts`;
const IMPORT_MAP = `${PROJECT_ROOT}/agent/import_map.json`;
/** Starts the result line `run_entry.ts` writes (the same constant is there; a test keeps them equal). */
export const RESULT_MARK = "\u001eO-RESULT ";
/** The line `run_entry.ts` writes once loaded, before it reads code (the warm pool waits for it). */
export const READY_MARK = "\u001eO-READY\n";
const KILL_REASONS = new Set(["cpu", "memory", "wall", "output"]);

/**
 * The spec of a run sandbox: `run_entry.ts` waiting for code, with the SDK readable and nothing else.
 *
 * @param tier Tier to run in.
 * @param timeoutMs Wall time the limits are derived from (the runner enforces the wall itself).
 * @param memoryMb Memory of the tree, MiB.
 * @returns The spec to spawn (or to warm a pool with).
 */
export function runSpec(
  tier: Tier,
  timeoutMs: number,
  memoryMb: number,
  extra: { readDirs?: string[]; tag?: string } = {},
): SandboxSpec {
  const policy = policyFor("submitted", { tier, timeoutMs, memoryMb, allowWeakerTier: true });
  return {
    entry: RUN_ENTRY,
    args: extra.tag ? [extra.tag] : [],
    importMap: IMPORT_MAP,
    readDirs: [`${PROJECT_ROOT}/agent`, `${PROJECT_ROOT}/protocol`, ...(extra.readDirs ?? [])],
    tier: policy.tier,
    // The runner starts the wall clock itself, so a pooled sandbox's idle time is not charged.
    limits: { ...policy.limits, wallMs: 0 },
  };
}

/**
 * Runs `source` in a fresh sandbox.
 *
 * @param source TypeScript module source (not pre-filtered: the wall must hold on its own).
 * @param options Tier, timeout, memory.
 * @returns The report; produced even when the code was killed.
 */
export function runSource(source: string, options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? RUN_TIMEOUT_MS_DEFAULT;
  const spec = runSpec(options.tier ?? "jail", timeoutMs, options.memoryMb ?? RUN_MEMORY_MB_DEFAULT, options);
  const sandbox = spawnSandbox(spec);
  return runInSandbox(sandbox, source, { timeoutMs, started });
}

/**
 * Runs `source` in a sandbox already started from {@link runSpec} (cold or from the warm pool). The
 * sandbox is used once: it exits when the run ends.
 *
 * @param sandbox A started, unused run sandbox.
 * @param source TypeScript module source.
 * @param options `timeoutMs` (wall, from `started`), `started` (a `performance.now()` reading).
 * @returns The report.
 */
export async function runInSandbox(
  sandbox: SandboxProcess,
  source: string,
  options: { timeoutMs: number; started?: number },
): Promise<RunResult> {
  const started = options.started ?? performance.now();
  const remainingMs = Math.max(0, options.timeoutMs - (performance.now() - started));
  const wall = setTimeout(() => sandbox.kill("wall"), remainingMs);
  const nonce = crypto.randomUUID();
  const stdoutDone = readAll(sandbox.stdout);
  const writer = sandbox.stdin.getWriter();
  await writer.write(encodeFrame({ source, nonce })).catch(() => {});
  await writer.close().catch(() => {});
  const exit = await sandbox.exited;
  clearTimeout(wall);
  const stdoutBytes = await stdoutDone;
  // Duration ends when the last process was reaped, not when temp files were cleaned up.
  const endedAt = exit.goneAt ?? performance.now();
  return report(sandbox.tier, exit, stdoutBytes, sandbox.stderrTail(), nonce, endedAt - started);
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk);
      length += chunk.length;
    }
  } catch {
    // The pipe broke when the sandbox was killed: keep what arrived.
  }
  const all = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}

function report(
  tier: Tier,
  exit: SandboxExit,
  stdoutBytes: Uint8Array,
  stderr: string,
  nonce: string,
  durationMs: number,
): RunResult {
  let stdout = new TextDecoder().decode(stdoutBytes);
  // A cold run reads the ready line itself; a pooled one had it read by the pool.
  if (stdout.startsWith(READY_MARK)) stdout = stdout.slice(READY_MARK.length);
  let result: unknown = null;
  const mark = `${RESULT_MARK}${nonce} `;
  const at = stdout.lastIndexOf(mark);
  if (at >= 0) {
    const end = stdout.indexOf("\n", at);
    const line = stdout.slice(at + mark.length, end < 0 ? undefined : end);
    stdout = stdout.slice(0, at) + (end < 0 ? "" : stdout.slice(end + 1));
    try {
      result = JSON.parse(line);
    } catch {
      // A result line cut by the output bound: no result.
    }
  }
  const killedFor = exit.killedFor !== null && KILL_REASONS.has(exit.killedFor)
    ? exit.killedFor as RunResult["killed_for"]
    : null;
  return {
    ok: exit.code === 0 && exit.killedFor === null,
    tier,
    exit_code: exit.code,
    signal: exit.signal,
    timed_out: killedFor === "wall",
    killed_for: killedFor,
    stdout,
    stderr,
    result,
    duration_ms: Math.round(durationMs),
    memory_peak_bytes: exit.memoryPeakBytes ?? 0,
  };
}
