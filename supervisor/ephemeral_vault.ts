/**
 * The vault of a shadow: it satisfies the host's vault interface entirely in memory and persists nothing,
 * so a candidate's state changes can never reach disk or the live agent. Appends resolve at once with
 * their own sequence numbers; checkpoints are refused.
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
import { SupervisorError } from "./errors.ts";
import type { HostVault } from "./host_deps.ts";

/** Most records a shadow keeps for inspection (oldest dropped). */
export const EPHEMERAL_RECORDS_MAX = 1_000;

/** An in-memory, throwaway HostVault for shadows. */
export class EphemeralVault implements HostVault {
  readonly #start: RecoveredAgent;
  #seq: number;
  readonly records: WalEntry[] = [];

  /** @param start The state the shadow begins from (a copy of the live agent's durable state). */
  constructor(start: RecoveredAgent) {
    this.#start = structuredClone(start);
    this.#seq = start.seq;
  }

  append(entry: WalEntry): Promise<AppendResult> {
    this.records.push(entry);
    if (this.records.length > EPHEMERAL_RECORDS_MAX) this.records.shift();
    return Promise.resolve({ seq: ++this.#seq });
  }

  findIdempotent(): IdempotentHit | undefined {
    return undefined;
  }

  recoverAgent(): Promise<RecoveredAgent> {
    return Promise.resolve(structuredClone(this.#start));
  }

  checkpoint(_agent: string, _snapshot: Snapshot, _seq: number): Promise<CheckpointInfo> {
    return Promise.reject(
      new SupervisorError("SHADOW_NO_CHECKPOINT", "Cannot checkpoint a shadow: it persists nothing"),
    );
  }
}
