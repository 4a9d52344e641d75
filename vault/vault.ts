/**
 * The vault facade the supervisor uses: durable appends (WAL with group commit), idempotency lookups,
 * agent recovery (newest verifying checkpoint plus WAL tail), checkpoints (full, or incremental from the
 * WAL's deltas, compacted to a full one every `checkpointIncrementsMax`), agent records, a key-value table,
 * encryption at rest, and counters for metrics.
 *
 * Files under `dataDir`: `wal/` (segments), `checkpoints/` (file copies), `vault.db` (the SQLite backend).
 *
 * @module
 */
import {
  applyDelta,
  decode,
  type DeltaOp,
  encode,
  type HistoryEntry,
  type Snapshot,
  validateDelta,
} from "../protocol/mod.ts";
import { AgentIndex } from "./agent_index.ts";
import { type Backend, type KvEntry, type KvListOptions, openBackend } from "./backend.ts";
import type { CheckpointMeta } from "./checkpoint.ts";
import { CheckpointStore, newCheckpointId, type SkippedCheckpoint } from "./checkpoint_store.ts";
import { ioError, VaultError } from "./errors.ts";
import { DenoFileSystem, type FileSystem } from "./file_system.ts";
import { type KeyRing, loadKeyRing } from "./key_ring.ts";
import {
  AGENTS_MAX,
  CHECKPOINT_DELTA_RATIO_MAX,
  CHECKPOINT_INCREMENTS_MAX,
  ENTRY_NAME_CHARS_MAX,
  IDEMPOTENCY_KEY_CHARS_MAX,
  IDEMPOTENCY_KEYS_MAX,
  WAL_KEEP_CHECKPOINTS,
} from "./limits.ts";
import type {
  AgentRecord,
  AppendResult,
  CheckpointInfo,
  IdempotentHit,
  RecoveredAgent,
  WalEntry,
} from "./types.ts";
import { Wal, type WalCommitted, type WalPosition, type WalRecord, type WalStats } from "./wal.ts";
import type { WalScanReport } from "./wal_scan.ts";
import { SampleRing } from "./_samples.ts";

/** Key-value namespace where the vault keeps, per agent, the newest seq whose WAL segment was deleted. */
export const PRUNED_NS = "_vault.pruned";
const REQUEST_ID_CHARS_MAX = 256;

/** Options of {@link openVault}. */
export interface OpenVaultOptions {
  /** The data directory (`--data`); created if missing. */
  dataDir: string;
  /** `sqlite:` or `postgres://…[?schema=NAME]`. @default "sqlite:" */
  url?: string;
  /** A key file (mode 0600) to encrypt WAL payloads and checkpoints with. @default no encryption */
  encryptionKeyFile?: string;
  /** The file system for WAL and checkpoint files (tests inject faults). @default the real one */
  fs?: FileSystem;
  /** A ready backend, instead of opening one from `url`. */
  backend?: Backend;
  /** WAL tuning; see `WalOptions`. */
  wal?: { segmentBytesMax?: number; batchRecordsMax?: number; batchBytesMax?: number; batchWaitMs?: number };
  /** Incremental checkpoints between full ones; 0 makes every checkpoint full. @default CHECKPOINT_INCREMENTS_MAX */
  checkpointIncrementsMax?: number;
  /** Idempotency keys remembered per agent. @default IDEMPOTENCY_KEYS_MAX */
  idempotencyKeysMax?: number;
}

/** What opening found: the WAL scan, and per agent the checkpoints skipped or why it cannot be rebuilt. */
export interface VaultOpenReport {
  wal: WalScanReport;
  skippedCheckpoints: Record<string, SkippedCheckpoint[]>;
  unrecoverable: Record<string, string>;
}

/** Counters and recent samples for metrics. */
export interface VaultStats {
  wal: WalStats;
  lastSeq: number;
  agents: number;
  checkpoints: number;
  checkpointFailures: number;
  /** Recent checkpoint sizes (stored bytes), oldest first. */
  checkpointBytes: number[];
  /** Recent checkpoint durations, oldest first. */
  checkpointMs: number[];
}

/** Where the next incremental checkpoint of an agent starts from. */
interface Chain {
  baseId: string;
  baseRawBytes: number;
  prevId: string;
  prevSeq: number;
  /** The previous checkpoint's delta against the base (`[]` when it is the base). */
  delta: DeltaOp[];
  increments: number;
}

interface Parts {
  dataDir: string;
  fs: FileSystem;
  backend: Backend;
  keyRing?: KeyRing;
  store: CheckpointStore;
  incrementsMax: number;
  idempotencyMax: number;
}

/**
 * Opens the vault in `options.dataDir`: loads the key file, opens the backend, restores every agent's
 * newest verifying checkpoint, replays (and if needed cuts) the WAL, and deletes covered segments.
 *
 * @param options See {@link OpenVaultOptions}.
 * @returns The open vault.
 * @throws {VaultError} `VAULT_CONFIG_INVALID`, `VAULT_KEY_*`, `VAULT_BACKEND`, `VAULT_IO`, or
 *   `VAULT_REPLAY_FAILED` when a verified WAL record cannot be read back.
 * @example Append, checkpoint, recover
 * ```ts
 * import { openVault } from "./vault.ts";
 * import { deepStrictEqual } from "node:assert";
 * const dataDir = await Deno.makeTempDir();
 * const vault = await openVault({ dataDir });
 * const { seq } = await vault.append({
 *   agent: "counter", version: "1.0.0", delta: [["s", ["state", "n"], 1]], output: { n: 1 },
 *   request_id: "r1", input: {}, time_ms: Date.now(),
 * });
 * deepStrictEqual((await vault.recoverAgent("counter")).snapshot.state, { n: 1 });
 * await vault.checkpoint("counter", { state: { n: 1 }, memory: {} }, seq);
 * await vault.close();
 * await Deno.remove(dataDir, { recursive: true });
 * ```
 */
export async function openVault(options: OpenVaultOptions): Promise<Vault> {
  const parts = await openParts(options);
  const vault = new Vault(parts);
  try {
    await vault.load(options.wal ?? {});
  } catch (e) {
    await vault.close().catch(() => {});
    throw e;
  }
  return vault;
}

async function openParts(options: OpenVaultOptions): Promise<Parts> {
  const incrementsMax = options.checkpointIncrementsMax ?? CHECKPOINT_INCREMENTS_MAX;
  const idempotencyMax = options.idempotencyKeysMax ?? IDEMPOTENCY_KEYS_MAX;
  if (!Number.isInteger(incrementsMax) || incrementsMax < 0 || incrementsMax > CHECKPOINT_INCREMENTS_MAX) {
    throw configError("checkpointIncrementsMax", incrementsMax, `[0, ${CHECKPOINT_INCREMENTS_MAX}]`);
  }
  if (!Number.isInteger(idempotencyMax) || idempotencyMax < 1 || idempotencyMax > IDEMPOTENCY_KEYS_MAX) {
    throw configError("idempotencyKeysMax", idempotencyMax, `[1, ${IDEMPOTENCY_KEYS_MAX}]`);
  }
  if (typeof options.dataDir !== "string" || options.dataDir === "") {
    throw configError("dataDir", options.dataDir, "a path");
  }
  const fs = options.fs ?? new DenoFileSystem();
  try {
    await fs.mkdirp(`${options.dataDir}/checkpoints`);
  } catch (e) {
    throw ioError(`Cannot create data directory ${options.dataDir}`, e);
  }
  const keyRing = options.encryptionKeyFile ? await loadKeyRing(options.encryptionKeyFile) : undefined;
  const backend = options.backend ?? await openBackend(options.url ?? "sqlite:", options.dataDir);
  const store = new CheckpointStore({ fs, dir: `${options.dataDir}/checkpoints`, backend, keyRing });
  return { dataDir: options.dataDir, fs, backend, keyRing, store, incrementsMax, idempotencyMax };
}

function configError(name: string, value: unknown, expected: string): VaultError {
  return new VaultError(
    "VAULT_CONFIG_INVALID",
    `Cannot open vault as '${name}' must be ${expected}: current value is ${String(value)}`,
  );
}

/** The open vault; see the module doc. Obtain one with {@link openVault}. */
export class Vault {
  #parts: Parts;
  #wal: Wal<WalEntry> | undefined;
  #agents = new Map<string, AgentIndex>();
  #chains = new Map<string, Chain>();
  #pruned = new Map<string, number>();
  #segmentAgents = new Map<number, Map<string, number>>();
  #unrecoverable = new Map<string, string>();
  #skipped: Record<string, SkippedCheckpoint[]> = {};
  #locks = new Map<string, Promise<unknown>>();
  #closed = false;
  #checkpoints = { count: 0, failures: 0, bytes: new SampleRing(), ms: new SampleRing() };

  /** Use {@link openVault}. */
  constructor(parts: Parts) {
    this.#parts = parts;
  }

  /** @internal Restores the indexes and opens the WAL; called once by {@link openVault}. */
  async load(walOptions: NonNullable<OpenVaultOptions["wal"]>): Promise<void> {
    const { backend } = this.#parts;
    for (const { key, value } of await backend.kvList(PRUNED_NS)) this.#pruned.set(key, Number(value));
    let newestSeq = 0;
    for (const agent of await backend.checkpointAgents()) {
      newestSeq = Math.max(newestSeq, await this.#loadAgent(agent));
    }
    this.#wal = await Wal.open<WalEntry>({
      ...walOptions,
      dir: `${this.#parts.dataDir}/wal`,
      fs: this.#parts.fs,
      nextSeqMin: newestSeq + 1,
      onRecord: (record) => this.#replayRecord(record),
      onCommit: (records) => this.#commit(records),
    });
    await this.#deleteCoveredSegments();
  }

  async #loadAgent(agent: string): Promise<number> {
    const minSeq = this.#pruned.get(agent) ?? 0;
    const { restored, skipped } = await this.#parts.store.restore(agent, { minSeq, full: false });
    if (skipped.length > 0) this.#skipped[agent] = skipped;
    if (!restored) {
      if (minSeq > 0) this.#unrecoverable.set(agent, `no usable checkpoint at or after seq ${minSeq}`);
      return 0;
    }
    const { meta } = restored;
    this.#index(agent).loadCheckpoint(meta);
    this.#chains.set(agent, {
      baseId: meta.base_id ?? meta.id,
      baseRawBytes: restored.baseRawBytes,
      prevId: meta.id,
      prevSeq: meta.seq,
      delta: restored.delta,
      increments: meta.increments,
    });
    return meta.seq;
  }

  async #replayRecord(record: WalRecord): Promise<void> {
    const entry = await this.#decodeEntry(record.payload, record.seq);
    this.#track(entry, record);
  }

  #commit(records: WalCommitted<WalEntry>[]): void {
    for (const record of records) this.#track(record.meta, record);
  }

  #track(entry: WalEntry, position: WalPosition): void {
    this.#index(entry.agent).addRecord(entry, position);
    let agents = this.#segmentAgents.get(position.segment);
    if (!agents) this.#segmentAgents.set(position.segment, agents = new Map());
    agents.set(entry.agent, position.seq);
  }

  #index(agent: string): AgentIndex {
    let index = this.#agents.get(agent);
    if (!index) {
      index = new AgentIndex(agent, this.#parts.idempotencyMax);
      this.#agents.set(agent, index);
    }
    return index;
  }

  #open(action: string): Wal<WalEntry> {
    if (this.#closed || !this.#wal) {
      throw new VaultError("VAULT_CLOSED", `Cannot ${action}: the vault is closed`);
    }
    return this.#wal;
  }

  /** The WAL for work already under way (which close waits for), whether or not closing has begun. */
  #live(): Wal<WalEntry> {
    if (!this.#wal) throw new VaultError("VAULT_CLOSED", "Cannot use the vault: it is not open");
    return this.#wal;
  }

  /** What opening found (WAL cut, checkpoints skipped, agents that cannot be rebuilt). */
  get openReport(): VaultOpenReport {
    return {
      wal: this.#open("report").scanReport,
      skippedCheckpoints: { ...this.#skipped },
      unrecoverable: Object.fromEntries(this.#unrecoverable),
    };
  }

  /**
   * Logs one state change durably. The promise resolves only after the record is on disk (group commit:
   * concurrent appends share one `fdatasync`). Appends resolve in call order with increasing seqs.
   *
   * @param entry The change; its `delta` applies to the agent's snapshot `{state, memory}`.
   * @returns The record's seq (global, from 1).
   * @throws {VaultError} `VAULT_ENTRY_INVALID`, `WAL_RECORD_TOO_LARGE`, `VAULT_OVERLOADED`, `VAULT_LIMIT`,
   *   `VAULT_CLOSED`; {@link VaultIoError} when the disk failed (the change is then not logged).
   */
  async append(entry: WalEntry): Promise<AppendResult> {
    const wal = this.#open("append");
    checkEntry(entry);
    if (!this.#agents.has(entry.agent) && this.#agents.size >= AGENTS_MAX) {
      throw new VaultError(
        "VAULT_LIMIT",
        `Cannot append for agent ${entry.agent}: ${AGENTS_MAX} agents exist`,
      );
    }
    let plain: Uint8Array;
    try {
      plain = encode(entry);
    } catch (e) {
      throw new VaultError(
        "VAULT_ENTRY_INVALID",
        `Cannot append for ${entry.agent}: ${(e as Error).message}`,
      );
    }
    const keyRing = this.#parts.keyRing;
    const payload = keyRing ? keyRing.seal(plain).then((sealed) => encode(sealed)) : plain;
    const position = await wal.append(payload, entry);
    return { seq: position.seq };
  }

  /**
   * The first answer given under an idempotency key, across restarts too.
   *
   * @returns The hit, or undefined when the key is new (or was dropped past `IDEMPOTENCY_KEYS_MAX`).
   */
  findIdempotent(agent: string, key: string): IdempotentHit | undefined {
    return this.#agents.get(agent)?.findIdempotent(key);
  }

  /**
   * Rebuilds an agent's durable data: its newest verifying checkpoint plus its WAL records after it.
   *
   * @returns The snapshot, the seq it reflects, and the last transitions (empty and 0 for a new agent).
   * @throws {VaultError} `VAULT_UNRECOVERABLE` when no checkpoint plus retained WAL can rebuild it;
   *   `VAULT_REPLAY_FAILED` when a record cannot be applied; `VAULT_KEY_UNKNOWN`.
   */
  recoverAgent(agent: string): Promise<RecoveredAgent> {
    let wal: Wal<WalEntry>;
    try {
      wal = this.#open("recover an agent");
    } catch (e) {
      return Promise.reject(e);
    }
    // Under the agent's lock, so a concurrent checkpoint cannot prune what this restore is reading.
    return this.#serialize(agent, () => this.#recover(wal, agent));
  }

  async #recover(wal: Wal<WalEntry>, agent: string): Promise<RecoveredAgent> {
    const broken = this.#unrecoverable.get(agent);
    if (broken) throw new VaultError("VAULT_UNRECOVERABLE", `Cannot recover agent ${agent}: ${broken}`);
    const minSeq = this.#pruned.get(agent) ?? 0;
    const { restored } = await this.#parts.store.restore(agent, { minSeq, full: true });
    if (!restored && minSeq > 0) {
      throw new VaultError(
        "VAULT_UNRECOVERABLE",
        `Cannot recover agent ${agent}: no usable checkpoint at or after ${minSeq}`,
      );
    }
    const snapshot = restored?.snapshot ?? { state: {}, memory: {} };
    const fromSeq = restored?.meta.seq ?? 0;
    const index = this.#agents.get(agent);
    if (index && fromSeq < index.checkpointSeq) this.#chains.delete(agent);
    const entries = await this.#tail(wal, agent, index, fromSeq);
    let seq = fromSeq;
    for (const [entrySeq, entry] of entries) {
      try {
        applyDelta(snapshot as unknown as Record<string, unknown>, entry.delta);
      } catch (e) {
        throw new VaultError(
          "VAULT_REPLAY_FAILED",
          `Cannot replay record ${entrySeq} of ${agent}: ${(e as Error).message}`,
        );
      }
      seq = entrySeq;
    }
    return { snapshot, seq, history: index?.history() ?? restored?.meta.history ?? [] };
  }

  /** The agent's records after `fromSeq`: by position from the index, or by scanning when it fell back further. */
  async #tail(wal: Wal<WalEntry>, agent: string, index: AgentIndex | undefined, fromSeq: number) {
    const out: [number, WalEntry][] = [];
    if (!index) return out;
    if (fromSeq >= index.checkpointSeq) {
      const positions = index.tailAfter(fromSeq);
      const payloads = await wal.readRecords(positions);
      for (let i = 0; i < positions.length; i++) {
        out.push([positions[i].seq, await this.#decodeEntry(payloads[i], positions[i].seq)]);
      }
      return out;
    }
    await wal.replay(fromSeq + 1, async (record) => {
      const entry = await this.#decodeEntry(record.payload, record.seq);
      if (entry.agent === agent) out.push([record.seq, entry]);
    });
    return out;
  }

  async #decodeEntry(payload: Uint8Array, seq: number): Promise<WalEntry> {
    let value: unknown;
    try {
      value = decode(payload);
      if (isSealed(value)) {
        if (!this.#parts.keyRing) {
          throw new VaultError(
            "VAULT_KEY_UNKNOWN",
            `Cannot read WAL record ${seq}: it is encrypted and no key file is set`,
          );
        }
        value = decode(await this.#parts.keyRing.open(value));
      }
      checkEntry(value as WalEntry);
    } catch (e) {
      if (e instanceof VaultError && e.code.startsWith("VAULT_KEY")) throw e;
      throw new VaultError("VAULT_REPLAY_FAILED", `Cannot read WAL record ${seq}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return value as WalEntry;
  }

  /**
   * Saves a checkpoint of an agent at `seq`. The snapshot is encoded before this returns its promise, so
   * the caller may change it right after. Incremental checkpoints are built from the agent's WAL deltas
   * since its base, so `snapshot` must equal the base plus those deltas (true when every change is
   * appended before it is applied). After saving, old checkpoints are pruned and covered WAL segments
   * deleted.
   *
   * @param agent The agent.
   * @param snapshot Its durable data at `seq`.
   * @param seq The newest seq the snapshot reflects (at most the newest durable seq).
   * @returns The id, seq and stored size.
   * @throws {VaultError} `CHECKPOINT_STALE`, `CHECKPOINT_TOO_LARGE`, `VAULT_ENTRY_INVALID`, `VAULT_IO`,
   *   `VAULT_BACKEND`, `VAULT_CLOSED`.
   */
  checkpoint(agent: string, snapshot: Snapshot, seq: number): Promise<CheckpointInfo> {
    let snapshotBytes: Uint8Array;
    try {
      const wal = this.#open("checkpoint");
      checkCheckpointArgs(agent, snapshot, seq, wal.lastSeq);
      snapshotBytes = encode(snapshot);
    } catch (e) {
      return Promise.reject(
        e instanceof VaultError ? e : new VaultError("VAULT_ENTRY_INVALID", (e as Error).message),
      );
    }
    return this.#serialize(agent, () => this.#checkpoint(agent, snapshotBytes, seq));
  }

  #serialize<T>(agent: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(agent) ?? Promise.resolve();
    const run = previous.then(work, work);
    const settled = run.catch(() => {});
    this.#locks.set(agent, settled);
    settled.then(() => {
      if (this.#locks.get(agent) === settled) this.#locks.delete(agent);
    });
    return run;
  }

  async #checkpoint(agent: string, snapshotBytes: Uint8Array, seq: number): Promise<CheckpointInfo> {
    const started = performance.now();
    const index = this.#index(agent);
    if (seq < index.checkpointSeq) {
      throw new VaultError(
        "CHECKPOINT_STALE",
        `Cannot checkpoint ${agent} at ${seq}: it has one at ${index.checkpointSeq}`,
      );
    }
    try {
      const plan = await this.#plan(agent, index, snapshotBytes, seq);
      const { bytes, rawBytes } = await this.#parts.store.save(plan.meta, plan.payload);
      index.markCheckpoint(seq);
      this.#advanceChain(agent, plan, rawBytes);
      const protect = new Set([this.#chains.get(agent)!.baseId, plan.meta.id]);
      await this.#parts.store.prune(agent, protect);
      await this.#deleteCoveredSegments();
      this.#checkpoints.count++;
      this.#checkpoints.bytes.push(bytes);
      this.#checkpoints.ms.push(performance.now() - started);
      return { checkpoint_id: plan.meta.id, seq, bytes };
    } catch (e) {
      this.#checkpoints.failures++;
      throw e;
    }
  }

  async #plan(agent: string, index: AgentIndex, snapshotBytes: Uint8Array, seq: number) {
    const chain = this.#chains.get(agent);
    const meta: CheckpointMeta = {
      agent,
      id: "",
      seq,
      kind: "full",
      base_id: null,
      increments: 0,
      created_ms: Date.now(),
      idempotency: index.idempotencyUpTo(seq),
      history: index.historyUpTo(seq),
    };
    if (chain && chain.increments < this.#parts.incrementsMax && chain.prevSeq === index.checkpointSeq) {
      const delta = [...chain.delta, ...(await this.#deltasSince(agent, index, chain.prevSeq, seq))];
      const payload = encode(delta);
      if (payload.length <= chain.baseRawBytes * CHECKPOINT_DELTA_RATIO_MAX) {
        meta.kind = "incremental";
        meta.base_id = chain.baseId;
        meta.increments = chain.increments + 1;
        meta.id = newCheckpointId(seq, "incremental");
        return { meta, payload, delta };
      }
    }
    meta.id = newCheckpointId(seq, "full");
    return { meta, payload: snapshotBytes, delta: [] as DeltaOp[] };
  }

  async #deltasSince(agent: string, index: AgentIndex, after: number, upTo: number): Promise<DeltaOp[]> {
    const positions = index.tailAfter(after, upTo);
    const payloads = await this.#live().readRecords(positions);
    const ops: DeltaOp[] = [];
    for (let i = 0; i < positions.length; i++) {
      const entry = await this.#decodeEntry(payloads[i], positions[i].seq);
      if (entry.agent !== agent) {
        throw new VaultError(
          "VAULT_REPLAY_FAILED",
          `Cannot checkpoint ${agent}: record ${positions[i].seq} is not its own`,
        );
      }
      for (const op of entry.delta) ops.push(op);
    }
    return ops;
  }

  #advanceChain(agent: string, plan: { meta: CheckpointMeta; delta: DeltaOp[] }, rawBytes: number): void {
    const { meta } = plan;
    if (meta.kind === "full") {
      this.#chains.set(agent, {
        baseId: meta.id,
        baseRawBytes: rawBytes,
        prevId: meta.id,
        prevSeq: meta.seq,
        delta: [],
        increments: 0,
      });
      return;
    }
    const chain = this.#chains.get(agent)!;
    this.#chains.set(agent, {
      ...chain,
      prevId: meta.id,
      prevSeq: meta.seq,
      delta: plan.delta,
      increments: meta.increments,
    });
  }

  /**
   * Deletes every WAL segment (but the active one) whose records are, for each agent in it, covered by the
   * older of that agent's two newest checkpoints. The pruned seq is persisted first, so a restore never
   * picks a checkpoint whose WAL tail is gone.
   */
  async #deleteCoveredSegments(): Promise<void> {
    const wal = this.#live();
    const segments = wal.segments().slice(0, -1);
    const doomed: number[] = [];
    const pruned = new Map<string, number>();
    for (const segment of segments) {
      const agents = this.#segmentAgents.get(segment.firstSeq) ?? new Map<string, number>();
      const covered = [...agents].every(([agent, seq]) =>
        seq <= (this.#agents.get(agent)?.checkpointSeqAt(WAL_KEEP_CHECKPOINTS) ?? 0)
      );
      if (!covered) continue;
      doomed.push(segment.firstSeq);
      for (const [agent, seq] of agents) pruned.set(agent, Math.max(pruned.get(agent) ?? 0, seq));
    }
    if (doomed.length === 0) return;
    for (const [agent, seq] of pruned) {
      if (seq <= (this.#pruned.get(agent) ?? 0)) continue;
      await this.#parts.backend.kvPut(PRUNED_NS, agent, seq);
      this.#pruned.set(agent, seq);
    }
    for (const firstSeq of await wal.deleteSegments(doomed)) this.#segmentAgents.delete(firstSeq);
  }

  /** Stores an agent record (replacing the one with the same name). */
  saveAgent(record: AgentRecord): Promise<void> {
    this.#open("save an agent");
    return this.#parts.backend.saveAgent(record);
  }

  /** Every agent record, sorted by name. */
  listAgents(): Promise<AgentRecord[]> {
    this.#open("list agents");
    return this.#parts.backend.listAgents();
  }

  /** Stores a msgpack-encodable value under (ns, key). Namespaces starting `_vault.` are the vault's own. */
  kvPut(ns: string, key: string, value: unknown): Promise<void> {
    this.#open("store a value");
    return this.#parts.backend.kvPut(ns, key, value);
  }

  /** The value under (ns, key), or undefined. */
  kvGet(ns: string, key: string): Promise<unknown> {
    this.#open("read a value");
    return this.#parts.backend.kvGet(ns, key);
  }

  /** Entries of a namespace, sorted by key. */
  kvList(ns: string, options?: KvListOptions): Promise<KvEntry[]> {
    this.#open("list values");
    return this.#parts.backend.kvList(ns, options);
  }

  /** Deletes (ns, key); whether it existed. */
  kvDelete(ns: string, key: string): Promise<boolean> {
    this.#open("delete a value");
    return this.#parts.backend.kvDelete(ns, key);
  }

  /** The backend, for features beyond the vault's surface (e.g. a Postgres job queue). */
  get backend(): Backend {
    return this.#parts.backend;
  }

  /** Counters and recent samples for metrics. */
  stats(): VaultStats {
    const wal = this.#open("read stats");
    return {
      wal: wal.stats(),
      lastSeq: wal.lastSeq,
      agents: this.#agents.size,
      checkpoints: this.#checkpoints.count,
      checkpointFailures: this.#checkpoints.failures,
      checkpointBytes: this.#checkpoints.bytes.values(),
      checkpointMs: this.#checkpoints.ms.values(),
    };
  }

  /** Waits for queued appends and running checkpoints, then closes the WAL and the backend. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#locks.values()]);
    await this.#wal?.close();
    await this.#parts.backend.close();
  }
}

function isSealed(v: unknown): v is { kid: string; iv: Uint8Array; ct: Uint8Array } {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.kid === "string" && o.iv instanceof Uint8Array && o.ct instanceof Uint8Array &&
    !("agent" in o);
}

function invalid(why: string): VaultError {
  return new VaultError("VAULT_ENTRY_INVALID", `Cannot append WAL entry: ${why}`);
}

function checkName(v: unknown, field: string): void {
  if (typeof v !== "string" || v.length === 0 || v.length > ENTRY_NAME_CHARS_MAX) {
    throw invalid(`'${field}' must be a string of 1 to ${ENTRY_NAME_CHARS_MAX} chars`);
  }
}

/**
 * Checks a WAL entry's shape (before appending, and again after reading it back).
 *
 * @throws {VaultError} `VAULT_ENTRY_INVALID`.
 */
export function checkEntry(entry: WalEntry): void {
  if (typeof entry !== "object" || entry === null) throw invalid("not an object");
  checkName(entry.agent, "agent");
  checkName(entry.version, "version");
  const key = entry.idempotency_key;
  if (key !== undefined && (typeof key !== "string" || key.length > IDEMPOTENCY_KEY_CHARS_MAX)) {
    throw invalid(`'idempotency_key' must be a string of at most ${IDEMPOTENCY_KEY_CHARS_MAX} chars`);
  }
  if (typeof entry.request_id !== "string" || entry.request_id.length > REQUEST_ID_CHARS_MAX) {
    throw invalid(`'request_id' must be a string of at most ${REQUEST_ID_CHARS_MAX} chars`);
  }
  if (typeof entry.time_ms !== "number" || !Number.isFinite(entry.time_ms)) {
    throw invalid("'time_ms' must be a number");
  }
  try {
    validateDelta(entry.delta);
  } catch (e) {
    throw invalid((e as Error).message);
  }
}

function checkCheckpointArgs(agent: string, snapshot: Snapshot, seq: number, lastSeq: number): void {
  checkName(agent, "agent");
  const isMap = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isMap(snapshot) || !isMap(snapshot.state) || !isMap(snapshot.memory)) {
    throw new VaultError(
      "VAULT_ENTRY_INVALID",
      `Cannot checkpoint ${agent}: the snapshot must be {state, memory}`,
    );
  }
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > lastSeq) {
    throw new VaultError(
      "CHECKPOINT_STALE",
      `Cannot checkpoint ${agent} at seq ${seq}: the WAL ends at ${lastSeq}`,
    );
  }
}

/** Re-exported for callers that only import the vault. */
export type { HistoryEntry };
