/**
 * The one interface every vault backend implements: checkpoint blobs, agent records, and a small generic
 * key-value table (lineage, jobs, tokens: whatever other folders need to keep). `openBackend` picks the
 * implementation from a URL: `sqlite:` (the default, `DATA/vault.db`), `sqlite:PATH`, or
 * `postgres://…[?schema=NAME]` (schema `o` by default, created if missing).
 *
 * @module
 */
import { decode, encode } from "../protocol/mod.ts";
import { VaultError } from "./errors.ts";
import type { CheckpointKind } from "./checkpoint.ts";
import { KV_KEY_CHARS_MAX, KV_LIST_ROWS_MAX, KV_NS_CHARS_MAX, KV_VALUE_BYTES_MAX } from "./limits.ts";
import type { AgentRecord } from "./types.ts";

/** A stored checkpoint. */
export interface CheckpointRow {
  agent: string;
  id: string;
  seq: number;
  kind: CheckpointKind;
  base_id: string | null;
  created_ms: number;
  blob: Uint8Array;
}

/** A checkpoint as listed: the row without its blob, plus the blob's size. */
export interface CheckpointListing extends Omit<CheckpointRow, "blob"> {
  bytes: number;
}

/** A checkpoint listing from a database row of either backend (column names as in both schemas). */
export function listingFromRow(r: Record<string, unknown>): CheckpointListing {
  return {
    agent: String(r.agent),
    id: String(r.id),
    seq: Number(r.seq),
    kind: r.kind as CheckpointRow["kind"],
    base_id: r.base_id === null ? null : String(r.base_id),
    created_ms: Number(r.created_ms),
    bytes: Number(r.bytes),
  };
}

/** One key-value pair. */
export interface KvEntry {
  key: string;
  value: unknown;
}

/** Options of `kvList`. */
export interface KvListOptions {
  /** Only keys starting with this. @default "" */
  prefix?: string;
  /** Most rows returned, at most `KV_LIST_ROWS_MAX`. @default KV_LIST_ROWS_MAX */
  limit?: number;
}

/** Durable storage behind the vault. Every method throws `VaultError` (`VAULT_BACKEND`) on failure. */
export interface Backend {
  /** `"sqlite"` or `"postgres"`. */
  readonly kind: string;
  /** Stores a checkpoint durably; a row with the same agent and id is replaced. */
  putCheckpoint(row: CheckpointRow): Promise<void>;
  /** An agent's checkpoints, newest first (by seq, then creation time), at most `limit`. */
  listCheckpoints(agent: string, limit?: number): Promise<CheckpointListing[]>;
  /** A checkpoint's blob, or undefined. */
  getCheckpoint(agent: string, id: string): Promise<Uint8Array | undefined>;
  /** Deletes a checkpoint; whether it existed. */
  deleteCheckpoint(agent: string, id: string): Promise<boolean>;
  /** Agents that have at least one checkpoint, sorted. */
  checkpointAgents(): Promise<string[]>;
  /** Stores an agent record, replacing the one with the same name. */
  saveAgent(record: AgentRecord): Promise<void>;
  /** Every agent record, sorted by name. */
  listAgents(): Promise<AgentRecord[]>;
  /** Stores a msgpack-encodable value under (ns, key), replacing any. */
  kvPut(ns: string, key: string, value: unknown): Promise<void>;
  /** The value under (ns, key), or undefined. */
  kvGet(ns: string, key: string): Promise<unknown>;
  /** Entries of a namespace, sorted by key. */
  kvList(ns: string, options?: KvListOptions): Promise<KvEntry[]>;
  /** Deletes (ns, key); whether it existed. */
  kvDelete(ns: string, key: string): Promise<boolean>;
  /** Releases connections; later calls fail. */
  close(): Promise<void>;
}

/**
 * Checks a key-value namespace and key.
 *
 * @throws {VaultError} `VAULT_ENTRY_INVALID` for an empty or overlong name.
 */
export function checkKvName(ns: string, key?: string): void {
  if (typeof ns !== "string" || ns.length === 0 || ns.length > KV_NS_CHARS_MAX) {
    throw new VaultError(
      "VAULT_ENTRY_INVALID",
      `Cannot use key-value namespace: 1 to ${KV_NS_CHARS_MAX} chars`,
    );
  }
  if (key !== undefined && (typeof key !== "string" || key.length > KV_KEY_CHARS_MAX)) {
    throw new VaultError(
      "VAULT_ENTRY_INVALID",
      `Cannot use key-value key: at most ${KV_KEY_CHARS_MAX} chars`,
    );
  }
}

/**
 * Encodes a key-value value.
 *
 * @returns Its msgpack bytes.
 * @throws {VaultError} `VAULT_LIMIT` past `KV_VALUE_BYTES_MAX`; `VAULT_ENTRY_INVALID` when not encodable.
 */
export function encodeKvValue(value: unknown): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = encode(value);
  } catch (e) {
    throw new VaultError("VAULT_ENTRY_INVALID", `Cannot store key-value value: ${(e as Error).message}`);
  }
  if (bytes.length > KV_VALUE_BYTES_MAX) {
    throw new VaultError(
      "VAULT_LIMIT",
      `Cannot store key-value value of ${bytes.length} bytes: max ${KV_VALUE_BYTES_MAX}`,
    );
  }
  return bytes;
}

/** Decodes a stored key-value value. */
export function decodeKvValue(bytes: Uint8Array): unknown {
  return decode(bytes);
}

/**
 * The row limit for a list call.
 *
 * @throws {VaultError} `VAULT_ENTRY_INVALID` for a limit outside [1, `KV_LIST_ROWS_MAX`].
 */
export function listLimit(limit: number | undefined): number {
  const n = limit ?? KV_LIST_ROWS_MAX;
  if (!Number.isInteger(n) || n < 1 || n > KV_LIST_ROWS_MAX) {
    throw new VaultError(
      "VAULT_ENTRY_INVALID",
      `Cannot list as 'limit' must be in [1, ${KV_LIST_ROWS_MAX}]: current value is ${n}`,
    );
  }
  return n;
}

/**
 * Wraps a driver failure.
 *
 * @returns A `VAULT_BACKEND` error with the cause kept.
 */
export function backendError(action: string, cause: unknown): VaultError {
  if (cause instanceof VaultError) return cause;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new VaultError("VAULT_BACKEND", `${action}: ${why}`, { cause });
}

/**
 * Opens the backend a URL names.
 *
 * @param url `sqlite:`, `sqlite:PATH` or `postgres://…[?schema=NAME]`.
 * @param dataDir Where `sqlite:` puts `vault.db`.
 * @returns The open backend.
 * @throws {VaultError} `VAULT_CONFIG_INVALID` for another scheme; `VAULT_BACKEND` when it cannot connect.
 */
export async function openBackend(url: string, dataDir: string): Promise<Backend> {
  if (url === "sqlite:" || url === "sqlite") {
    const { SqliteBackend } = await import("./sqlite_backend.ts");
    return SqliteBackend.open(`${dataDir}/vault.db`);
  }
  if (url.startsWith("sqlite:")) {
    const { SqliteBackend } = await import("./sqlite_backend.ts");
    return SqliteBackend.open(url.slice("sqlite:".length));
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { PostgresBackend } = await import("./postgres_backend.ts");
    return await PostgresBackend.open(url);
  }
  throw new VaultError(
    "VAULT_CONFIG_INVALID",
    `Cannot open vault URL ${redact(url)}: expected sqlite: or postgres://`,
  );
}

/**
 * A URL fit for messages: any password replaced by `***`.
 *
 * @returns The redacted URL.
 */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
}
