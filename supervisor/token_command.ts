/**
 * `main.ts token create|list|revoke`: manages API tokens in the vault. A running server sees a new token
 * at once (it reads the store again on an unknown token) and a revocation within `TOKEN_CACHE_MS`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { openBackend } from "../vault/mod.ts";
import {
  authMarkerPath,
  createToken,
  listTokens,
  parseDuration,
  parseScopes,
  revokeToken,
  type TokenStore,
} from "./auth.ts";

/** Usage of `main.ts token`. */
export const TOKEN_USAGE = `Usage:
  main.ts token create --name NAME [--scopes read,invoke,submit,admin] [--expires-in 30d] [--json]
  main.ts token list [--json]
  main.ts token revoke NAME

Manages bearer tokens for the HTTP API. Only a hash of each token is stored; 'create' prints the token
once (alone on a line, or as {"name","token","scopes","expires_at"} with --json).

Options (every subcommand):
  --data DIR      data directory (default ./data)
  --vault URL     sqlite: (default) or postgres://…[?schema=NAME]
  --scopes LIST   comma-separated: read, invoke, submit, admin (default read,invoke)
  --expires-in D  lifetime like 90s, 15m, 12h, 30d (default: never)
  --json          machine-readable output
  -h, --help      show this help`;

/** `main.ts token`. @returns The exit code. */
export async function tokenCommand(args: string[]): Promise<number> {
  const parsed = parseTokenArgs(args);
  if (typeof parsed === "number") return parsed;
  const { values, positionals: [sub, ...rest] } = parsed;
  if (sub !== "create" && sub !== "list" && sub !== "revoke") {
    console.error(`token: unknown subcommand '${sub ?? ""}'\n\n${TOKEN_USAGE}`);
    return 2;
  }
  const data = resolve(values.data ?? "data");
  await Deno.mkdir(data, { recursive: true });
  const store = await openBackend(values.vault ?? "sqlite:", data);
  try {
    if (sub === "create") return await create(store, data, values);
    if (sub === "list") return await list(store, values.json === true);
    return await revoke(store, rest[0] ?? values.name);
  } catch (e) {
    console.error(`token: ${e instanceof Error ? e.message : e}`);
    return e instanceof TypeError ? 2 : 1;
  } finally {
    await store.close();
  }
}

interface TokenFlags {
  name?: string;
  scopes?: string;
  "expires-in"?: string;
  json?: boolean;
  data?: string;
  vault?: string;
}

function parseTokenArgs(args: string[]): { values: TokenFlags; positionals: string[] } | number {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: "string" },
        scopes: { type: "string" },
        "expires-in": { type: "string" },
        json: { type: "boolean" },
        data: { type: "string" },
        vault: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(TOKEN_USAGE);
      return 0;
    }
    return { values, positionals };
  } catch (e) {
    console.error(`token: ${e instanceof Error ? e.message : e}\n\n${TOKEN_USAGE}`);
    return 2;
  }
}

async function create(store: TokenStore, data: string, values: TokenFlags): Promise<number> {
  if (values.name === undefined) throw new TypeError("Cannot create token: --name is required");
  const scopes = parseScopes(values.scopes ?? "read,invoke");
  const expiresInMs = values["expires-in"] ? parseDuration(values["expires-in"]) : undefined;
  const { token, record } = await createToken(store, { name: values.name, scopes, expiresInMs });
  // Tells a server on this data directory at once that auth is on (see Authenticator.watchMarker).
  await Deno.mkdir(`${data}/keys`, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(authMarkerPath(data), `${record.name}\n`, { mode: 0o600 });
  const expires_at = record.expires_ms === null ? null : new Date(record.expires_ms).toISOString();
  console.log(values.json ? JSON.stringify({ name: record.name, token, scopes, expires_at }) : token);
  return 0;
}

async function list(store: TokenStore, json: boolean): Promise<number> {
  const rows = (await listTokens(store)).map((r) => ({
    name: r.name,
    scopes: r.scopes,
    created_at: new Date(r.created_ms).toISOString(),
    expires_at: r.expires_ms === null ? null : new Date(r.expires_ms).toISOString(),
    revoked: r.revoked_ms !== null,
  }));
  if (json) console.log(JSON.stringify(rows));
  for (const r of json ? [] : rows) {
    console.log(
      `${r.name}\t${r.scopes.join(",")}\t${r.expires_at ?? "never"}\t${r.revoked ? "revoked" : "live"}`,
    );
  }
  return 0;
}

async function revoke(store: TokenStore, name: string | undefined): Promise<number> {
  if (name === undefined) throw new TypeError("Cannot revoke: give the token's name");
  if (!await revokeToken(store, name)) {
    console.error(`token: no live token named '${name}'`);
    return 1;
  }
  console.log(`revoked ${name}`);
  return 0;
}
