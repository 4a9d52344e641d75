/**
 * The `http` tool: an HTTP request to an allow-listed host, with bounded time and answer size.
 *
 * @module
 */
import { ToolError } from "../../protocol/mod.ts";

/** Largest response body returned, in bytes; longer bodies fail the call. */
export const HTTP_BODY_BYTES_MAX = 1024 * 1024;
/** Wall-clock bound of one request. */
export const HTTP_TIMEOUT_MS = 10_000;
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]);

/** Arguments of `ctx.tools.http(url, options)`. */
export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What the tool answers. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A request already checked against the grant. */
export interface HttpRequest {
  url: URL;
  method: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Carries a checked request: `fetch` by default, or the Zig `http_client` module. */
export type HttpTransport = (request: HttpRequest) => Promise<HttpAnswer>;

/**
 * Performs the request when `url`'s host (`host` or `host:port`) is in `allowHosts`.
 *
 * @throws {ToolError} `TOOL_BAD_ARGS`, `HTTP_HOST_DENIED`, `HTTP_TIMEOUT`, `HTTP_TOO_LARGE`, `HTTP_FAILED`.
 */
export async function httpRequest(
  allowHosts: readonly string[],
  url: unknown,
  options: unknown,
  transport: HttpTransport = fetchTransport,
): Promise<HttpAnswer> {
  if (typeof url !== "string") throw new ToolError("TOOL_BAD_ARGS", "Cannot fetch: url must be a string");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ToolError("TOOL_BAD_ARGS", `Cannot fetch '${url.slice(0, 200)}': not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ToolError("TOOL_BAD_ARGS", `Cannot fetch: scheme ${parsed.protocol} is not http or https`);
  }
  if (!allowHosts.includes(parsed.host) && !allowHosts.includes(parsed.hostname)) {
    throw new ToolError("HTTP_HOST_DENIED", `Cannot fetch: host '${parsed.host}' is not allow-listed`);
  }
  const opts = (options ?? {}) as HttpOptions;
  const method = (opts.method ?? "GET").toUpperCase();
  if (!METHODS.has(method)) {
    throw new ToolError("TOOL_BAD_ARGS", `Cannot fetch: method ${method} is not allowed`);
  }
  try {
    return await transport({ url: parsed, method, headers: opts.headers, body: opts.body });
  } catch (e) {
    if (e instanceof ToolError) throw e;
    const timedOut = (e instanceof DOMException && e.name === "TimeoutError") ||
      /timeout/i.test(String((e as { code?: string }).code ?? ""));
    if (timedOut) {
      throw new ToolError(
        "HTTP_TIMEOUT",
        `Cannot fetch '${parsed.host}': no answer in ${HTTP_TIMEOUT_MS} ms`,
      );
    }
    throw new ToolError(
      "HTTP_FAILED",
      `Cannot fetch '${parsed.host}': ${e instanceof Error ? e.message : e}`,
    );
  }
}

/** The default transport: `fetch`, no redirects followed (each hop would need its own allow-list check). */
export async function fetchTransport(request: HttpRequest): Promise<HttpAnswer> {
  const res = await fetch(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    redirect: "manual",
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const body = await readBounded(res);
  return { status: res.status, headers: Object.fromEntries(res.headers), body };
}

async function readBounded(res: Response): Promise<string> {
  if (res.body === null) return "";
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of res.body) {
    bytes += chunk.length;
    if (bytes > HTTP_BODY_BYTES_MAX) {
      await res.body.cancel().catch(() => {});
      throw new ToolError("HTTP_TOO_LARGE", `Cannot fetch: body exceeds ${HTTP_BODY_BYTES_MAX} bytes`);
    }
    chunks.push(chunk);
  }
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) (all.set(c, at), at += c.length);
  return new TextDecoder().decode(all);
}
