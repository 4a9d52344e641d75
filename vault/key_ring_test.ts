import { deepStrictEqual, notStrictEqual, rejects, strictEqual, throws } from "node:assert";
import { createKeyFile, keyIdOf, KeyRing, loadKeyRing, parseKeyFile } from "./key_ring.ts";
import { VaultKeyError } from "./errors.ts";

Deno.test("parseKeyFile() reads raw, hex and base64 keys, newest first", () => {
  const a = new Uint8Array(32).fill(1);
  const b = new Uint8Array(32).fill(2);
  deepStrictEqual(parseKeyFile(a), [a]);
  const hex = [...a].map((x) => x.toString(16).padStart(2, "0")).join("");
  const b64 = btoa(String.fromCharCode(...b));
  deepStrictEqual(parseKeyFile(new TextEncoder().encode(`# keys\n${hex}\n\n${b64}\n`)), [a, b]);
  throws(
    () => parseKeyFile(new TextEncoder().encode("nope\n")),
    (e: VaultKeyError) => e.code === "VAULT_KEY_INVALID",
  );
});

Deno.test("KeyRing.seal() and open() round-trip and find old keys by id", async () => {
  const oldKey = new Uint8Array(32).fill(7);
  const newKey = new Uint8Array(32).fill(9);
  const before = await KeyRing.fromKeys([oldKey]);
  const sealed = await before.seal(new TextEncoder().encode("secret"));
  strictEqual(sealed.kid, await keyIdOf(oldKey));
  const after = await KeyRing.fromKeys([newKey, oldKey]);
  strictEqual(after.currentId, await keyIdOf(newKey));
  deepStrictEqual(new TextDecoder().decode(await after.open(sealed)), "secret");
  const only = await KeyRing.fromKeys([newKey]);
  await rejects(only.open(sealed), (e: VaultKeyError) => e.code === "VAULT_KEY_UNKNOWN");
  sealed.ct[0] ^= 1;
  await rejects(after.open(sealed), (e: VaultKeyError) => e.code === "VAULT_KEY_INVALID");
});

Deno.test("loadKeyRing() refuses a key file readable by others", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/key`;
  const id = await createKeyFile(path);
  strictEqual((await Deno.stat(path)).mode! & 0o777, 0o600);
  strictEqual((await loadKeyRing(path)).currentId, id);
  await Deno.chmod(path, 0o644);
  await rejects(loadKeyRing(path), (e: VaultKeyError) => e.code === "VAULT_KEY_INSECURE");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("createKeyFile() with rotate puts a new key first and keeps the old one", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/key`;
  const first = await createKeyFile(path);
  const second = await createKeyFile(path, { rotate: true });
  notStrictEqual(first, second);
  deepStrictEqual((await loadKeyRing(path)).ids, [second, first]);
  await Deno.remove(dir, { recursive: true });
});
