/**
 * Sandboxes: tiers (jail, process, worker), policy → flags, resource limits, the warm pool, the capability
 * broker and the tool implementations.
 *
 * @module
 */
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
