/**
 * The postgres module through FFI against the real server (127.0.0.1:5432, user postgres, db test). A
 * test that cannot reach Postgres fails loudly: `connect` throws PG_CONNECT_FAILED, it never skips.
 */
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert";
import { type OModule, openModule } from "./ffi.ts";
import { builtLibrary } from "./_test_util.ts";

const CONNINFO = Deno.env.get("O_TEST_PG_CONNINFO") ??
  "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5";

type Result = {
  columns: string[];
  types: number[];
  rows: unknown[][];
  command: string;
  rows_affected: number;
};

async function q(m: OModule, conn: number, sql: string, params?: unknown[]): Promise<Result> {
  return await m.callAsync({ op: "query", conn, sql, params }) as Result;
}

Deno.test("postgres module: connect, typed rows, params, prepared statements, bad SQL", async () => {
  const m = await openModule(await builtLibrary("postgres"));
  const table = `o_zig_pg_${crypto.randomUUID().slice(0, 8)}`;
  try {
    strictEqual(m.blocking, true);
    throws(() => m.call({ op: "connect", conninfo: CONNINFO }), { code: "ZIG_CALL_BLOCKS" });
    const { conn } = await m.callAsync({ op: "connect", conninfo: CONNINFO }) as { conn: number };
    await q(
      m,
      conn,
      `CREATE TABLE ${table} (id serial PRIMARY KEY, name text NOT NULL, score float8, big int8,
      ok bool, raw bytea, price numeric(10,2), doc jsonb)`,
    );
    const ins = await q(
      m,
      conn,
      `INSERT INTO ${table} (name, score, big, ok, raw, price, doc)
      VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      ["ada", 9.25, 9007199254740991, true, new Uint8Array([0, 255, 7]), "12.50", '{"a":1}'],
    );
    strictEqual(ins.command, "INSERT 0 1");
    strictEqual(ins.rows_affected, 1);
    const out = await q(
      m,
      conn,
      `SELECT id, name, score, big, ok, raw, price, doc, NULL::text AS missing FROM ${table}`,
    );
    deepStrictEqual(out.columns, ["id", "name", "score", "big", "ok", "raw", "price", "doc", "missing"]);
    deepStrictEqual(out.rows, [[
      1,
      "ada",
      9.25,
      9007199254740991,
      true,
      new Uint8Array([0, 255, 7]),
      "12.50",
      '{"a": 1}',
      null,
    ]]);
    strictEqual(out.types[0], 23);

    const { stmt } = await m.callAsync({
      op: "prepare",
      conn,
      sql: `INSERT INTO ${table} (name) VALUES ($1) RETURNING id`,
    }) as {
      stmt: string;
    };
    await q(m, conn, "BEGIN");
    for (let i = 0; i < 20; i++) await m.callAsync({ op: "execute", conn, stmt, params: [`n${i}`] });
    await q(m, conn, "COMMIT");
    strictEqual((await q(m, conn, `SELECT count(*)::int AS n FROM ${table}`)).rows[0][0], 21);

    await rejects(q(m, conn, "SELEC 1"), (e: Error & { code?: string }) => {
      strictEqual(e.code, "PG_ERROR");
      ok(e.message.includes("[42601]") && e.message.includes("syntax error"), e.message);
      return true;
    });
    await rejects(
      q(m, conn, `INSERT INTO ${table} (name) VALUES (NULL)`),
      (e: Error) => e.message.includes("[23502]"),
    );
    // The connection is still usable after a refused statement.
    strictEqual((await q(m, conn, "SELECT 1 AS one")).rows[0][0], 1);
    await rejects(m.callAsync({ op: "connect", conninfo: "host=127.0.0.1 port=1 connect_timeout=2" }), {
      code: "PG_CONNECT_FAILED",
    });
    await q(m, conn, `DROP TABLE ${table}`);
    await m.callAsync({ op: "close", conn });
    await rejects(q(m, conn, "SELECT 1"), { code: "PG_NO_SUCH_CONN" });
  } finally {
    await m.close();
  }
});

Deno.test("postgres module: a lost connection is reported clearly and reconnect restores it and its statements", async () => {
  const m = await openModule(await builtLibrary("postgres"));
  try {
    const { conn } = await m.callAsync({ op: "connect", conninfo: CONNINFO }) as { conn: number };
    const { conn: killer } = await m.callAsync({ op: "connect", conninfo: CONNINFO }) as { conn: number };
    const { stmt } = await m.callAsync({ op: "prepare", conn, sql: "SELECT $1::int * 2 AS twice" }) as {
      stmt: string;
    };
    const { backend_pid } = await m.callAsync({ op: "status", conn }) as { backend_pid: number };
    await q(m, killer, "SELECT pg_terminate_backend($1)", [backend_pid]);
    await rejects(q(m, conn, "SELECT 1"), (e: Error & { code?: string }) => {
      strictEqual(e.code, "PG_CONNECTION_LOST");
      ok(e.message.includes("reconnect"));
      return true;
    });
    await m.callAsync({ op: "reconnect", conn });
    const out = await m.callAsync({ op: "execute", conn, stmt, params: [21] }) as Result;
    strictEqual(out.rows[0][0], 42);
  } finally {
    await m.close();
  }
});

Deno.test("postgres module: connections and prepared statements survive a hot reload", async () => {
  const lib = await builtLibrary("postgres");
  const m = await openModule(lib);
  try {
    const { conn } = await m.callAsync({ op: "connect", conninfo: CONNINFO }) as { conn: number };
    const { stmt } = await m.callAsync({ op: "prepare", conn, sql: "SELECT $1::text || '!' AS s" }) as {
      stmt: string;
    };
    await m.reload(lib);
    const out = await m.callAsync({ op: "execute", conn, stmt, params: ["hi"] }) as Result;
    deepStrictEqual(out.rows, [["hi!"]]);
  } finally {
    await m.close();
  }
});
