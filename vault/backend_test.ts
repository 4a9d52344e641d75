/**
 * Runs the backend contract on SQLite (a temp file) and on Postgres (a fresh random schema, dropped after).
 * Postgres is required: when it is unreachable these tests fail; they never skip. Set
 * `O_TEST_POSTGRES_URL` to use another server than `postgres://postgres@127.0.0.1:5432/test`.
 */
import postgres from "postgres";
import { strictEqual } from "node:assert";
import { type BackendFixture, runBackendContract } from "./backend_contract.ts";
import { openBackend } from "./backend.ts";
import { SqliteBackend } from "./sqlite_backend.ts";
import { parsePostgresUrl, PostgresBackend } from "./postgres_backend.ts";

const POSTGRES_URL = Deno.env.get("O_TEST_POSTGRES_URL") ?? "postgres://postgres@127.0.0.1:5432/test";

async function sqliteFixture(): Promise<BackendFixture> {
  const dir = await Deno.makeTempDir();
  return {
    open: () => Promise.resolve(SqliteBackend.open(`${dir}/vault.db`)),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

function postgresFixture(): Promise<BackendFixture> {
  const schema = `o_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const url = `${POSTGRES_URL}${POSTGRES_URL.includes("?") ? "&" : "?"}schema=${schema}`;
  return Promise.resolve({
    open: () => PostgresBackend.open(url),
    async cleanup() {
      const sql = postgres(parsePostgresUrl(POSTGRES_URL).url, { onnotice: () => {}, max: 1 });
      try {
        await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
  });
}

runBackendContract("SqliteBackend", sqliteFixture);
runBackendContract("PostgresBackend", postgresFixture);

Deno.test("openBackend() picks SQLite for sqlite: and Postgres for postgres:// URLs", async () => {
  const dir = await Deno.makeTempDir();
  const sqlite = await openBackend("sqlite:", dir);
  strictEqual(sqlite.kind, "sqlite");
  await sqlite.close();
  strictEqual((await Deno.stat(`${dir}/vault.db`)).isFile, true);
  const fixture = await postgresFixture();
  const pg = await fixture.open();
  strictEqual(pg.kind, "postgres");
  await pg.close();
  await fixture.cleanup();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parsePostgresUrl() strips the schema parameter and defaults to o", () => {
  strictEqual(parsePostgresUrl("postgres://u@h:5432/db").schema, "o");
  const parsed = parsePostgresUrl("postgres://u:pw@h:5432/db?schema=abc&sslmode=disable");
  strictEqual(parsed.schema, "abc");
  strictEqual(parsed.url, "postgres://u:pw@h:5432/db?sslmode=disable");
});
