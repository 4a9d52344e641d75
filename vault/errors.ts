/**
 * The vault's typed errors. Each carries a stable `code`; messages name the action that failed first.
 *
 * | code | when |
 * |---|---|
 * | `VAULT_IO` | a write, sync, truncate or read of the WAL or a checkpoint file failed |
 * | `VAULT_CLOSED` | the vault (or its WAL) was closed |
 * | `VAULT_OVERLOADED` | the append queue is full |
 * | `VAULT_LIMIT` | a configured bound was hit (agents, segments, key-value sizes) |
 * | `VAULT_ENTRY_INVALID` | an appended entry or a key-value argument has the wrong shape |
 * | `VAULT_CONFIG_INVALID` | `openVault` got a bad option or URL |
 * | `VAULT_BACKEND` | the SQLite or Postgres backend failed |
 * | `VAULT_REPLAY_FAILED` | a verified WAL record could not be decoded or applied |
 * | `WAL_RECORD_TOO_LARGE` | a payload exceeds `WAL_RECORD_BYTES_MAX` |
 * | `CHECKPOINT_CORRUPT` | a checkpoint failed its checksum, decryption or decoding |
 * | `CHECKPOINT_TOO_LARGE` | a snapshot exceeds `CHECKPOINT_RAW_BYTES_MAX` |
 * | `CHECKPOINT_STALE` | a checkpoint's seq is older than the agent's newest or newer than the WAL |
 * | `VAULT_UNRECOVERABLE` | no checkpoint plus WAL tail can rebuild the agent |
 * | `VAULT_KEY_INVALID` | the key file is malformed |
 * | `VAULT_KEY_INSECURE` | the key file is readable by group or others |
 * | `VAULT_KEY_UNKNOWN` | a record names a key id the key file does not hold |
 *
 * @module
 */
import { OError } from "../protocol/mod.ts";

/** Base class of every expected vault failure. */
export class VaultError extends OError {}

/** Thrown when the disk fails a write, sync, truncate or read; the affected appends were not acknowledged. */
export class VaultIoError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super("VAULT_IO", message, options);
  }
}

/** Thrown when a checkpoint blob fails its checksum, decryption or decoding. */
export class CheckpointCorruptError extends VaultError {
  constructor(message: string, options?: ErrorOptions) {
    super("CHECKPOINT_CORRUPT", message, options);
  }
}

/** Thrown for a missing, malformed, insecure or unknown encryption key. */
export class VaultKeyError extends VaultError {}

/**
 * Wraps an unknown failure of the file system as a {@link VaultIoError}.
 *
 * @param action What was being done, e.g. "Cannot sync WAL segment 00…01.wal".
 * @param cause The thrown value.
 * @returns The typed error, with `cause` kept.
 */
export function ioError(action: string, cause: unknown): VaultIoError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new VaultIoError(`${action}: ${why}`, { cause });
}
