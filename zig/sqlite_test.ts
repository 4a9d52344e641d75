/**
 * The sqlite module through FFI on a temp file: typed rows, parameters (positional and named), prepared
 * statements, transactions, error codes, and databases and statements carried over a hot reload. The
 * file is then read back with node:sqlite to prove the module wrote a real SQLite database.
 */
import { deepStrictEqual, strictEqual, throws } from "node:assert";
import { DatabaseSync } from "node:sqlite";
import { openModule } from "./ffi.ts";
import { builtLibrary } from "./_test_util.ts";

async function withDb(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "o-zig-sqlite-" });
  try {
    await fn(`${dir}/test.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sqlite module: exec, query with params returning typed rows, prepared statements, transactions", async () => {
  await withDb(async (path) => {
    const m = await openModule(await builtLibrary("sqlite"));
    try {
      const { db } = m.call({ op: "open", path }) as { db: number };
      m.call({
        op: "exec",
        db,
        sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL, data BLOB)",
      });
      const ins = m.call({
        op: "query",
        db,
        sql: "INSERT INTO t (name, score, data) VALUES (?, ?, ?)",
        params: ["ada", 9.5, new Uint8Array([1, 2, 3])],
      });
      deepStrictEqual(ins, { columns: [], rows: [], changes: 1, last_insert_rowid: 1 });
      const { stmt } = m.call({
        op: "prepare",
        db,
        sql: "INSERT INTO t (name, score) VALUES (:name, :score)",
      }) as {
        stmt: number;
      };
      m.call({ op: "begin", db, mode: "immediate" });
      for (let i = 0; i < 100; i++) m.call({ op: "run", stmt, params: { name: `n${i}`, score: i } });
      m.call({ op: "commit", db });
      m.call({ op: "begin", db });
      m.call({ op: "run", stmt, params: { name: "gone", score: 0 } });
      m.call({ op: "rollback", db });
      const out = m.call({
        op: "query",
        db,
        sql: "SELECT id, name, score, data, NULL AS missing FROM t WHERE id = ?",
        params: [1],
      });
      deepStrictEqual(out, {
        columns: ["id", "name", "score", "data", "missing"],
        rows: [[1, "ada", 9.5, new Uint8Array([1, 2, 3]), null]],
        changes: 0,
        last_insert_rowid: 102, // sqlite keeps the rowid of the rolled-back insert
      });
      const count = m.call({ op: "query", db, sql: "SELECT count(*) AS n FROM t" }) as { rows: number[][] };
      strictEqual(count.rows[0][0], 101);
      throws(
        () => m.call({ op: "query", db, sql: "INSERT INTO t (name) VALUES ('ada')" }),
        (e: Error & { code?: string }) => {
          strictEqual(e.code, "SQLITE_CONSTRAINT");
          return /UNIQUE/.test(e.message);
        },
      );
      throws(() => m.call({ op: "query", db, sql: "SELEKT 1" }), { code: "SQLITE_ERROR" });
      throws(() => m.call({ op: "query", db, sql: "SELECT ?", params: [] }), { code: "SQLITE_RANGE" });
      throws(() => m.call({ op: "query", db: 12345, sql: "SELECT 1" }), { code: "SQLITE_NO_SUCH_DB" });
      m.call({ op: "finalize", stmt });
      throws(() => m.call({ op: "run", stmt }), { code: "SQLITE_NO_SUCH_STMT" });
      m.call({ op: "close", db });
    } finally {
      await m.close();
    }
    const check = new DatabaseSync(path);
    strictEqual((check.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, 101);
    check.close();
  });
});

Deno.test("sqlite module: open databases and prepared statements survive a hot reload", async () => {
  await withDb(async (path) => {
    const lib = await builtLibrary("sqlite");
    const m = await openModule(lib);
    try {
      const { db } = m.call({ op: "open", path }) as { db: number };
      m.call({ op: "exec", db, sql: "CREATE TABLE k (v INTEGER)" });
      const { stmt } = m.call({ op: "prepare", db, sql: "INSERT INTO k VALUES (?)" }) as { stmt: number };
      m.call({ op: "run", stmt, params: [1] });
      await m.reload(lib);
      m.call({ op: "run", stmt, params: [2] });
      const out = m.call({ op: "query", db, sql: "SELECT v FROM k ORDER BY v" }) as { rows: number[][] };
      deepStrictEqual(out.rows, [[1], [2]]);
      strictEqual(m.history.length, 1);
    } finally {
      await m.close();
    }
  });
});
