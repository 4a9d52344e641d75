import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert";
import { encode } from "../protocol/mod.ts";
import { type CheckpointMeta, decodeCheckpoint, encodeCheckpoint, verifyCheckpoint } from "./checkpoint.ts";
import { KeyRing } from "./key_ring.ts";
import type { VaultError } from "./errors.ts";
import { seededRandom } from "./_prng.ts";

function metaOf(kind: "full" | "incremental" = "full"): CheckpointMeta {
  return {
    agent: "counter",
    id: "0000000000000007-f-00000000",
    seq: 7,
    kind,
    base_id: kind === "full" ? null : "base",
    increments: kind === "full" ? 0 : 1,
    created_ms: 123,
    idempotency: [["k", 3, "1.0.0", { n: 1 }]],
    history: [{ seq: 7, input: { add: "a" }, output: 1, time_ms: 5 }],
  };
}

const SNAPSHOT = {
  state: { keys: ["a", "b"], nested: { n: 1.5, bin: new Uint8Array([1, 2]) } },
  memory: { m1: { id: "m1", content: "hi", tags: ["t"], created_ms: 1, accessed_ms: 2, bytes: 2 } },
};

Deno.test("encodeCheckpoint() round-trips a full checkpoint through decodeCheckpoint()", async () => {
  const { blob, rawBytes } = await encodeCheckpoint(metaOf(), encode(SNAPSHOT));
  ok(rawBytes > 0);
  const decoded = await decodeCheckpoint(blob);
  deepStrictEqual(decoded.meta, metaOf());
  deepStrictEqual(decoded.snapshot, SNAPSHOT);
  strictEqual((await decodeCheckpoint(blob, { skipSnapshot: true })).snapshot, undefined);
});

Deno.test("encodeCheckpoint() round-trips an incremental checkpoint's delta", async () => {
  const delta = [["s", ["state", "x"], 1], ["p", ["state", "keys"], ["c"]]];
  const { blob } = await encodeCheckpoint(metaOf("incremental"), encode(delta));
  deepStrictEqual((await decodeCheckpoint(blob)).delta, delta);
});

Deno.test("verifyCheckpoint() catches a flipped bit anywhere in the blob", async () => {
  const { blob } = await encodeCheckpoint(metaOf(), encode(SNAPSHOT));
  const random = seededRandom(9);
  for (let n = 0; n < 300; n++) {
    const bad = blob.slice();
    const at = random.int(bad.length);
    bad[at] ^= 1 << random.int(8);
    throws(() => verifyCheckpoint(bad), (e: VaultError) => e.code === "CHECKPOINT_CORRUPT", `byte ${at}`);
    await rejects(decodeCheckpoint(bad), (e: VaultError) => e.code === "CHECKPOINT_CORRUPT");
  }
  throws(() => verifyCheckpoint(blob.subarray(0, blob.length - 1)), /body of/);
  throws(() => verifyCheckpoint(new Uint8Array(5)), /shorter than a header/);
});

Deno.test("encodeCheckpoint() seals the body with the key ring and needs the key to decode", async () => {
  const keyRing = await KeyRing.fromKeys([new Uint8Array(32).fill(3)]);
  const secret = { state: { secret: "PLAINTEXT-MARKER" }, memory: {} };
  const { blob } = await encodeCheckpoint(metaOf(), encode(secret), keyRing);
  ok(!new TextDecoder("latin1").decode(blob).includes("PLAINTEXT-MARKER"));
  verifyCheckpoint(blob);
  deepStrictEqual((await decodeCheckpoint(blob, { keyRing })).snapshot, secret);
  await rejects(decodeCheckpoint(blob), (e: VaultError) => e.code === "VAULT_KEY_UNKNOWN");
  const other = await KeyRing.fromKeys([new Uint8Array(32).fill(4)]);
  await rejects(
    decodeCheckpoint(blob, { keyRing: other }),
    (e: VaultError) => e.code === "VAULT_KEY_UNKNOWN",
  );
});

Deno.test("encodeCheckpoint() round-trips a 10 MB snapshot", async () => {
  const items = Array.from({ length: 100_000 }, (_, i) => ({ id: i, text: `row ${i}`.padEnd(90, "-") }));
  const snapshot = { state: { items }, memory: {} };
  const payload = encode(snapshot);
  ok(payload.length > 10_000_000);
  const { blob } = await encodeCheckpoint(metaOf(), payload);
  ok(blob.length < payload.length / 5, `compressed to ${blob.length}`);
  deepStrictEqual((await decodeCheckpoint(blob)).snapshot, snapshot);
});
