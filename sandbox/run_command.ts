/**
 * `main.ts sandbox run FILE [--tier jail|process|worker] [--timeout-ms N] [--memory-mb N] [--json]`: runs
 * untrusted code exactly as a generated candidate runs (CONTRACT.md). The pre-filter is deliberately not
 * applied: this command exists to run hostile code against the wall itself.
 *
 * @module
 */
import {
  MEMORY_MB_MAX,
  MEMORY_MB_MIN,
  RUN_MEMORY_MB_DEFAULT,
  RUN_TIMEOUT_MS_DEFAULT,
  RUN_TIMEOUT_MS_MAX,
} from "./limits.ts";
import { type RunResult, runSource } from "./run.ts";
import { effectiveTier, type Tier } from "./spawn.ts";

const USAGE =
  `Usage: main.ts sandbox run FILE [--tier jail|process|worker] [--timeout-ms N] [--memory-mb N] [--json]

Runs FILE (a TypeScript module) exactly as a generated candidate runs: its top level, then its default
export (awaited); the return value is reported as "result".

Options:
  --tier T          jail (default: bubblewrap + cgroup + rlimits), process (no bubblewrap; weaker),
                    worker (a permission-less Web Worker; trusted code only)
  --timeout-ms N    wall time for everything, loading included; then SIGKILL (default ${RUN_TIMEOUT_MS_DEFAULT})
  --memory-mb N     memory of the code's whole process tree (default ${RUN_MEMORY_MB_DEFAULT})
  --json            print one JSON object:
                    {"ok","tier","exit_code","signal","timed_out","killed_for","stdout","stderr","result","duration_ms"}
  --help            this text

Also bounded: 1 MiB of stdout+stderr (then killed_for "output"), 64 MiB private temp disk, 256 open files,
64 tasks. The code gets no permission, an empty environment, no host /tmp, and nothing persists.
Exit status: 0 when the code ran to completion with exit code 0, 1 otherwise, 2 on a usage error.`;

/** Parsed `sandbox run` arguments. */
export interface RunArgs {
  file: string;
  tier: Tier;
  timeoutMs: number;
  memoryMb: number;
  json: boolean;
}

/** Thrown for a command line that cannot be parsed; the message is for the user. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function intFlag(name: string, raw: string | undefined, min: number, max: number): number {
  const n = Number(raw);
  if (raw === undefined || !/^\d+$/.test(raw) || n < min || n > max) {
    throw new UsageError(
      `Cannot use ${name} as it must be an integer in [${min}, ${max}]: current value is ${raw}`,
    );
  }
  return n;
}

/**
 * Parses the arguments after `sandbox run`.
 *
 * @returns The options, or `null` for `--help`.
 * @throws {UsageError} On an unknown flag, a bad value or a missing FILE.
 */
export function parseRunArgs(args: string[]): RunArgs | null {
  const out: RunArgs = {
    file: "",
    tier: "jail",
    timeoutMs: RUN_TIMEOUT_MS_DEFAULT,
    memoryMb: RUN_MEMORY_MB_DEFAULT,
    json: false,
  };
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => (eq > 0 ? arg.slice(eq + 1) : args[++i]);
    if (flag === "--help" || flag === "-h") return null;
    else if (flag === "--json") out.json = true;
    else if (flag === "--tier") {
      const t = value();
      if (t !== "jail" && t !== "process" && t !== "worker") {
        throw new UsageError(
          `Cannot use --tier as it must be jail, process or worker: current value is ${t}`,
        );
      }
      out.tier = t;
    } else if (flag === "--timeout-ms") out.timeoutMs = intFlag(flag, value(), 1, RUN_TIMEOUT_MS_MAX);
    else if (flag === "--memory-mb") out.memoryMb = intFlag(flag, value(), MEMORY_MB_MIN, MEMORY_MB_MAX);
    else if (arg.startsWith("-")) throw new UsageError(`Cannot run: unknown option ${arg}`);
    else files.push(arg);
  }
  if (files.length !== 1) throw new UsageError(`Cannot run: expected one FILE, got ${files.length}`);
  out.file = files[0];
  return out;
}

/**
 * The `sandbox run` command.
 *
 * @param args Arguments after `sandbox run`.
 * @returns The exit status: 0 ok, 1 the code failed or was killed, 2 usage error.
 */
export async function sandboxRunCommand(args: string[]): Promise<number> {
  let parsed: RunArgs | null;
  try {
    parsed = parseRunArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed === null) {
    console.log(USAGE);
    return 0;
  }
  let source: string;
  try {
    source = await Deno.readTextFile(parsed.file);
  } catch (e) {
    console.error(`Cannot read ${parsed.file}: ${e instanceof Error ? e.message : e}`);
    return 2;
  }
  const tier = effectiveTier(parsed.tier);
  const result = await runSource(source, { tier, timeoutMs: parsed.timeoutMs, memoryMb: parsed.memoryMb });
  if (parsed.json) console.log(JSON.stringify(contractView(result)));
  else printHuman(result);
  return result.ok ? 0 : 1;
}

/** The exact CONTRACT.md field set, in its order. */
function contractView(r: RunResult): Record<string, unknown> {
  return {
    ok: r.ok,
    tier: r.tier,
    exit_code: r.exit_code,
    signal: r.signal,
    timed_out: r.timed_out,
    killed_for: r.killed_for,
    stdout: r.stdout,
    stderr: r.stderr,
    result: r.result,
    duration_ms: r.duration_ms,
  };
}

function writeAll(file: { writeSync(b: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
}

function printHuman(r: RunResult): void {
  writeAll(Deno.stdout, r.stdout);
  writeAll(Deno.stderr, r.stderr);
  const how = r.killed_for
    ? `killed for ${r.killed_for}`
    : r.signal
    ? `signal ${r.signal}`
    : `exit ${r.exit_code}`;
  console.error(
    `sandbox: tier ${r.tier}, ${how}, ${r.duration_ms} ms, result ${JSON.stringify(r.result)}`,
  );
}
