/**
 * The brokered `sql` and `http` tools through the real server, on both engines: the TypeScript ones
 * (node:sqlite, fetch) and the Zig modules (`--zig-tools`), with the same policy checks.
 */
import { deepStrictEqual, strictEqual } from "node:assert";
import { post, startServer } from "./_server.ts";

const NOTES = `import { defineAgent } from "@o/agent";
export default defineAgent({
  name: "notes",
  version: "1.0.0",
  tools: ["sql", "http"],
  handle: async (ctx) => {
    const op = ctx.arg("op");
    try {
      if (op === "sql") return await ctx.tools.sql(ctx.arg("q"), ctx.arg("params") ?? []);
      if (op === "http") return await ctx.tools.http(ctx.arg("url"));
    } catch (e) {
      return { error: (e as { code?: string }).code ?? String(e) };
    }
    return null;
  },
});`;

for (const engine of ["typescript", "zig"]) {
  Deno.test(`sql and http tools work and keep their policy on the ${engine} engines`, async () => {
    const upstream = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen: () => {} },
      () => new Response("upstream ok"),
    );
    const allowed = `127.0.0.1:${upstream.addr.port}`;
    const args = ["--http-allow", allowed, ...(engine === "zig" ? ["--zig-tools"] : [])];
    const server = await startServer({ args });
    const call = async (input: unknown) =>
      (await post(`${server.url}/v1/agents/notes/invoke`, { input })).body.output;
    try {
      strictEqual((await post(`${server.url}/v1/agents`, { name: "notes", source: NOTES })).status, 201);
      await call({ op: "sql", q: "CREATE TABLE n (id INTEGER PRIMARY KEY, text TEXT)" });
      const ins = await call({ op: "sql", q: "INSERT INTO n (text) VALUES (?)", params: ["hello"] }) as {
        changes: number;
      };
      strictEqual(ins.changes, 1);
      const sel = await call({ op: "sql", q: "SELECT id, text FROM n WHERE text = ?", params: ["hello"] });
      deepStrictEqual(sel, {
        columns: ["id", "text"],
        rows: [[1, "hello"]],
        changes: 0,
        last_insert_rowid: sel && (sel as { last_insert_rowid: number }).last_insert_rowid,
      });
      for (
        const q of [
          "ATTACH DATABASE '/etc/passwd' AS p",
          "PRAGMA writable_schema=ON",
          "VACUUM INTO '/tmp/x.db'",
          "SELECT 1; DROP TABLE n",
        ]
      ) {
        deepStrictEqual(await call({ op: "sql", q }), { error: "SQL_FORBIDDEN" }, q);
      }
      deepStrictEqual(await call({ op: "sql", q: "SELECT * FROM missing" }), { error: "SQL_ERROR" });
      const got = await call({ op: "http", url: `http://${allowed}/x` }) as { status: number; body: string };
      deepStrictEqual([got.status, got.body], [200, "upstream ok"]);
      deepStrictEqual(await call({ op: "http", url: "http://127.0.0.2:9/" }), { error: "HTTP_HOST_DENIED" });
    } finally {
      await server.stop();
      await upstream.shutdown();
    }
  });
}
