/**
 * Bearer tokens: creation, hashed storage, scopes, expiry, revocation, and the check every `/v1` route
 * runs. Tokens are 256-bit random strings; only their SHA-256 is stored (a fast hash is enough for a
 * secret with that much entropy), and comparison is constant-time.
 *
 * @module
 */
import { SupervisorError } from "./errors.ts";

/** The kv namespace tokens are stored under. */
export const TOKEN_NAMESPACE = "tokens";
/** How long the server trusts its cached token list before reading the store again. */
export const TOKEN_CACHE_MS = 1_000;
/** After an unknown token, the earliest the store is read again (so floods of bad tokens cost little). */
export const TOKEN_MISS_REFRESH_MS = 100;
/** Most tokens a store holds. */
export const TOKENS_MAX = 10_000;

/** What a token may do. */
export type Scope = "read" | "invoke" | "submit" | "admin";
/** Every scope, in order of power. */
export const SCOPES: readonly Scope[] = ["read", "invoke", "submit", "admin"];

/** A stored token (never the token itself). */
export interface TokenRecord {
  name: string;
  hash: string;
  scopes: Scope[];
  created_ms: number;
  expires_ms: number | null;
  revoked_ms: number | null;
}

/** Where tokens live: the vault's key-value table. */
export interface TokenStore {
  kvPut(namespace: string, key: string, value: unknown): Promise<void>;
  kvGet(namespace: string, key: string): Promise<unknown>;
  kvList(namespace: string, options?: { limit?: number }): Promise<{ key: string; value: unknown }[]>;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares two equal-length strings in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Parses a duration like `30d`, `12h`, `15m`, `90s`.
 *
 * @returns Milliseconds.
 * @throws {TypeError} For anything else.
 */
export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (m === null) {
    throw new TypeError(`Cannot parse duration '${text}': use a number and s, m, h or d (e.g. 30d)`);
  }
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}

/** Parses a comma-separated scope list. @throws {TypeError} On an unknown scope. */
export function parseScopes(text: string): Scope[] {
  const scopes = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of scopes) {
    if (!SCOPES.includes(s as Scope)) {
      throw new TypeError(`Cannot use scope '${s}': known scopes are ${SCOPES.join(", ")}`);
    }
  }
  if (scopes.length === 0) throw new TypeError("Cannot create a token without a scope");
  return [...new Set(scopes)] as Scope[];
}

/**
 * Creates a token and stores its hash.
 *
 * @returns The token (shown once) and its record.
 * @throws {TypeError} When the name is taken or malformed.
 */
export async function createToken(
  store: TokenStore,
  options: { name: string; scopes: Scope[]; expiresInMs?: number; now?: number },
): Promise<{ token: string; record: TokenRecord }> {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.name)) {
    throw new TypeError(
      `Cannot create token: name must be 1..64 chars of [A-Za-z0-9._-]: current value is ${options.name}`,
    );
  }
  const existing = await store.kvGet(TOKEN_NAMESPACE, options.name) as TokenRecord | undefined;
  if (existing && existing.revoked_ms === null) {
    throw new TypeError(`Cannot create token: '${options.name}' exists`);
  }
  if ((await store.kvList(TOKEN_NAMESPACE)).length >= TOKENS_MAX) {
    throw new TypeError(`Cannot create token: ${TOKENS_MAX} tokens exist`);
  }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = "o_" +
    btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const now = options.now ?? Date.now();
  const record: TokenRecord = {
    name: options.name,
    hash: await sha256Hex(token),
    scopes: options.scopes,
    created_ms: now,
    expires_ms: options.expiresInMs === undefined ? null : now + options.expiresInMs,
    revoked_ms: null,
  };
  await store.kvPut(TOKEN_NAMESPACE, options.name, record);
  return { token, record };
}

/** Revokes a token by name. @returns Whether it existed and was live. */
export async function revokeToken(store: TokenStore, name: string, now = Date.now()): Promise<boolean> {
  const record = await store.kvGet(TOKEN_NAMESPACE, name) as TokenRecord | undefined;
  if (record === undefined || record === null || record.revoked_ms !== null) return false;
  await store.kvPut(TOKEN_NAMESPACE, name, { ...record, revoked_ms: now });
  return true;
}

/** Every stored token record. */
export async function listTokens(store: TokenStore): Promise<TokenRecord[]> {
  return (await store.kvList(TOKEN_NAMESPACE)).map((e) => e.value as TokenRecord);
}

/** The file whose existence tells a server on this data directory that tokens exist. */
export function authMarkerPath(dataDir: string): string {
  return `${dataDir}/keys/tokens.enabled`;
}

/** Who a request is, once authenticated. */
export interface Principal {
  name: string;
  scopes: Scope[];
}

/** The server side: caches the token list and checks bearer headers against it. */
export class Authenticator {
  readonly #store: TokenStore;
  readonly #requireAuth: boolean;
  readonly #now: () => number;
  #records: TokenRecord[] = [];
  #loadedAt = -Infinity;
  readonly #marker: string | undefined;
  #markerSeen = false;
  #missAt = -Infinity;

  /**
   * @param store Where tokens are kept.
   * @param options `requireAuth`; `marker`: the file `token create` writes (see {@link authMarkerPath}).
   */
  constructor(store: TokenStore, options: { requireAuth: boolean; marker?: string; now?: () => number }) {
    this.#store = store;
    this.#requireAuth = options.requireAuth;
    this.#marker = options.marker;
    this.#now = options.now ?? Date.now;
  }

  async #refresh(): Promise<void> {
    this.#records = await listTokens(this.#store);
    this.#loadedAt = this.#now();
  }

  /**
   * Whether auth is on: `--require-auth`, or any token was ever created (revoked ones count, so auth never
   * switches off again). While it is off, every call asks the store, so the first token locks the API at
   * once, not after a cache period.
   */
  async enabled(): Promise<boolean> {
    if (this.#requireAuth || this.#records.length > 0) return true;
    // Asking the store on every request would cost a query each: `token create` writes a marker file
    // beside the data, which a file watcher reports at once (see `watchMarker`), and the store is read at
    // least once a second anyway (for tokens made on another node of a shared vault).
    if (this.#now() - this.#loadedAt > TOKEN_CACHE_MS || this.#markerSeen) {
      this.#markerSeen = false;
      await this.#refresh();
    }
    return this.#records.length > 0;
  }

  /**
   * Watches for the marker file `token create` writes, so the first token locks the API at once.
   *
   * @returns A function that stops watching.
   */
  watchMarker(): () => void {
    if (this.#marker === undefined) return () => {};
    const marker = this.#marker;
    const dir = marker.slice(0, marker.lastIndexOf("/"));
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const watcher = Deno.watchFs(dir, { recursive: false });
    (async () => {
      for await (const event of watcher) if (event.paths.includes(marker)) this.#markerSeen = true;
    })().catch(() => {});
    try {
      Deno.statSync(marker);
      this.#markerSeen = true;
    } catch { /* no token yet */ }
    return () => watcher.close();
  }

  /**
   * Checks an `Authorization` header for a scope (`null`: any valid token).
   *
   * @returns The principal, or `null` when auth is off.
   * @throws {SupervisorError} `UNAUTHORIZED` (missing, unknown, expired, revoked) or `FORBIDDEN` (scope).
   */
  async check(header: string | null, scope: Scope | null): Promise<Principal | null> {
    if (!await this.enabled()) return null;
    if (this.#now() - this.#loadedAt > TOKEN_CACHE_MS) await this.#refresh();
    const m = header === null ? null : /^Bearer\s+(\S+)$/i.exec(header);
    if (m === null) {
      throw new SupervisorError("UNAUTHORIZED", "Cannot serve /v1 without 'Authorization: Bearer <token>'");
    }
    const hash = await sha256Hex(m[1]);
    let record = this.#find(hash);
    if (record === undefined && this.#now() - this.#missAt > TOKEN_MISS_REFRESH_MS) {
      this.#missAt = this.#now();
      await this.#refresh(); // A token created a moment ago works at once.
      record = this.#find(hash);
    }
    const now = this.#now();
    if (record === undefined) throw new SupervisorError("UNAUTHORIZED", "Cannot authenticate: unknown token");
    if (record.revoked_ms !== null) {
      throw new SupervisorError("UNAUTHORIZED", `Cannot authenticate: token '${record.name}' is revoked`);
    }
    if (record.expires_ms !== null && record.expires_ms <= now) {
      throw new SupervisorError("UNAUTHORIZED", `Cannot authenticate: token '${record.name}' expired`);
    }
    if (scope !== null && !record.scopes.includes(scope) && !record.scopes.includes("admin")) {
      throw new SupervisorError("FORBIDDEN", `Cannot serve: token '${record.name}' lacks scope '${scope}'`);
    }
    return { name: record.name, scopes: record.scopes };
  }

  #find(hash: string): TokenRecord | undefined {
    let found: TokenRecord | undefined;
    for (const r of this.#records) if (constantTimeEqual(r.hash, hash)) found = r;
    return found;
  }
}
