// @ts-check
/// <reference lib="dom" />
/**
 * The page's only way to the server: same-origin requests to O's JSON API, with the bearer token (kept in
 * sessionStorage, so it lives as long as the tab) on every request once one is set.
 *
 * @module
 */

const TOKEN_KEY = "o.token";
/** A request that takes longer is abandoned, so a hung server cannot pile up polls. */
const REQUEST_TIMEOUT_MS = 8000;

/** An answer that is not 2xx, with O's error code and message when the body has them. */
export class ApiError extends Error {
  /**
   * @param {number} status 0 when the server could not be reached.
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** @returns {string | null} */
export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** @param {string | null} token */
export function setToken(token) {
  if (token === null || token === "") sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/**
 * GETs a path of this origin.
 *
 * @param {string} path Starts with `/`.
 * @returns {Promise<Response>}
 * @throws {ApiError} On a network failure, a timeout or a non-2xx answer.
 */
async function get(path) {
  if (!path.startsWith("/")) throw new TypeError(`Cannot fetch: the path must start with '/': ${path}`);
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json, text/plain" };
  const token = getToken();
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      headers,
      cache: "no-store",
      credentials: "omit",
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (e) {
    throw new ApiError(0, "UNREACHABLE", `Cannot reach the server: ${e instanceof Error ? e.message : e}`);
  }
  if (res.ok) return res;
  let code = `HTTP_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (typeof body?.error?.code === "string") code = body.error.code;
    if (typeof body?.error?.message === "string") message = body.error.message;
  } catch { /* Not O's JSON error: keep the status line. */ }
  throw new ApiError(res.status, code, message);
}

/**
 * @param {string} path
 * @returns {Promise<any>} The parsed JSON body.
 */
export async function getJson(path) {
  const res = await get(path);
  try {
    return await res.json();
  } catch (e) {
    throw new ApiError(res.status, "BAD_JSON", `Cannot parse ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

/**
 * @param {string} path
 * @returns {Promise<string>}
 */
export async function getText(path) {
  return await (await get(path)).text();
}

/**
 * The API path of an agent's sub-resource, with the name escaped.
 *
 * @param {string} agent
 * @param {string} what `candidates`, `lineage`, `evolution`, …
 * @returns {string}
 */
export function agentPath(agent, what) {
  return `/v1/agents/${encodeURIComponent(agent)}/${what}`;
}
