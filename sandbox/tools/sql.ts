/**
 * The `sql` tool: each agent's own SQLite database (`DATA/agents/NAME/agent.db`), one statement per call.
 * Statements that reach outside the database are refused before they are prepared: `ATTACH`, `DETACH`,
 * `VACUUM` (its `INTO` writes files), `PRAGMA`, and extension loading (also disabled in the engine). The
 * database is capped by `max_page_count`. The engine is pluggable: `node:sqlite` by default, or the Zig
 * `sqlite` module (the supervisor passes a {@link SqlEngine}).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { ToolError } from "../../protocol/mod.ts";

/** Longest statement accepted, in characters. */
export const SQL_CHARS_MAX = 64 * 1024;
/** Most rows one query returns; more fail the call (add a LIMIT). */
export const SQL_ROWS_MAX = 10_000;
/** Largest agent database, bytes (SQLite's max_page_count × page size). */
export const SQL_DATABASE_BYTES_MAX = 64 * 1024 * 1024;
/** Open databases kept (least recently used closed first). */
export const SQL_HANDLES_MAX = 64;

/** What a statement answers. */
export interface SqlAnswer {
  columns: string[];
  rows: unknown[][];
  changes: number;
  last_insert_rowid: number;
}

/** An engine running one checked statement on a database file. */
export interface SqlEngine {
  run(path: string, sql: string, params: unknown[]): Promise<SqlAnswer> | SqlAnswer;
  close(): void | Promise<void>;
}

const FORBIDDEN = /\b(attach|detach|vacuum|pragma|load_extension)\b/i;
const PAGE_BYTES = 4096;

/**
 * Checks a statement and its parameters.
 *
 * @throws {ToolError} `TOOL_BAD_ARGS`, `SQL_FORBIDDEN`.
 */
export function checkStatement(sql: unknown, params: unknown): { sql: string; params: unknown[] } {
  if (typeof sql !== "string" || sql.trim().length === 0) {
    throw new ToolError("TOOL_BAD_ARGS", "Cannot run SQL: the statement must be a non-empty string");
  }
  if (sql.length > SQL_CHARS_MAX) {
    throw new ToolError("TOOL_BAD_ARGS", `Cannot run SQL: ${sql.length} chars exceeds ${SQL_CHARS_MAX}`);
  }
  const m = FORBIDDEN.exec(sql);
  if (m) {
    throw new ToolError(
      "SQL_FORBIDDEN",
      `Cannot run SQL: '${m[1].toUpperCase()}' reaches outside the agent's database`,
    );
  }
  if (/;\s*\S/.test(sql)) {
    throw new ToolError("SQL_FORBIDDEN", "Cannot run SQL: one statement per call (no ';' inside)");
  }
  const list = params === undefined || params === null ? [] : params;
  if (!Array.isArray(list)) throw new ToolError("TOOL_BAD_ARGS", "Cannot run SQL: params must be a list");
  for (const p of list) {
    const ok = p === null || ["number", "string", "bigint", "boolean"].includes(typeof p) ||
      p instanceof Uint8Array;
    if (!ok) {
      throw new ToolError(
        "TOOL_BAD_ARGS",
        "Cannot run SQL: params must be numbers, strings, booleans, null or bytes",
      );
    }
  }
  return { sql, params: list.map((p) => typeof p === "boolean" ? (p ? 1 : 0) : p) };
}

/** The default engine: `node:sqlite`. */
export class NodeSqlEngine implements SqlEngine {
  readonly #handles = new Map<string, DatabaseSync>();

  #open(path: string): DatabaseSync {
    let db = this.#handles.get(path);
    if (db !== undefined) {
      this.#handles.delete(path);
      this.#handles.set(path, db);
      return db;
    }
    db = new DatabaseSync(path, { allowExtension: false } as ConstructorParameters<typeof DatabaseSync>[1]);
    db.exec(
      `PRAGMA journal_mode=WAL; PRAGMA max_page_count=${
        SQL_DATABASE_BYTES_MAX / PAGE_BYTES
      }; PRAGMA trusted_schema=OFF`,
    );
    this.#handles.set(path, db);
    if (this.#handles.size > SQL_HANDLES_MAX) {
      const [oldest, handle] = this.#handles.entries().next().value!;
      handle.close();
      this.#handles.delete(oldest);
    }
    return db;
  }

  run(path: string, sql: string, params: unknown[]): SqlAnswer {
    const db = this.#open(path);
    try {
      const stmt = db.prepare(sql);
      const columns = stmt.columns().map((c) => c.name);
      if (columns.length === 0) {
        const r = stmt.run(...params as never[]);
        return {
          columns,
          rows: [],
          changes: Number(r.changes),
          last_insert_rowid: Number(r.lastInsertRowid),
        };
      }
      const rows: unknown[][] = [];
      for (const row of stmt.iterate(...params as never[])) {
        if (rows.length >= SQL_ROWS_MAX) {
          throw new ToolError("SQL_TOO_MANY_ROWS", `Cannot answer: more than ${SQL_ROWS_MAX} rows`);
        }
        rows.push(columns.map((c) => (row as Record<string, unknown>)[c]));
      }
      return { columns, rows, changes: 0, last_insert_rowid: 0 };
    } catch (e) {
      if (e instanceof ToolError) throw e;
      throw new ToolError("SQL_ERROR", `Cannot run SQL: ${e instanceof Error ? e.message : e}`);
    }
  }

  close(): void {
    for (const db of this.#handles.values()) db.close();
    this.#handles.clear();
  }
}
