/**
 * The vault's in-memory view of one agent, rebuilt at open from its newest verifying checkpoint plus the
 * WAL, and kept current by every durable append: idempotency keys (bounded, oldest dropped), the last
 * transitions for `ctx.history`, and where the agent's records after its checkpoint sit in the WAL.
 *
 * @module
 */
import type { HistoryEntry } from "../protocol/mod.ts";
import type { CheckpointMeta, IdempotencyTuple } from "./checkpoint.ts";
import { HISTORY_ENTRIES_MAX } from "./limits.ts";
import type { IdempotentHit, WalEntry } from "./types.ts";
import type { WalPosition } from "./wal.ts";

/** One agent's index; see the module doc. */
export class AgentIndex {
  readonly agent: string;
  #idempotencyMax: number;
  /** The seq of the checkpoint the tail starts after (0 when none). */
  #checkpointSeq = 0;
  /** Seqs of checkpoints known to verify, newest first (at most 8 kept). */
  #checkpointSeqs: number[] = [];
  #lastSeq = 0;
  #idempotency = new Map<string, IdempotentHit>();
  #history: HistoryEntry[] = [];
  #tail: WalPosition[] = [];

  constructor(agent: string, idempotencyMax: number) {
    this.agent = agent;
    this.#idempotencyMax = idempotencyMax;
  }

  /** The seq of the checkpoint the tail starts after. */
  get checkpointSeq(): number {
    return this.#checkpointSeq;
  }

  /** The newest seq this agent has (record or checkpoint). */
  get lastSeq(): number {
    return Math.max(this.#lastSeq, this.#checkpointSeq);
  }

  /** The seq of the `n`-th newest known checkpoint (1 = newest), or 0. */
  checkpointSeqAt(n: number): number {
    return this.#checkpointSeqs[n - 1] ?? 0;
  }

  /** Starts the index from a restored checkpoint (before the WAL is replayed). */
  loadCheckpoint(meta: CheckpointMeta): void {
    this.#checkpointSeq = meta.seq;
    this.#checkpointSeqs = [meta.seq];
    this.#idempotency.clear();
    for (const [key, seq, version, output] of meta.idempotency) this.#remember(key, { seq, version, output });
    this.#history = meta.history.slice(-HISTORY_ENTRIES_MAX);
    this.#tail = [];
  }

  /** Adds a durable record; records the checkpoint already covers are ignored. */
  addRecord(entry: WalEntry, position: WalPosition): void {
    if (position.seq <= this.#checkpointSeq) return;
    this.#tail.push(position);
    this.#lastSeq = position.seq;
    if (entry.idempotency_key !== undefined && !this.#idempotency.has(entry.idempotency_key)) {
      this.#remember(entry.idempotency_key, {
        seq: position.seq,
        version: entry.version,
        output: entry.output,
      });
    }
    this.#history.push({
      seq: position.seq,
      input: entry.input,
      output: entry.output,
      time_ms: entry.time_ms,
    });
    if (this.#history.length > HISTORY_ENTRIES_MAX) this.#history.shift();
  }

  #remember(key: string, hit: IdempotentHit): void {
    this.#idempotency.set(key, hit);
    // Map iteration is insertion order, so the first key is the oldest.
    if (this.#idempotency.size > this.#idempotencyMax) {
      this.#idempotency.delete(this.#idempotency.keys().next().value!);
    }
  }

  /** The first answer recorded under `key`, if remembered. */
  findIdempotent(key: string): IdempotentHit | undefined {
    return this.#idempotency.get(key);
  }

  /** The last transitions, oldest first. */
  history(): HistoryEntry[] {
    return this.#history.slice();
  }

  /** Positions of the agent's records with `seq > after`, oldest first (only those past the checkpoint). */
  tailAfter(after: number, upTo = Infinity): WalPosition[] {
    return this.#tail.filter((p) => p.seq > after && p.seq <= upTo);
  }

  /** Idempotency keys of records up to `seq`, oldest first, for a checkpoint at `seq`. */
  idempotencyUpTo(seq: number): IdempotencyTuple[] {
    const out: IdempotencyTuple[] = [];
    for (const [key, hit] of this.#idempotency) {
      if (hit.seq <= seq) out.push([key, hit.seq, hit.version, hit.output]);
    }
    return out;
  }

  /** Transitions up to `seq`, oldest first, for a checkpoint at `seq`. */
  historyUpTo(seq: number): HistoryEntry[] {
    return this.#history.filter((h) => h.seq <= seq);
  }

  /** Records a new checkpoint at `seq`: the tail now starts after it. */
  markCheckpoint(seq: number): void {
    this.#checkpointSeq = Math.max(this.#checkpointSeq, seq);
    this.#checkpointSeqs = [seq, ...this.#checkpointSeqs].slice(0, 8);
    this.#tail = this.#tail.filter((p) => p.seq > seq);
  }
}
