/**
 * Sandboxes: tiers (jail, process, worker), policy → flags, resource limits, the warm pool, the admission
 * quota, the pre-filter, the escape audit, the capability broker and the tool implementations.
 *
 * Tiers (sandbox/spawn.ts; measured on Deno 2.9.6):
 *
 * - `jail` (default for anything generated or submitted): `deno run --no-prompt --no-remote --no-npm` with
 *   no permission flag, inside bubblewrap (every namespace unshared, nested user namespaces disabled, all
 *   capabilities dropped, a seccomp deny-list on x86_64, a new session, dies with its parent), seeing only
 *   the Deno binary, its shared libraries, the `readDirs` (read-only), a size-capped private `/tmp` with a
 *   throwaway `DENO_DIR`, a minimal `/dev` and a `/proc/self/exe` symlink (no procfs). Under `prlimit`
 *   (CPU seconds, open files, no core files), V8's heap cap, and a per-sandbox memory + pids cgroup (v1 or
 *   v2, whichever is writable; sandbox/cgroup.ts) joined before the first exec, or, without one, an RSS
 *   watchdog (sandbox/watchdog.ts). RLIMIT_NPROC is not used: it counts every process of the user (the
 *   supervisor's included) and root ignores it; the pids cgroup (or the watchdog's thread count) bounds
 *   tasks instead.
 * - `process`: the same without bubblewrap (used only where bubblewrap cannot run, with a loud warning, or
 *   when asked explicitly); capabilities dropped and no new privileges via `setpriv`.
 * - `worker`: a Web Worker with `deno: {permissions: "none"}` inside a process-tier host; trusted code only.
 *
 * Code runs through one path (sandbox/run.ts): `run_entry.ts` loads it from a `data:` URL, exactly as the
 * agent runtime loads candidates. A measured consequence: the known static-import trap (`import … with
 * {type: "text"}` of a file URL reading without `--allow-read`) only works from a process's static module
 * graph, which loaded code never joins, so the audit finds no escape in the process or worker tiers either;
 * `audit --control` (no sandbox) proves every canary trips. The jail is the wall for what a battery cannot
 * enumerate: a bug in Deno's permission checks or in V8 gives host access in the weaker tiers, and an
 * empty, network-less, read-only, capability-less namespace in the jail.
 *
 * @example
 * ```ts ignore
 * import { runSource } from "./mod.ts";
 * const report = await runSource("export default () => 6 * 7;", { tier: "jail", timeoutMs: 2000 });
 * console.log(report.result, report.killed_for); // 42 null
 * ```
 *
 * @module
 */
export { BATCH_CPU_SHARES, type CpuClass, cpuClassGroup } from "./cgroup.ts";
export { setThreadCpuClass } from "./thread_class.ts";
export {
  AGENT_LIMITS_DEFAULT,
  effectiveTier,
  type MemoryBound,
  memoryBoundKind,
  type SandboxExit,
  type SandboxLimits,
  type SandboxProcess,
  type SandboxSpec,
  spawnSandbox,
  type Tier,
} from "./spawn.ts";
export {
  Broker,
  type BrokerEngines,
  BUILTIN_TOOLS,
  type Grant,
  TOOL_ANSWER_BYTES_MAX,
  TOOL_ARGS_BYTES_MAX,
  type ToolAudit,
  toolKey,
} from "./broker.ts";
export {
  type CodeOrigin,
  policyFor,
  type PolicyOptions,
  runLimits,
  type SandboxPolicy,
  SandboxPolicyError,
} from "./policy.ts";
export { runInSandbox, type RunOptions, type RunResult, runSource, runSpec } from "./run.ts";
export { sandboxRunCommand } from "./run_command.ts";
export { prefilter, type PrefilterResult, type PrefilterRule, type Violation } from "./prefilter.ts";
export { runPoolOptions, waitForReadyMark, WarmPool, type WarmPoolOptions } from "./warm_pool.ts";
export { type SandboxPermit, SandboxQuota, SandboxQuotaError, type SandboxQuotaOptions } from "./quota.ts";
export {
  type AuditCaseReport,
  auditCommand,
  type AuditOptions,
  type AuditReport,
  formatTable,
  runAudit,
} from "./audit.ts";
export { benchSandbox, type SandboxBench, type SandboxBenchOptions } from "./bench.ts";
export { fetchTransport, type HttpAnswer, type HttpRequest, type HttpTransport } from "./tools/http.ts";
export { checkStatement, NodeSqlEngine, type SqlAnswer, type SqlEngine } from "./tools/sql.ts";
