/**
 * Bearer-token auth end to end: tokens made by `main.ts token` while the server runs work at once, are
 * checked on every /v1 route, expire, are revoked, and are never stored in plain text.
 */
import { ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { post, ROOT, startServer } from "./_server.ts";

async function token(data: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "token", ...args, "--data", data],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, out: new TextDecoder().decode(out.stdout).trim() };
}

async function filesContain(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const bytes = new TextEncoder().encode(needle);
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) hits.push(...await filesContain(path, needle));
    else if (entry.isFile) {
      const data = await Deno.readFile(path);
      outer: for (let i = 0; i + bytes.length <= data.length; i++) {
        for (let j = 0; j < bytes.length; j++) if (data[i + j] !== bytes[j]) continue outer;
        hits.push(path);
        break;
      }
    }
  }
  return hits;
}

Deno.test("tokens: 401 without, 401 wrong/expired/revoked, 403 wrong scope, 200 right; stored hashed", async () => {
  const server = await startServer();
  const invoke = `${server.url}/v1/agents/counter/invoke`;
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });
  try {
    strictEqual((await post(invoke, { input: { add: "open" } })).status, 200, "no token exists yet: open");
    const created = await token(server.data, "create", "--name", "ci", "--scopes", "invoke,read", "--json");
    strictEqual(created.code, 0);
    const { token: secret, scopes } = JSON.parse(created.out);
    ok(secret.startsWith("o_") && secret.length > 40);
    strictEqual(scopes.join(","), "invoke,read");

    strictEqual((await post(invoke, { input: { add: "x" } })).status, 401, "no header");
    strictEqual((await post(invoke, { input: { add: "x" } }, auth("o_wrong"))).status, 401, "wrong token");
    strictEqual((await post(`${server.url}/v1/nothing`, {})).status, 401, "unknown /v1 path without token");
    strictEqual((await post(invoke, { input: { add: "x" } }, auth(secret))).status, 200, "right token");
    const admin = await post(`${server.url}/v1/agents/counter/checkpoint`, {}, auth(secret));
    strictEqual(admin.status, 403, "invoke-scoped token on an admin route");
    strictEqual((await fetch(`${server.url}/health`)).status, 200, "health stays open");

    const short = JSON.parse(
      (await token(server.data, "create", "--name", "short", "--expires-in", "1s", "--json")).out,
    );
    strictEqual((await post(invoke, { input: { add: "y" } }, auth(short.token))).status, 200);
    await new Promise((r) => setTimeout(r, 1100));
    strictEqual((await post(invoke, { input: { add: "y" } }, auth(short.token))).status, 401, "expired");

    strictEqual((await token(server.data, "revoke", "ci")).code, 0);
    await new Promise((r) => setTimeout(r, 1100));
    strictEqual((await post(invoke, { input: { add: "z" } }, auth(secret))).status, 401, "revoked");

    const list = JSON.parse((await token(server.data, "list", "--json")).out);
    strictEqual(list.find((t: { name: string }) => t.name === "ci").revoked, true);
    const leaks = await filesContain(server.data, secret.slice(2));
    strictEqual(leaks.length, 0, `token found in plain text in ${leaks}`);
  } finally {
    await server.stop();
  }
});
