/**
 * The default backend: one SQLite file (`DATA/vault.db`) through `node:sqlite`, in WAL journal mode with
 * `synchronous=FULL`, so a checkpoint is durable when `putCheckpoint` returns (the vault deletes WAL
 * segments on the strength of it).
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  type Backend,
  backendError,
  checkKvName,
  type CheckpointListing,
  type CheckpointRow,
  decodeKvValue,
  encodeKvValue,
  type KvEntry,
  type KvListOptions,
  listingFromRow,
  listLimit,
} from "./backend.ts";
import { CHECKPOINTS_LISTED_MAX } from "./limits.ts";
import type { AgentRecord } from "./types.ts";

const BUSY_TIMEOUT_MS = 5000;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS checkpoints (
  agent TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, base_id TEXT,
  created_ms INTEGER NOT NULL, blob BLOB NOT NULL, PRIMARY KEY (agent, id));
CREATE INDEX IF NOT EXISTS checkpoints_newest ON checkpoints (agent, seq DESC, created_ms DESC);
CREATE TABLE IF NOT EXISTS agents (
  name TEXT PRIMARY KEY, version TEXT NOT NULL, source TEXT NOT NULL, origin TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (
  ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, updated_ms INTEGER NOT NULL,
  PRIMARY KEY (ns, key));
`;

type Row = Record<string, unknown>;

/** A {@link Backend} on one SQLite file. */
export class SqliteBackend implements Backend {
  readonly kind = "sqlite";
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();

  /** Use {@link SqliteBackend.open}. */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Opens (creating if needed) the database file and its tables.
   *
   * @param path The file, e.g. `DATA/vault.db`.
   * @returns The backend.
   * @throws {VaultError} `VAULT_BACKEND` when SQLite cannot open it.
   */
  static open(path: string): SqliteBackend {
    try {
      const db = new DatabaseSync(path);
      db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=${BUSY_TIMEOUT_MS};`);
      db.exec(SCHEMA);
      return new SqliteBackend(db);
    } catch (e) {
      throw backendError(`Cannot open SQLite vault ${path}`, e);
    }
  }

  #run<T>(action: string, work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (e) {
      return Promise.reject(backendError(action, e));
    }
  }

  #stmt(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  putCheckpoint(row: CheckpointRow): Promise<void> {
    return this.#run(`Cannot store checkpoint ${row.id}`, () => {
      this.#stmt(
        `INSERT OR REPLACE INTO checkpoints (agent, id, seq, kind, base_id, created_ms, blob)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(row.agent, row.id, row.seq, row.kind, row.base_id, row.created_ms, row.blob);
    });
  }

  listCheckpoints(agent: string, limit = CHECKPOINTS_LISTED_MAX): Promise<CheckpointListing[]> {
    return this.#run(`Cannot list checkpoints of ${agent}`, () => {
      const rows = this.#stmt(
        `SELECT agent, id, seq, kind, base_id, created_ms, length(blob) AS bytes FROM checkpoints
         WHERE agent = ? ORDER BY seq DESC, created_ms DESC, id DESC LIMIT ?`,
      ).all(agent, limit) as Row[];
      return rows.map(listingFromRow);
    });
  }

  getCheckpoint(agent: string, id: string): Promise<Uint8Array | undefined> {
    return this.#run(`Cannot read checkpoint ${id}`, () => {
      const row = this.#stmt(`SELECT blob FROM checkpoints WHERE agent = ? AND id = ?`).get(agent, id) as
        | Row
        | undefined;
      return row === undefined ? undefined : new Uint8Array(row.blob as Uint8Array);
    });
  }

  deleteCheckpoint(agent: string, id: string): Promise<boolean> {
    return this.#run(`Cannot delete checkpoint ${id}`, () => {
      const r = this.#stmt(`DELETE FROM checkpoints WHERE agent = ? AND id = ?`).run(agent, id);
      return Number(r.changes) > 0;
    });
  }

  checkpointAgents(): Promise<string[]> {
    return this.#run("Cannot list checkpointed agents", () => {
      const rows = this.#stmt(`SELECT DISTINCT agent FROM checkpoints ORDER BY agent`).all() as Row[];
      return rows.map((r) => String(r.agent));
    });
  }

  saveAgent(record: AgentRecord): Promise<void> {
    return this.#run(`Cannot save agent ${record.name}`, () => {
      this.#stmt(
        `INSERT OR REPLACE INTO agents (name, version, source, origin, created_ms) VALUES (?, ?, ?, ?, ?)`,
      ).run(record.name, record.version, record.source, record.origin, record.created_ms);
    });
  }

  listAgents(): Promise<AgentRecord[]> {
    return this.#run("Cannot list agents", () => {
      const rows = this.#stmt(`SELECT name, version, source, origin, created_ms FROM agents ORDER BY name`)
        .all() as Row[];
      return rows.map((r) => ({
        name: String(r.name),
        version: String(r.version),
        source: String(r.source),
        origin: r.origin as AgentRecord["origin"],
        created_ms: Number(r.created_ms),
      }));
    });
  }

  kvPut(ns: string, key: string, value: unknown): Promise<void> {
    return this.#run(`Cannot store ${ns}/${key}`, () => {
      checkKvName(ns, key);
      const bytes = encodeKvValue(value);
      this.#stmt(`INSERT OR REPLACE INTO kv (ns, key, value, updated_ms) VALUES (?, ?, ?, ?)`)
        .run(ns, key, bytes, Date.now());
    });
  }

  kvGet(ns: string, key: string): Promise<unknown> {
    return this.#run(`Cannot read ${ns}/${key}`, () => {
      checkKvName(ns, key);
      const row = this.#stmt(`SELECT value FROM kv WHERE ns = ? AND key = ?`).get(ns, key) as Row | undefined;
      return row === undefined ? undefined : decodeKvValue(row.value as Uint8Array);
    });
  }

  kvList(ns: string, options: KvListOptions = {}): Promise<KvEntry[]> {
    return this.#run(`Cannot list ${ns}`, () => {
      checkKvName(ns);
      const prefix = options.prefix ?? "";
      const rows = this.#stmt(
        `SELECT key, value FROM kv WHERE ns = ? AND instr(key, ?) = 1 ORDER BY key LIMIT ?`,
      ).all(ns, prefix, listLimit(options.limit)) as Row[];
      return rows.map((r) => ({ key: String(r.key), value: decodeKvValue(r.value as Uint8Array) }));
    });
  }

  kvDelete(ns: string, key: string): Promise<boolean> {
    return this.#run(`Cannot delete ${ns}/${key}`, () => {
      checkKvName(ns, key);
      return Number(this.#stmt(`DELETE FROM kv WHERE ns = ? AND key = ?`).run(ns, key).changes) > 0;
    });
  }

  close(): Promise<void> {
    return this.#run("Cannot close the SQLite vault", () => {
      this.#statements.clear();
      if (this.#db.isOpen) this.#db.close();
    });
  }
}
