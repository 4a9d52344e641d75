/**
 * The vault's public shapes: what the supervisor asks of durable storage.
 *
 * @module
 */
import type { DeltaOp, HistoryEntry, Snapshot } from "../protocol/mod.ts";

/** One state change, as logged before its answer is sent. */
export interface WalEntry {
  agent: string;
  /** The version of the code that produced the change. */
  version: string;
  delta: DeltaOp[];
  /** The invoke's answer, kept so an idempotent retry answers it again, across restarts too. */
  output: unknown;
  idempotency_key?: string;
  request_id: string;
  /** The invoke's input; kept for replay to shadows and for `ctx.history`. */
  input: unknown;
  time_ms: number;
}

/** Where an appended record landed. */
export interface AppendResult {
  seq: number;
}

/** The first answer of a request whose idempotency key was seen before. */
export interface IdempotentHit {
  seq: number;
  output: unknown;
  version: string;
}

/** An agent's durable data as rebuilt from the newest verifying checkpoint plus the WAL tail. */
export interface RecoveredAgent {
  snapshot: Snapshot;
  /** The seq of the last record applied (0 when the agent has none). */
  seq: number;
  /** The most recent transitions, oldest first, at most `HISTORY_ENTRIES_MAX`. */
  history: HistoryEntry[];
}

/** A saved checkpoint. */
export interface CheckpointInfo {
  checkpoint_id: string;
  seq: number;
  /** Stored (compressed) size. */
  bytes: number;
}

/** An agent's code as registered (from `--agents DIR` or `POST /v1/agents`). */
export interface AgentRecord {
  name: string;
  version: string;
  source: string;
  origin: "dir" | "api";
  created_ms: number;
}
