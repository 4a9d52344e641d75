/**
 * The shared backend: PostgreSQL through npm `postgres`, in its own schema (`o` unless the URL says
 * `?schema=NAME`), created with its tables when missing. Several O nodes may share one such vault.
 *
 * @module
 */
import postgres from "postgres";
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
  redact,
} from "./backend.ts";
import { VaultError } from "./errors.ts";
import { CHECKPOINTS_LISTED_MAX } from "./limits.ts";
import type { AgentRecord } from "./types.ts";

/** The schema used when the URL names none. */
export const POSTGRES_SCHEMA_DEFAULT = "o";
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const CONNECTIONS_MAX = 4;
const CONNECT_TIMEOUT_S = 10;

type Sql = ReturnType<typeof postgres>;
type Row = Record<string, unknown>;

/**
 * Splits the vault's own `schema` parameter off a Postgres URL (the driver would send it to the server).
 *
 * @returns The URL for the driver and the schema name.
 * @throws {VaultError} `VAULT_CONFIG_INVALID` for a malformed URL or schema name.
 */
export function parsePostgresUrl(url: string): { url: string; schema: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new VaultError("VAULT_CONFIG_INVALID", `Cannot parse Postgres URL ${redact(url)}`);
  }
  const schema = parsed.searchParams.get("schema") ?? POSTGRES_SCHEMA_DEFAULT;
  if (!SCHEMA_NAME.test(schema)) {
    throw new VaultError(
      "VAULT_CONFIG_INVALID",
      `Cannot use Postgres schema '${schema}': expected [a-z_][a-z0-9_]*`,
    );
  }
  parsed.searchParams.delete("schema");
  return { url: parsed.toString(), schema };
}

function bytesOf(v: unknown): Uint8Array {
  const b = v as Uint8Array;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
}

/** A {@link Backend} on a Postgres schema. */
export class PostgresBackend implements Backend {
  readonly kind = "postgres";
  readonly schema: string;
  #sql: Sql;

  /** Use {@link PostgresBackend.open}. */
  constructor(sql: Sql, schema: string) {
    this.#sql = sql;
    this.schema = schema;
  }

  /**
   * Connects and creates the schema and tables when missing (under an advisory lock, so nodes starting
   * together do not race).
   *
   * @param url `postgres://user@host:port/db[?schema=NAME]`.
   * @returns The backend.
   * @throws {VaultError} `VAULT_BACKEND` when the server is unreachable or refuses.
   */
  static async open(url: string): Promise<PostgresBackend> {
    const target = parsePostgresUrl(url);
    const sql = postgres(target.url, {
      max: CONNECTIONS_MAX,
      connect_timeout: CONNECT_TIMEOUT_S,
      onnotice: () => {},
    });
    try {
      await createSchema(sql, target.schema);
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw backendError(`Cannot open Postgres vault ${redact(url)}`, e);
    }
    return new PostgresBackend(sql, target.schema);
  }

  #t(table: string) {
    return this.#sql(`${this.schema}.${table}`);
  }

  async #run<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      throw backendError(action, e);
    }
  }

  putCheckpoint(row: CheckpointRow): Promise<void> {
    return this.#run(`Cannot store checkpoint ${row.id}`, async () => {
      await this.#sql`
        INSERT INTO ${this.#t("checkpoints")} (agent, id, seq, kind, base_id, created_ms, blob)
        VALUES (${row.agent}, ${row.id}, ${row.seq}, ${row.kind}, ${row.base_id}, ${row.created_ms}, ${row.blob})
        ON CONFLICT (agent, id) DO UPDATE SET seq = EXCLUDED.seq, kind = EXCLUDED.kind,
          base_id = EXCLUDED.base_id, created_ms = EXCLUDED.created_ms, blob = EXCLUDED.blob`;
    });
  }

  listCheckpoints(agent: string, limit = CHECKPOINTS_LISTED_MAX): Promise<CheckpointListing[]> {
    return this.#run(`Cannot list checkpoints of ${agent}`, async () => {
      const rows = await this.#sql<Row[]>`
        SELECT agent, id, seq, kind, base_id, created_ms, octet_length(blob) AS bytes
        FROM ${this.#t("checkpoints")} WHERE agent = ${agent}
        ORDER BY seq DESC, created_ms DESC, id DESC LIMIT ${limit}`;
      return rows.map(listingFromRow);
    });
  }

  getCheckpoint(agent: string, id: string): Promise<Uint8Array | undefined> {
    return this.#run(`Cannot read checkpoint ${id}`, async () => {
      const rows = await this.#sql<Row[]>`
        SELECT blob FROM ${this.#t("checkpoints")} WHERE agent = ${agent} AND id = ${id}`;
      return rows.length === 0 ? undefined : bytesOf(rows[0].blob);
    });
  }

  deleteCheckpoint(agent: string, id: string): Promise<boolean> {
    return this.#run(`Cannot delete checkpoint ${id}`, async () => {
      const r = await this.#sql`DELETE FROM ${this.#t("checkpoints")} WHERE agent = ${agent} AND id = ${id}`;
      return r.count > 0;
    });
  }

  checkpointAgents(): Promise<string[]> {
    return this.#run("Cannot list checkpointed agents", async () => {
      const rows = await this.#sql<Row[]>`SELECT DISTINCT agent FROM ${
        this.#t("checkpoints")
      } ORDER BY agent`;
      return rows.map((r) => String(r.agent));
    });
  }

  saveAgent(record: AgentRecord): Promise<void> {
    return this.#run(`Cannot save agent ${record.name}`, async () => {
      await this.#sql`
        INSERT INTO ${this.#t("agents")} (name, version, source, origin, created_ms)
        VALUES (${record.name}, ${record.version}, ${record.source}, ${record.origin}, ${record.created_ms})
        ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, source = EXCLUDED.source,
          origin = EXCLUDED.origin, created_ms = EXCLUDED.created_ms`;
    });
  }

  listAgents(): Promise<AgentRecord[]> {
    return this.#run("Cannot list agents", async () => {
      const rows = await this.#sql<Row[]>`
        SELECT name, version, source, origin, created_ms FROM ${this.#t("agents")} ORDER BY name`;
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
    return this.#run(`Cannot store ${ns}/${key}`, async () => {
      checkKvName(ns, key);
      const bytes = encodeKvValue(value);
      await this.#sql`
        INSERT INTO ${
        this.#t("kv")
      } (ns, key, value, updated_ms) VALUES (${ns}, ${key}, ${bytes}, ${Date.now()})
        ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value, updated_ms = EXCLUDED.updated_ms`;
    });
  }

  kvGet(ns: string, key: string): Promise<unknown> {
    return this.#run(`Cannot read ${ns}/${key}`, async () => {
      checkKvName(ns, key);
      const rows = await this.#sql<Row[]>`SELECT value FROM ${
        this.#t("kv")
      } WHERE ns = ${ns} AND key = ${key}`;
      return rows.length === 0 ? undefined : decodeKvValue(bytesOf(rows[0].value));
    });
  }

  kvList(ns: string, options: KvListOptions = {}): Promise<KvEntry[]> {
    return this.#run(`Cannot list ${ns}`, async () => {
      checkKvName(ns);
      const rows = await this.#sql<Row[]>`
        SELECT key, value FROM ${this.#t("kv")}
        WHERE ns = ${ns} AND starts_with(key, ${options.prefix ?? ""})
        ORDER BY key COLLATE "C" LIMIT ${listLimit(options.limit)}`;
      return rows.map((r) => ({ key: String(r.key), value: decodeKvValue(bytesOf(r.value)) }));
    });
  }

  kvDelete(ns: string, key: string): Promise<boolean> {
    return this.#run(`Cannot delete ${ns}/${key}`, async () => {
      checkKvName(ns, key);
      const r = await this.#sql`DELETE FROM ${this.#t("kv")} WHERE ns = ${ns} AND key = ${key}`;
      return r.count > 0;
    });
  }

  /** The driver, for features beyond the interface (the evaluation queue's `FOR UPDATE SKIP LOCKED`). */
  get sql(): Sql {
    return this.#sql;
  }

  close(): Promise<void> {
    return this.#run("Cannot close the Postgres vault", () => this.#sql.end({ timeout: 5 }));
  }
}

async function createSchema(sql: Sql, schema: string): Promise<void> {
  const t = (name: string) => sql(`${schema}.${name}`);
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`o.vault.schema.${schema}`}))`;
    await tx`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`;
    await tx`CREATE TABLE IF NOT EXISTS ${t("checkpoints")} (
      agent TEXT NOT NULL, id TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, base_id TEXT,
      created_ms BIGINT NOT NULL, blob BYTEA NOT NULL, PRIMARY KEY (agent, id))`;
    await tx`CREATE INDEX IF NOT EXISTS checkpoints_newest ON ${
      t("checkpoints")
    } (agent, seq DESC, created_ms DESC)`;
    await tx`CREATE TABLE IF NOT EXISTS ${t("agents")} (
      name TEXT PRIMARY KEY, version TEXT NOT NULL, source TEXT NOT NULL, origin TEXT NOT NULL,
      created_ms BIGINT NOT NULL)`;
    await tx`CREATE TABLE IF NOT EXISTS ${t("kv")} (
      ns TEXT NOT NULL, key TEXT NOT NULL, value BYTEA NOT NULL, updated_ms BIGINT NOT NULL,
      PRIMARY KEY (ns, key))`;
  });
}
