/**
 * Sandboxes: tiers (jail, process, worker), policy → flags, resource limits, the warm pool, the capability
 * broker and the tool implementations.
 *
 * @module
 */
export {
  AGENT_LIMITS_DEFAULT,
  type SandboxExit,
  type SandboxLimits,
  type SandboxProcess,
  type SandboxSpec,
  spawnSandbox,
  type Tier,
} from "./spawn.ts";
