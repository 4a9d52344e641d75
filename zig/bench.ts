/**
 * Benchmarks of the Zig modules, each against the nearest pure-TypeScript way measured in the same run:
 * FFI call overhead (an empty `o_call` round trip), http_client vs `fetch`, sqlite vs `node:sqlite`,
 * postgres vs the npm `postgres` client. Run it alone with `deno run -A zig/bench.ts [--quick] [--json]`;
 * bench/main.ts may call {@link benchZig}.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";
import { encode } from "../protocol/mod.ts";
import { buildModules, libraryPath } from "./build.ts";
import { openModule } from "./ffi.ts";

/** One comparison: per-operation cost of the Zig module and of the baseline, same workload, same run. */
export interface ZigVsBaseline {
  workload: string;
  operations: number;
  zigUsPerOp: number;
  baselineUsPerOp: number;
  baseline: string;
  /** baselineUsPerOp / zigUsPerOp: above 1 means the Zig module is faster. */
  speedup: number;
}

/** Everything {@link benchZig} measures. */
export interface ZigBenchFigures {
  ffi: {
    /** Synchronous empty `o_call` (a nil ping answered by o.zig), ns per call. */
    syncPingNs: number;
    /** Synchronous `callRaw` with a small pre-encoded request (counter `get`), answer left encoded, ns per call. */
    syncSmallCallRawNs: number;
    /** The same through `call` (msgpack encode and decode in TypeScript included), ns per call. */
    syncSmallCallNs: number;
    /** The same through the nonblocking symbol (Deno's thread pool), µs per call, one at a time. */
    asyncSmallCallUs: number;
    /** Hot reload of the counter module (copy, dlopen, init, state carry, close old), ms per reload. */
    reloadMs: number;
  };
  http: ZigVsBaseline;
  sqliteInsert: ZigVsBaseline;
  sqliteQuery: ZigVsBaseline;
  postgres: ZigVsBaseline;
}

/** Options of {@link benchZig}. */
export interface ZigBenchOptions {
  /** Fewer iterations (for tests and CI). @default false */
  quick?: boolean;
  /** Postgres URL for the postgres comparison. @default postgres://postgres@127.0.0.1:5432/test */
  postgresUrl?: string;
}

function compare(
  workload: string,
  operations: number,
  zigMs: number,
  baselineMs: number,
  baseline: string,
): ZigVsBaseline {
  const zigUsPerOp = (zigMs * 1000) / operations;
  const baselineUsPerOp = (baselineMs * 1000) / operations;
  return {
    workload,
    operations,
    zigUsPerOp,
    baselineUsPerOp,
    baseline,
    speedup: baselineUsPerOp / zigUsPerOp,
  };
}

async function timeMs(fn: () => unknown | Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function benchFfi(n: number): Promise<ZigBenchFigures["ffi"]> {
  const m = await openModule(libraryPath("counter"));
  try {
    const ping = encode(null);
    const get = encode({ op: "get" });
    // Warm up each path first: the JIT, not the boundary, dominates the first thousands of calls.
    const warmup = Math.min(n, 10_000);
    for (let i = 0; i < warmup; i++) (m.callRaw(ping), m.callRaw(get), m.call({ op: "get" }));
    const pingMs = await timeMs(() => {
      for (let i = 0; i < n; i++) m.callRaw(ping);
    });
    const smallRawMs = await timeMs(() => {
      for (let i = 0; i < n; i++) m.callRaw(get);
    });
    const smallMs = await timeMs(() => {
      for (let i = 0; i < n; i++) m.call({ op: "get" });
    });
    const asyncN = Math.max(100, Math.floor(n / 20));
    const asyncMs = await timeMs(async () => {
      for (let i = 0; i < asyncN; i++) await m.callRawAsync(get);
    });
    const reloads = 20;
    const reloadMs = await timeMs(async () => {
      for (let i = 0; i < reloads; i++) await m.reload(libraryPath(i % 2 === 0 ? "counter_v2" : "counter"));
    });
    return {
      syncPingNs: (pingMs * 1e6) / n,
      syncSmallCallRawNs: (smallRawMs * 1e6) / n,
      syncSmallCallNs: (smallMs * 1e6) / n,
      asyncSmallCallUs: (asyncMs * 1000) / asyncN,
      reloadMs: reloadMs / reloads,
    };
  } finally {
    await m.close();
  }
}

async function benchHttp(n: number): Promise<ZigVsBaseline> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("hello"),
  );
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const m = await openModule(libraryPath("http_client"));
  try {
    // Both close the connection after each request (the module always does): the same work per request.
    const zigMs = await timeMs(async () => {
      for (let i = 0; i < n; i++) await m.callAsync({ url });
    });
    const fetchMs = await timeMs(async () => {
      for (let i = 0; i < n; i++) await (await fetch(url, { headers: { connection: "close" } })).text();
    });
    return compare("GET a local Deno server, sequential, new connection each", n, zigMs, fetchMs, "fetch");
  } finally {
    await m.close();
    await server.shutdown();
  }
}

async function benchSqlite(n: number): Promise<[ZigVsBaseline, ZigVsBaseline]> {
  const dir = await Deno.makeTempDir({ prefix: "o-zig-bench-" });
  const m = await openModule(libraryPath("sqlite"));
  try {
    const { db } = m.call({ op: "open", path: `${dir}/zig.db` }) as { db: number };
    m.call({
      op: "exec",
      db,
      sql: "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v REAL)",
    });
    const { stmt } = m.call({ op: "prepare", db, sql: "INSERT INTO t (name, v) VALUES (?, ?)" }) as {
      stmt: number;
    };
    const { stmt: sel } = m.call({ op: "prepare", db, sql: "SELECT id, name, v FROM t WHERE id = ?" }) as {
      stmt: number;
    };
    const zigInsertMs = await timeMs(() => {
      m.call({ op: "begin", db });
      for (let i = 0; i < n; i++) m.call({ op: "run", stmt, params: [`name${i}`, i * 0.5] });
      m.call({ op: "commit", db });
    });
    const zigQueryMs = await timeMs(() => {
      for (let i = 0; i < n; i++) m.call({ op: "run", stmt: sel, params: [(i % n) + 1] });
    });
    const node = new DatabaseSync(`${dir}/node.db`);
    node.exec("PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v REAL)");
    const ins = node.prepare("INSERT INTO t (name, v) VALUES (?, ?)");
    const q = node.prepare("SELECT id, name, v FROM t WHERE id = ?");
    const nodeInsertMs = await timeMs(() => {
      node.exec("BEGIN");
      for (let i = 0; i < n; i++) ins.run(`name${i}`, i * 0.5);
      node.exec("COMMIT");
    });
    const nodeQueryMs = await timeMs(() => {
      for (let i = 0; i < n; i++) q.all((i % n) + 1);
    });
    node.close();
    return [
      compare(
        "insert one row with a prepared statement, in one transaction",
        n,
        zigInsertMs,
        nodeInsertMs,
        "node:sqlite",
      ),
      compare(
        "select one row by primary key with a prepared statement",
        n,
        zigQueryMs,
        nodeQueryMs,
        "node:sqlite",
      ),
    ];
  } finally {
    await m.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function benchPostgres(n: number, url: string): Promise<ZigVsBaseline> {
  const m = await openModule(libraryPath("postgres"));
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const { conn } = await m.callAsync({ op: "connect", conninfo: url }) as { conn: number };
    const { stmt } = await m.callAsync({
      op: "prepare",
      conn,
      sql: "SELECT $1::int + 1 AS n, 'x'::text AS s",
    }) as {
      stmt: string;
    };
    await m.callAsync({ op: "execute", conn, stmt, params: [1] });
    const zigMs = await timeMs(async () => {
      for (let i = 0; i < n; i++) await m.callAsync({ op: "execute", conn, stmt, params: [i] });
    });
    await sql`SELECT ${1}::int + 1 AS n, 'x'::text AS s`;
    const npmMs = await timeMs(async () => {
      for (let i = 0; i < n; i++) await sql`SELECT ${i}::int + 1 AS n, 'x'::text AS s`;
    });
    return compare(
      "prepared SELECT with one parameter, sequential round trips",
      n,
      zigMs,
      npmMs,
      "npm postgres",
    );
  } finally {
    await sql.end();
    await m.close();
  }
}

/**
 * Runs every Zig benchmark with its same-run baseline.
 *
 * @param options `quick` for fewer iterations; the Postgres URL.
 * @returns The figures.
 * @throws When Postgres cannot be reached (a benchmark does not silently drop a section).
 */
export async function benchZig(options: ZigBenchOptions = {}): Promise<ZigBenchFigures> {
  await buildModules();
  const scale = options.quick ? 0.05 : 1;
  const url = options.postgresUrl ?? "postgres://postgres@127.0.0.1:5432/test";
  const ffi = await benchFfi(Math.round(200_000 * scale));
  const http = await benchHttp(Math.max(20, Math.round(1_000 * scale)));
  const [sqliteInsert, sqliteQuery] = await benchSqlite(Math.max(500, Math.round(50_000 * scale)));
  const pg = await benchPostgres(Math.max(50, Math.round(2_000 * scale)), url);
  return { ffi, http, sqliteInsert, sqliteQuery, postgres: pg };
}

function table(figures: ZigBenchFigures): string {
  const f = figures.ffi;
  const lines = [
    "| what | Zig | baseline | speedup |",
    "|---|---|---|---|",
    `| empty o_call round trip (sync) | ${f.syncPingNs.toFixed(0)} ns | — | — |`,
    `| small call, callRaw (sync) | ${f.syncSmallCallRawNs.toFixed(0)} ns | — | — |`,
    `| small call with msgpack both ways (sync) | ${f.syncSmallCallNs.toFixed(0)} ns | — | — |`,
    `| small msgpack call (nonblocking) | ${f.asyncSmallCallUs.toFixed(1)} µs | — | — |`,
    `| hot reload | ${f.reloadMs.toFixed(2)} ms | — | — |`,
  ];
  for (const c of [figures.http, figures.sqliteInsert, figures.sqliteQuery, figures.postgres]) {
    lines.push(
      `| ${c.workload} | ${c.zigUsPerOp.toFixed(1)} µs | ${
        c.baselineUsPerOp.toFixed(1)
      } µs (${c.baseline}) | ${c.speedup.toFixed(2)}× |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const figures = await benchZig({ quick: Deno.args.includes("--quick") });
  console.log(Deno.args.includes("--json") ? JSON.stringify(figures) : table(figures));
}
