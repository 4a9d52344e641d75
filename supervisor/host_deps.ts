/**
 * The narrow interfaces an AgentHost depends on, so hosts can be built on the real vault and metrics
 * without importing the whole supervisor.
 *
 * @module
 */
import type { Snapshot } from "../protocol/mod.ts";
import type {
  AppendResult,
  CheckpointInfo,
  IdempotentHit,
  RecoveredAgent,
  WalEntry,
} from "../vault/types.ts";

/** What a host needs of the vault. */
export interface HostVault {
  append(entry: WalEntry): Promise<AppendResult>;
  findIdempotent(agent: string, key: string): IdempotentHit | undefined;
  recoverAgent(agent: string): Promise<RecoveredAgent>;
  checkpoint(agent: string, snapshot: Snapshot, seq: number): Promise<CheckpointInfo>;
}

/** What a host records in metrics. */
export interface HostMetrics {
  invoked(labels: { agent: string; version: string }, outcome: "ok" | "error", seconds: number): void;
  restarted(labels: { agent: string }): void;
}
