/**
 * Tool engines on the Zig modules (`--zig-tools`): the brokered `http` tool over `http_client` and the
 * `sql` tool over `sqlite`, with the same policy checks as the TypeScript engines (the broker checks
 * before any engine runs). Built with `deno task zig:build`; the server refuses to start when asked for
 * them and the libraries are missing.
 *
 * @module
 */
import { buildModules, libraryPath, type OModule, openModule } from "../zig/mod.ts";
import { ToolError } from "../protocol/mod.ts";
import type { HttpAnswer, HttpRequest, HttpTransport, SqlAnswer, SqlEngine } from "../sandbox/mod.ts";

const HTTP_TIMEOUT_MS = 10_000;
const HTTP_BODY_BYTES_MAX = 1024 * 1024;
const SQL_DATABASE_PAGES_MAX = (64 * 1024 * 1024) / 4096;

/** The `http` tool's transport on the Zig `http_client` module (redirects are handed back, not followed). */
export function zigHttpTransport(module: OModule): HttpTransport {
  return async (request: HttpRequest): Promise<HttpAnswer> => {
    const answer = await module.callAsync({
      url: request.url.href,
      method: request.method,
      headers: request.headers ?? {},
      body: request.body,
      timeout_ms: HTTP_TIMEOUT_MS,
      max_redirects: 0,
      max_body_bytes: HTTP_BODY_BYTES_MAX,
    }) as { status: number; headers: Record<string, string>; body: Uint8Array };
    return { status: answer.status, headers: answer.headers, body: new TextDecoder().decode(answer.body) };
  };
}

/** The `sql` tool's engine on the Zig `sqlite` module. */
export class ZigSqlEngine implements SqlEngine {
  readonly #module: OModule;
  readonly #handles = new Map<string, number>();

  constructor(module: OModule) {
    this.#module = module;
  }

  #open(path: string): number {
    let db = this.#handles.get(path);
    if (db === undefined) {
      db = (this.#module.call({ op: "open", path }) as { db: number }).db;
      this.#module.call({
        op: "exec",
        db,
        sql: `PRAGMA journal_mode=WAL; PRAGMA max_page_count=${SQL_DATABASE_PAGES_MAX}`,
      });
      this.#handles.set(path, db);
    }
    return db;
  }

  run(path: string, sql: string, params: unknown[]): SqlAnswer {
    try {
      return this.#module.call({ op: "query", db: this.#open(path), sql, params }) as SqlAnswer;
    } catch (e) {
      throw new ToolError("SQL_ERROR", `Cannot run SQL: ${e instanceof Error ? e.message : e}`);
    }
  }

  async close(): Promise<void> {
    for (const db of this.#handles.values()) this.#module.call({ op: "close", db });
    this.#handles.clear();
    await this.#module.close();
  }
}

/** Builds (cached) and opens the Zig tool engines. */
export async function openZigEngines(): Promise<{ http: HttpTransport; sql: ZigSqlEngine }> {
  await buildModules();
  const http = await openModule(libraryPath("http_client"));
  const sqlite = await openModule(libraryPath("sqlite"));
  return { http: zigHttpTransport(http), sql: new ZigSqlEngine(sqlite) };
}
