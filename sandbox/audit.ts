/**
 * `main.ts audit`: the escape and containment battery (sandbox/audit_cases.ts) run through the same path
 * as `sandbox run` ({@link runSource}), each case against fresh canaries (sandbox/canaries.ts), so an
 * escape is detected, not assumed. A case escaped when a canary tripped (secret in its output, a
 * connection to the host listener, a file written outside, a protected file changed), when state
 * persisted from one run to the next, when a process outlived it, or when it ran past its wall limit
 * (+{@link AUDIT_WALL_MARGIN_MS}) or its memory bound.
 *
 * `--tier process` and `--tier worker` run the battery against weaker tiers; `--control` runs the escape
 * probes with no sandbox at all (`deno run -A`) to prove that each canary does trip when nothing stops it.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";
import { AUDIT_CASES, type AuditCase, type AuditCategory } from "./audit_cases.ts";
import { type CaseCanaries, createCaseCanaries } from "./canaries.ts";
import { detectCgroups } from "./cgroup.ts";
import { denoBinary, findBwrap } from "./jail.ts";
import { leftoverPids } from "./leftovers.ts";
import {
  AUDIT_CONCURRENCY_DEFAULT,
  AUDIT_WALL_MARGIN_MS,
  AUDIT_WATCHDOG_MEMORY_MARGIN_MB,
  RUN_MEMORY_MB_DEFAULT,
  RUN_TIMEOUT_MS_DEFAULT,
} from "./limits.ts";
import { runInSandbox, type RunResult, runSource } from "./run.ts";
import { effectiveTier, type SandboxExit, type SandboxProcess, type Tier } from "./spawn.ts";

/** One case's verdict. */
export interface AuditCaseReport {
  name: string;
  category: AuditCategory;
  expected: string;
  /** What happened (the probe's own account, or how the run ended). */
  outcome: string;
  escaped: boolean;
  /** Why it counts as escaped (empty when contained). */
  reasons: string[];
  /** Whether the end matched the case's expected kill reasons. */
  asExpected: boolean;
  ms: number;
  /** Peak memory of the last run, MiB. */
  memoryPeakMb: number;
}

/** The whole audit. */
export interface AuditReport {
  tier: Tier | "control";
  memoryBound: string;
  cases: AuditCaseReport[];
  escapes: number;
  unexpected: number;
  durationMs: number;
}

/** Options of {@link runAudit}. */
export interface AuditOptions {
  /** Tier to attack. @default "jail" */
  tier?: Tier;
  /** Run the escape probes unsandboxed to prove the canaries (bombs are skipped). @default false */
  control?: boolean;
  /** Only cases whose name contains this (case-insensitive). */
  filter?: string;
  /** Cases run at once. @default 2 */
  concurrency?: number;
  /** Called after each case (progress). */
  onCase?: (report: AuditCaseReport) => void;
}

const MIB = 1024 * 1024;
const PROJECT_ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const RUN_ENTRY_PATH = `${PROJECT_ROOT}/sandbox/run_entry.ts`;

interface AuditContext {
  tier: Tier | "control";
  envName: string;
  envSecret: string;
  helperPid: number;
  watchdog: boolean;
  controlDenoDir: string | null;
}

/**
 * Runs the battery.
 *
 * @param options Tier, control mode, filter, concurrency.
 * @returns Every case's verdict.
 */
export async function runAudit(options: AuditOptions = {}): Promise<AuditReport> {
  const started = performance.now();
  const control = options.control ?? false;
  const tier: Tier | "control" = control ? "control" : effectiveTier(options.tier ?? "jail");
  const filter = options.filter?.toLowerCase();
  const cases = AUDIT_CASES.filter((c) =>
    (!filter || c.name.toLowerCase().includes(filter)) && (!control || c.control !== false)
  );
  const envName = `O_AUDIT_SECRET_${crypto.randomUUID().replaceAll("-", "").slice(0, 12).toUpperCase()}`;
  const envSecret = `O-CANARY-ENV-${crypto.randomUUID()}`;
  Deno.env.set(envName, envSecret);
  // A host process whose /proc/<pid>/environ holds the secret from its start (setenv above does not
  // change our own /proc/self/environ).
  const helper = new Deno.Command("sleep", {
    args: ["3600"],
    clearEnv: true,
    env: { [envName]: envSecret },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const ctx: AuditContext = {
    tier,
    envName,
    envSecret,
    helperPid: helper.pid,
    watchdog: detectCgroups().memory === null,
    controlDenoDir: control ? Deno.makeTempDirSync({ prefix: "o-audit-control-" }) : null,
  };
  const reports: AuditCaseReport[] = new Array(cases.length);
  try {
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        reports[i] = await runCase(cases[i], ctx);
        options.onCase?.(reports[i]);
      }
    };
    const concurrency = Math.max(1, options.concurrency ?? AUDIT_CONCURRENCY_DEFAULT);
    await Promise.all(Array.from({ length: Math.min(concurrency, cases.length) }, worker));
  } finally {
    Deno.env.delete(envName);
    helper.kill("SIGKILL");
    await helper.status;
    if (ctx.controlDenoDir) await Deno.remove(ctx.controlDenoDir, { recursive: true }).catch(() => {});
  }
  return {
    tier,
    memoryBound: memoryBoundName(),
    cases: reports,
    escapes: reports.filter((r) => r.escaped).length,
    unexpected: reports.filter((r) => !r.asExpected).length,
    durationMs: Math.round(performance.now() - started),
  };
}

function memoryBoundName(): string {
  const m = detectCgroups().memory;
  return m ? `cgroup v${m.version}` : "RSS watchdog";
}

async function runCase(c: AuditCase, ctx: AuditContext): Promise<AuditCaseReport> {
  const canaries = createCaseCanaries(ctx.envName, ctx.envSecret);
  // The "own source" a probe attacks is a copy of the run entry in a directory bound into the sandbox
  // exactly as the real one is, so neither a failing wall nor the unsandboxed control run can damage O.
  const protectedPath = `${canaries.info.boundDir}/run_entry.ts`;
  await Deno.copyFile(RUN_ENTRY_PATH, protectedPath);
  const protectedBefore = await fileDigest(protectedPath);
  const timeoutMs = c.timeoutMs ?? RUN_TIMEOUT_MS_DEFAULT;
  const memoryMb = c.memoryMb ?? RUN_MEMORY_MB_DEFAULT;
  const tag = `o-audit-${crypto.randomUUID()}`;
  const sources = c.sources({ ...canaries.info, helperPid: ctx.helperPid, protectedPath });
  const started = performance.now();
  const runs: RunResult[] = [];
  const reasons: string[] = [];
  try {
    for (const source of sources) {
      const run = ctx.tier === "control"
        ? await controlRun(source, timeoutMs, ctx.controlDenoDir!)
        : await runSource(source, {
          tier: ctx.tier,
          timeoutMs,
          memoryMb,
          readDirs: [canaries.info.boundDir],
          tag,
        });
      runs.push(run);
      reasons.push(...containment(run, timeoutMs, memoryMb, ctx));
      if (leftoverPids(tag).length > 0) reasons.push(`left processes behind: ${leftoverPids(tag).join(",")}`);
    }
    reasons.push(...verdict(canaries, runs));
    if ((await fileDigest(protectedPath).catch(() => "gone")) !== protectedBefore) {
      reasons.push("changed a protected file");
    }
  } finally {
    await canaries.dispose();
  }
  const last = runs[runs.length - 1];
  const asExpected = !c.killedFor || c.killedFor.includes(last.killed_for);
  return {
    name: c.name,
    category: c.category,
    expected: c.expected,
    outcome: describe(last) + (asExpected ? "" : " (unexpected)"),
    escaped: reasons.length > 0,
    reasons: [...new Set(reasons)],
    asExpected,
    ms: Math.round(performance.now() - started),
    memoryPeakMb: Math.round(last.memory_peak_bytes / MIB),
  };
}

function verdict(canaries: CaseCanaries, runs: RunResult[]): string[] {
  const outputs = runs.flatMap((r) => [r.stdout, r.stderr, JSON.stringify(r.result)]);
  const reasons = canaries.tripped(outputs);
  if (runs.length > 1) {
    // The first run stores the token and may print it; only a later run finding it is persistence.
    const later = runs.slice(1).flatMap((r) => [r.stdout, r.stderr, JSON.stringify(r.result)]).join("\n");
    if (later.includes(canaries.info.persistToken)) reasons.push("state persisted between runs");
  }
  return reasons;
}

function containment(run: RunResult, timeoutMs: number, memoryMb: number, ctx: AuditContext): string[] {
  if (ctx.tier === "control") return [];
  const out: string[] = [];
  if (run.duration_ms > timeoutMs + AUDIT_WALL_MARGIN_MS) {
    out.push(`ran ${run.duration_ms} ms, past its ${timeoutMs} ms wall limit + ${AUDIT_WALL_MARGIN_MS} ms`);
  }
  const boundMb = memoryMb + (ctx.watchdog ? AUDIT_WATCHDOG_MEMORY_MARGIN_MB : 0);
  if (run.memory_peak_bytes > boundMb * MIB) {
    out.push(`peaked at ${Math.round(run.memory_peak_bytes / MIB)} MiB, past its ${memoryMb} MiB bound`);
  }
  return out;
}

async function fileDigest(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  const stat = await Deno.stat(path);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `${Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")}:${stat.mode}`;
}

function describe(r: RunResult): string {
  if (r.killed_for) return `killed: ${r.killed_for}`;
  if (typeof r.result === "string") return r.result;
  if (r.result !== null) return JSON.stringify(r.result);
  if (r.signal) return `signal ${r.signal}`;
  // Skip banner lines ("=====") so a Deno panic shows its message.
  const firstLine = r.stderr.split("\n").find((l) => /[a-z]/i.test(l)) ?? "";
  return `exit ${r.exit_code}${firstLine ? `: ${firstLine}` : ""}`;
}

/**
 * The control run: the same entry and report, but `deno run -A`, the auditing process's environment and
 * a DENO_DIR shared between runs. Nothing is contained; every provable canary must trip.
 */
function controlRun(source: string, timeoutMs: number, denoDir: string): Promise<RunResult> {
  const started = performance.now();
  const child = new Deno.Command(denoBinary(), {
    args: [
      "run",
      "-A",
      "--no-config",
      "--no-lock",
      `--import-map=${PROJECT_ROOT}/agent/import_map.json`,
      RUN_ENTRY_PATH,
    ],
    env: { ...Deno.env.toObject(), DENO_DIR: denoDir, NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  let killedFor: string | null = null;
  let stderr = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (s) => void (stderr = (stderr + s).slice(-65536)) }),
  ).catch(() => {});
  const sandbox: SandboxProcess = {
    pid: child.pid,
    tier: "process",
    stdin: child.stdin,
    stdout: child.stdout,
    exited: child.status.then(async (s): Promise<SandboxExit> => {
      await stderrDone;
      return { code: s.signal ? null : s.code, signal: s.signal, killedFor, goneAt: performance.now() };
    }),
    stderrTail: () => stderr,
    kill(reason: string) {
      killedFor ??= reason;
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    },
  };
  return runInSandbox(sandbox, source, { timeoutMs, started });
}

const AUDIT_USAGE =
  `Usage: main.ts audit [--tier jail|process|worker] [--control] [--json] [--filter TEXT] [--concurrency N]

Runs the sandbox escape and containment battery (${AUDIT_CASES.length} cases) through the same path as
\`sandbox run\`, with fresh canaries per case: a secret file (and JSON, module, SQLite and dotenv copies), a
secret environment variable in this process, a TCP listener on 127.0.0.1, a path that must stay absent.

Options:
  --tier T         tier to attack (default jail). process and worker are weaker: escapes are expected there
                   (file reads through import attributes in the process tier) and show the canaries work
  --control        run the escape probes with no sandbox (deno run -A): every provable canary must trip
  --json           print the report as JSON
  --filter TEXT    only cases whose name contains TEXT
  --concurrency N  cases run at once (default ${AUDIT_CONCURRENCY_DEFAULT})
  --help           this text

Exit status: 0 when nothing escaped (with --control: when every provable canary tripped), 1 otherwise,
2 on a usage error.`;

interface AuditArgs {
  tier: Tier;
  control: boolean;
  json: boolean;
  filter?: string;
  concurrency: number;
}

function parseAuditArgs(args: string[]): AuditArgs | null | string {
  const out: AuditArgs = {
    tier: "jail",
    control: false,
    json: false,
    concurrency: AUDIT_CONCURRENCY_DEFAULT,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => (eq > 0 ? arg.slice(eq + 1) : args[++i]);
    if (flag === "--help" || flag === "-h") return null;
    else if (flag === "--json") out.json = true;
    else if (flag === "--control") out.control = true;
    else if (flag === "--filter") out.filter = value() ?? "";
    else if (flag === "--tier") {
      const t = value();
      if (t !== "jail" && t !== "process" && t !== "worker") return `Cannot use --tier: ${t} is not a tier`;
      out.tier = t;
    } else if (flag === "--concurrency") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 64) return "Cannot use --concurrency: it must be in [1, 64]";
      out.concurrency = n;
    } else return `Cannot audit: unknown argument ${arg}`;
  }
  return out;
}

/**
 * The `audit` command.
 *
 * @param args Arguments after `audit`.
 * @returns 0 when nothing escaped, 1 when something did, 2 on a usage error.
 */
export async function auditCommand(args: string[]): Promise<number> {
  const parsed = parseAuditArgs(args);
  if (parsed === null) {
    console.log(AUDIT_USAGE);
    return 0;
  }
  if (typeof parsed === "string") {
    console.error(`${parsed}\n\n${AUDIT_USAGE}`);
    return 2;
  }
  const tier = parsed.control ? "control" : effectiveTier(parsed.tier);
  if (!parsed.json) {
    const jail = findBwrap() ? "bubblewrap available" : "NO bubblewrap";
    console.log(`audit: tier ${tier} (${jail}), memory bound ${memoryBoundName()}`);
  }
  const report = await runAudit({
    tier: parsed.tier,
    control: parsed.control,
    filter: parsed.filter,
    concurrency: parsed.concurrency,
  });
  if (parsed.json) console.log(JSON.stringify(report));
  else console.log(formatTable(report));
  if (report.tier === "control") {
    return report.cases.some((c, i) => !c.escaped && provable(report, i)) ? 1 : 0;
  }
  return report.escapes > 0 ? 1 : 0;
}

function provable(report: AuditReport, i: number): boolean {
  const c = AUDIT_CASES.find((a) => a.name === report.cases[i].name);
  assert(c !== undefined, "Every reported case is in the battery");
  return c.provable !== false;
}

/**
 * Renders the report as a table with a summary line.
 *
 * @returns The table text.
 */
export function formatTable(report: AuditReport): string {
  const control = report.tier === "control";
  const head = ["#", "case", "category", "expected", "outcome", control ? "canary" : "escaped?", "ms"];
  const rows = report.cases.map((c, i) => [
    String(i + 1),
    c.name,
    c.category,
    c.expected,
    c.outcome.replace(/\s+/g, " ").slice(0, 90),
    control
      ? (c.escaped ? "tripped" : provable(report, i) ? "NOT TRIPPED" : "n/a")
      : (c.escaped ? "ESCAPED" : "no"),
    String(c.ms),
  ]);
  const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const line = (r: string[]) => r.map((cell, k) => cell.padEnd(widths[k])).join("  ").trimEnd();
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
  for (const c of report.cases) if (c.escaped) out.push(`  ${c.name}: ${c.reasons.join("; ")}`);
  const summary = control
    ? `control: ${
      report.cases.filter((c) => c.escaped).length
    }/${report.cases.length} canaries tripped unsandboxed`
    : `tier ${report.tier}: ${report.cases.length} cases, ${report.escapes} escaped, ${report.unexpected} ended unexpectedly`;
  out.push("", `${summary} (memory bound ${report.memoryBound}, ${report.durationMs} ms)`);
  return out.join("\n");
}
