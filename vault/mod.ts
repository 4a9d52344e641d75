/**
 * The vault: O's durable store. A write-ahead log of state changes with group commit (one `fdatasync`
 * for many appends), checkpoints (zstd-compressed, checksummed, full or incremental, in the backend with a
 * file copy), backends (SQLite by default, Postgres to share one vault between nodes), optional AES-256-GCM
 * encryption at rest with rotating keys, and an offline check and repair (`recover`).
 *
 * The supervisor uses {@link openVault} and the {@link Vault} it returns; `applyDelta` (from
 * `protocol/`) is how a recovered snapshot absorbs later changes.
 *
 * @example Log a change, recover it after a restart
 * ```ts
 * import { openVault } from "./mod.ts";
 * import { deepStrictEqual } from "node:assert";
 * const dataDir = await Deno.makeTempDir();
 * const vault = await openVault({ dataDir });
 * await vault.append({
 *   agent: "counter", version: "1.0.0", delta: [["s", ["state", "keys"], ["a"]]], output: { count: 1 },
 *   idempotency_key: "k1", request_id: "r1", input: { add: "a" }, time_ms: Date.now(),
 * });
 * await vault.close();
 * const again = await openVault({ dataDir });
 * deepStrictEqual((await again.recoverAgent("counter")).snapshot.state, { keys: ["a"] });
 * deepStrictEqual(again.findIdempotent("counter", "k1")?.output, { count: 1 });
 * await again.close();
 * await Deno.remove(dataDir, { recursive: true });
 * ```
 *
 * @module
 */
export {
  checkEntry,
  openVault,
  type OpenVaultOptions,
  PRUNED_NS,
  Vault,
  type VaultOpenReport,
  type VaultStats,
} from "./vault.ts";
export type {
  AgentRecord,
  AppendResult,
  CheckpointInfo,
  IdempotentHit,
  RecoveredAgent,
  WalEntry,
} from "./types.ts";
export {
  type Backend,
  type CheckpointListing,
  type CheckpointRow,
  type KvEntry,
  type KvListOptions,
  openBackend,
} from "./backend.ts";
export { SqliteBackend } from "./sqlite_backend.ts";
export {
  type ClaimedJob,
  type ClaimOptions,
  JOB_ATTEMPTS_DEFAULT,
  JOB_ATTEMPTS_MAX,
  JOB_BATCH_JOBS_MAX,
  JOB_CLAIM_JOBS_MAX,
  JOB_LEASE_S_MAX,
  JOB_LEASE_S_MIN,
  JOB_PAYLOAD_BYTES_MAX,
  JOB_RESULT_BYTES_MAX,
  JOB_RETENTION_S,
  type JobOutcome,
  JobQueue,
  type JobRow,
  type JobStatus,
  type WorkerInfo,
} from "./job_queue.ts";
export type { PostgresBackend } from "./postgres_backend.ts";
export { CheckpointCorruptError, VaultError, VaultIoError, VaultKeyError } from "./errors.ts";
export { createKeyFile, keyIdOf, KeyRing, loadKeyRing, parseKeyFile } from "./key_ring.ts";
export {
  checkDataDir,
  type CheckpointFailure,
  type DataDirReport,
  formatReport,
  parseRecoverArgs,
  type RecoverArgs,
  recoverCommand,
} from "./recover.ts";
export { Wal, type WalOptions, type WalPosition, type WalStats } from "./wal.ts";
export { DenoFileSystem, type FileSystem, type SegmentFile } from "./file_system.ts";
export { crc32c } from "./crc32c.ts";
export { benchVault, type VaultBench } from "./bench.ts";
export * from "./limits.ts";
