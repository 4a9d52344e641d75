/**
 * Encryption at rest through the server: with a key from `main.ts key create`, no state string appears in
 * plain text under data/wal or data/checkpoints, and the state survives a restart (read back with the
 * key); rotating the key keeps old records readable.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { post, ROOT, startServer } from "./_server.ts";

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, out: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
}

async function grep(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) hits.push(...await grep(path, needle));
    else if (e.isFile && new TextDecoder("latin1").decode(await Deno.readFile(path)).includes(needle)) {
      hits.push(path);
    }
  }
  return hits;
}

Deno.test("with an at-rest key no state string is in plain text on disk, and state survives restart and rotation", async () => {
  const data = await Deno.makeTempDir({ prefix: "o-enc-" });
  const key = join(data, "keys", "at-rest.key");
  await Deno.mkdir(join(data, "keys"), { recursive: true });
  strictEqual((await run("key", "create", key)).code, 0);
  strictEqual((await Deno.stat(key)).mode! & 0o777, 0o600);
  strictEqual((await run("key", "create", key)).code, 1, "an existing key is never overwritten");
  const secret = "PLAINTEXT-CANARY-4f1c9a";
  const args = ["--encryption-key-file", key, "--checkpoint-every-records", "5"];
  const first = await startServer({ data, args });
  try {
    for (let i = 0; i < 12; i++) {
      strictEqual(
        (await post(`${first.url}/v1/agents/counter/invoke`, { input: { add: `${secret}-${i}` } })).status,
        200,
      );
    }
    // The supervisor checkpoints on its own every 5 records (checked once a second).
    for (
      let i = 0;
      i < 40 && (await Array.fromAsync(Deno.readDir(join(data, "checkpoints")))).length === 0;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    ok((await Array.fromAsync(Deno.readDir(join(data, "checkpoints")))).length > 0, "automatic checkpoints");
    strictEqual((await post(`${first.url}/v1/agents/counter/checkpoint`, {})).status, 200);
  } finally {
    await first.stop();
  }
  deepStrictEqual(await grep(join(data, "wal"), secret), [], "WAL segments hold no plain state");
  deepStrictEqual(await grep(join(data, "checkpoints"), secret), [], "checkpoint files hold no plain state");
  const out = await run("key", "create", key, "--rotate");
  strictEqual(out.code, 0, out.out);
  const second = await startServer({ data, args });
  try {
    strictEqual(
      (await post(`${second.url}/v1/agents/counter/invoke`, { input: { add: "after-rotation" } })).status,
      200,
    );
    const state = await (await fetch(`${second.url}/v1/agents/counter/state`)).json();
    strictEqual(state.state.keys.length, 13);
    strictEqual(state.state.keys[0], `${secret}-0`);
  } finally {
    await second.stop();
  }
  await Deno.remove(data, { recursive: true });
});
