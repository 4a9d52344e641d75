import { deepStrictEqual, notStrictEqual, ok, rejects, strictEqual } from "node:assert";
import type { DeltaOp, Snapshot } from "../protocol/mod.ts";
import { openVault, type OpenVaultOptions, type Vault } from "./vault.ts";
import type { WalEntry } from "./types.ts";
import type { VaultError } from "./errors.ts";
import { createKeyFile } from "./key_ring.ts";
import { agentDirName } from "./checkpoint_store.ts";
import { HISTORY_ENTRIES_MAX } from "./limits.ts";

/** A counter agent's change: push `key` onto state.keys. */
function entry(agent: string, key: string, idem?: string): WalEntry {
  const delta: DeltaOp[] = [["p", ["state", "keys"], [key]]];
  return {
    agent,
    version: "1.0.0",
    delta,
    output: { added: key },
    idempotency_key: idem,
    request_id: `req-${key}`,
    input: { add: key },
    time_ms: 1_700_000_000_000,
  };
}

const INIT: WalEntry = {
  agent: "counter",
  version: "1.0.0",
  delta: [["s", ["state", "keys"], []]],
  output: null,
  request_id: "init",
  input: null,
  time_ms: 1,
};

async function withVault(
  options: Partial<OpenVaultOptions>,
  body: (open: () => Promise<Vault>, dataDir: string) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir();
  try {
    await body(() => openVault({ dataDir, ...options }), dataDir);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

function keysOf(snapshot: Snapshot): string[] {
  return snapshot.state.keys as string[];
}

Deno.test("Vault.recoverAgent() gives an empty snapshot and seq 0 for an unknown agent", async () => {
  await withVault({}, async (open) => {
    const vault = await open();
    deepStrictEqual(await vault.recoverAgent("nobody"), {
      snapshot: { state: {}, memory: {} },
      seq: 0,
      history: [],
    });
    await vault.close();
  });
});

Deno.test("Vault.append() gives global seqs from 1 and recoverAgent() replays them after a reopen", async () => {
  await withVault({}, async (open) => {
    const vault = await open();
    strictEqual((await vault.append(INIT)).seq, 1);
    const seqs = await Promise.all(["a", "b", "c"].map((k) => vault.append(entry("counter", k))));
    deepStrictEqual(seqs.map((s) => s.seq), [2, 3, 4]);
    await vault.append({ ...INIT, agent: "other" });
    await vault.close();
    const again = await open();
    const recovered = await again.recoverAgent("counter");
    deepStrictEqual(keysOf(recovered.snapshot), ["a", "b", "c"]);
    strictEqual(recovered.seq, 4);
    deepStrictEqual(recovered.history.map((h) => h.seq), [1, 2, 3, 4]);
    deepStrictEqual(recovered.history[1], {
      seq: 2,
      input: { add: "a" },
      output: { added: "a" },
      time_ms: 1_700_000_000_000,
    });
    strictEqual((await again.append(entry("counter", "d"))).seq, 6);
    await again.close();
  });
});

Deno.test("Vault.append() rejects malformed entries with VAULT_ENTRY_INVALID", async () => {
  await withVault({}, async (open) => {
    const vault = await open();
    const bad = [
      { ...INIT, agent: "" },
      { ...INIT, delta: [["x", []]] as unknown as DeltaOp[] },
      { ...INIT, idempotency_key: "k".repeat(300) },
      { ...INIT, time_ms: NaN },
      { ...INIT, output: () => 1 },
    ];
    for (const e of bad) {
      await rejects(vault.append(e), (err: VaultError) => err.code === "VAULT_ENTRY_INVALID");
    }
    await vault.close();
  });
});

Deno.test("Vault.findIdempotent() answers the first result across checkpoints, segment deletion and reopen", async () => {
  await withVault({ wal: { segmentBytesMax: 4096 } }, async (open) => {
    const vault = await open();
    await vault.append(INIT);
    const first = await vault.append(entry("counter", "k0", "idem-0"));
    await vault.append({ ...entry("counter", "dup", "idem-0"), output: "second answer" });
    strictEqual(vault.findIdempotent("counter", "idem-0")?.seq, first.seq);
    let last = first.seq;
    for (let i = 1; i < 200; i++) last = (await vault.append(entry("counter", `k${i}`, `idem-${i}`))).seq;
    const state = await vault.recoverAgent("counter");
    await vault.checkpoint("counter", state.snapshot, state.seq);
    for (let i = 200; i < 300; i++) last = (await vault.append(entry("counter", `k${i}`, `idem-${i}`))).seq;
    const later = await vault.recoverAgent("counter");
    await vault.checkpoint("counter", later.snapshot, later.seq);
    ok(Number(await vault.kvGet("_vault.pruned", "counter")) > 0, "old segments were deleted");
    ok(vault.stats().wal.segments < 10, `${vault.stats().wal.segments} segments left`);
    await vault.close();
    const again = await open();
    deepStrictEqual(again.findIdempotent("counter", "idem-0"), {
      seq: first.seq,
      output: { added: "k0" },
      version: "1.0.0",
    });
    strictEqual(again.findIdempotent("counter", "idem-299")?.seq, last);
    strictEqual(again.findIdempotent("counter", "idem-300"), undefined);
    strictEqual(again.findIdempotent("other", "idem-0"), undefined);
    strictEqual(keysOf((await again.recoverAgent("counter")).snapshot).length, 301);
    await again.close();
  });
});

Deno.test("Vault keeps at most idempotencyKeysMax keys per agent, dropping the oldest", async () => {
  await withVault({ idempotencyKeysMax: 3 }, async (open) => {
    const vault = await open();
    await vault.append(INIT);
    for (let i = 0; i < 5; i++) await vault.append(entry("counter", `k${i}`, `idem-${i}`));
    strictEqual(vault.findIdempotent("counter", "idem-1"), undefined);
    ok(vault.findIdempotent("counter", "idem-2"));
    ok(vault.findIdempotent("counter", "idem-4"));
    await vault.close();
  });
});

Deno.test("Vault.recoverAgent() keeps the last HISTORY_ENTRIES_MAX transitions across a checkpoint", async () => {
  await withVault({}, async (open) => {
    const vault = await open();
    await vault.append(INIT);
    for (let i = 0; i < 50; i++) await vault.append(entry("counter", `k${i}`));
    const mid = await vault.recoverAgent("counter");
    await vault.checkpoint("counter", mid.snapshot, mid.seq);
    for (let i = 50; i < 55; i++) await vault.append(entry("counter", `k${i}`));
    await vault.close();
    const again = await open();
    const { history, seq } = await again.recoverAgent("counter");
    strictEqual(history.length, HISTORY_ENTRIES_MAX);
    strictEqual(history.at(-1)!.seq, seq);
    deepStrictEqual(history.map((h) => h.seq), Array.from({ length: 32 }, (_, i) => seq - 31 + i));
    await again.close();
  });
});

Deno.test("Vault.checkpoint() writes incrementals and compacts to a full one every checkpointIncrementsMax", async () => {
  await withVault({ checkpointIncrementsMax: 2 }, async (open, dataDir) => {
    const vault = await open();
    await vault.append(INIT);
    const big = "x".repeat(20_000);
    await vault.append({ ...INIT, delta: [["s", ["state", "blob"], big]], request_id: "big" });
    const ids: string[] = [];
    for (let round = 0; round < 5; round++) {
      await vault.append(entry("counter", `r${round}`));
      const { snapshot, seq } = await vault.recoverAgent("counter");
      ids.push((await vault.checkpoint("counter", snapshot, seq)).checkpoint_id);
    }
    deepStrictEqual(ids.map((id) => id.split("-")[1]), ["f", "i", "i", "f", "i"]);
    const files = (await Array.fromAsync(Deno.readDir(`${dataDir}/checkpoints/counter`))).map((e) => e.name);
    ok(files.length <= 5, `retention kept ${files.length} files`);
    await vault.close();
    const again = await open();
    const { snapshot } = await again.recoverAgent("counter");
    deepStrictEqual(keysOf(snapshot), ["r0", "r1", "r2", "r3", "r4"]);
    strictEqual(snapshot.state.blob, big);
    await again.close();
  });
});

async function corruptCheckpoint(vault: Vault, dataDir: string, agent: string, id: string): Promise<void> {
  const blob = (await vault.backend.getCheckpoint(agent, id))!;
  const bad = blob.slice();
  bad[bad.length - 3] ^= 0x10;
  const listed = (await vault.backend.listCheckpoints(agent)).find((c) => c.id === id)!;
  await vault.backend.putCheckpoint({ ...listed, blob: bad });
  await Deno.writeFile(`${dataDir}/checkpoints/${await agentDirName(agent)}/${id}.ckpt`, bad);
}

Deno.test("Vault.recoverAgent() falls back to an older checkpoint when the newest is corrupt in both copies", async () => {
  await withVault({ checkpointIncrementsMax: 0 }, async (open, dataDir) => {
    const vault = await open();
    await vault.append(INIT);
    await vault.append(entry("counter", "a"));
    const one = await vault.recoverAgent("counter");
    await vault.checkpoint("counter", one.snapshot, one.seq);
    await vault.append(entry("counter", "b"));
    const two = await vault.recoverAgent("counter");
    const newest = await vault.checkpoint("counter", two.snapshot, two.seq);
    await vault.append(entry("counter", "c"));
    await corruptCheckpoint(vault, dataDir, "counter", newest.checkpoint_id);
    deepStrictEqual(keysOf((await vault.recoverAgent("counter")).snapshot), ["a", "b", "c"]);
    await vault.close();
    const again = await open();
    deepStrictEqual(again.openReport.skippedCheckpoints.counter.map((s) => s.id), [newest.checkpoint_id]);
    ok(again.openReport.skippedCheckpoints.counter[0].reason.includes("checksum"));
    deepStrictEqual(keysOf((await again.recoverAgent("counter")).snapshot), ["a", "b", "c"]);
    await again.close();
  });
});

Deno.test("Vault.recoverAgent() uses the file copy when only the backend copy is corrupt", async () => {
  await withVault({}, async (open) => {
    const vault = await open();
    await vault.append(INIT);
    await vault.append(entry("counter", "a"));
    const state = await vault.recoverAgent("counter");
    const info = await vault.checkpoint("counter", state.snapshot, state.seq);
    const listed = (await vault.backend.listCheckpoints("counter"))[0];
    const bad = (await vault.backend.getCheckpoint("counter", info.checkpoint_id))!.slice();
    bad[25] ^= 1;
    await vault.backend.putCheckpoint({ ...listed, blob: bad });
    await vault.close();
    const again = await open();
    strictEqual(again.openReport.skippedCheckpoints.counter, undefined);
    deepStrictEqual(keysOf((await again.recoverAgent("counter")).snapshot), ["a"]);
    await again.close();
  });
});

Deno.test("Vault round-trips a 10 MB checkpoint", async () => {
  await withVault({}, async (open) => {
    const vault = await open();
    const items = Array.from(
      { length: 40_000 },
      (_, i) => ({ id: i, text: `item ${i} ${"lorem ipsum ".repeat(20)}` }),
    );
    const snapshot: Snapshot = { state: { items }, memory: {} };
    // The snapshot stands for many earlier changes; one small record is enough to give it a seq.
    await vault.append(INIT);
    const info = await vault.checkpoint("counter", snapshot, 1);
    ok(info.bytes > 0 && info.bytes < 10_000_000);
    await vault.close();
    const again = await open();
    const recovered = await again.recoverAgent("counter");
    strictEqual((recovered.snapshot.state.items as unknown[]).length, 40_000);
    deepStrictEqual(recovered.snapshot, snapshot);
    await again.close();
  });
});

Deno.test("Vault.checkpoint() rejects a seq beyond the WAL or older than the newest checkpoint", async () => {
  await withVault({}, async (open) => {
    const vault = await open();
    await vault.append(INIT);
    await vault.append(entry("counter", "a"));
    const empty: Snapshot = { state: {}, memory: {} };
    await rejects(vault.checkpoint("counter", empty, 3), (e: VaultError) => e.code === "CHECKPOINT_STALE");
    await vault.checkpoint("counter", { state: { keys: ["a"] }, memory: {} }, 2);
    await rejects(vault.checkpoint("counter", empty, 1), (e: VaultError) => e.code === "CHECKPOINT_STALE");
    await rejects(
      vault.checkpoint("counter", { state: [] } as unknown as Snapshot, 2),
      (e: VaultError) => e.code === "VAULT_ENTRY_INVALID",
    );
    await vault.close();
  });
});

Deno.test("Vault encrypts WAL payloads and checkpoints: no plaintext on disk", async () => {
  await withVault({}, async (_open, dataDir) => {
    const keyFile = `${dataDir}/key`;
    await createKeyFile(keyFile);
    const vault = await openVault({ dataDir, encryptionKeyFile: keyFile });
    const secret = "TOP-SECRET-STATE-STRING";
    await vault.append({
      ...INIT,
      delta: [["s", ["state", "secret"], secret]],
      output: secret,
      input: secret,
    });
    await vault.checkpoint("counter", { state: { secret }, memory: {} }, 1);
    await vault.append({ ...entry("counter", secret), delta: [["s", ["state", "again"], secret]] });
    await vault.close();
    for (const dir of ["wal", "checkpoints"]) {
      for await (const file of walk(`${dataDir}/${dir}`)) {
        const text = new TextDecoder("latin1").decode(await Deno.readFile(file));
        ok(!text.includes(secret), `${file} holds plaintext`);
      }
    }
    const again = await openVault({ dataDir, encryptionKeyFile: keyFile });
    deepStrictEqual((await again.recoverAgent("counter")).snapshot.state, { secret, again: secret });
    await again.close();
    await rejects(openVault({ dataDir }), (e: VaultError) => e.code === "VAULT_KEY_UNKNOWN");
  });
});

Deno.test("Vault reads old records after a key rotation and refuses a key file that lost their key", async () => {
  await withVault({}, async (_open, dataDir) => {
    const keyFile = `${dataDir}/key`;
    const oldId = await createKeyFile(keyFile);
    const vault = await openVault({ dataDir, encryptionKeyFile: keyFile });
    await vault.append(INIT);
    await vault.append(entry("counter", "old"));
    await vault.checkpoint("counter", { state: { keys: ["old"] }, memory: {} }, 2);
    await vault.append(entry("counter", "old2"));
    await vault.close();
    const newId = await createKeyFile(keyFile, { rotate: true });
    notStrictEqual(newId, oldId);
    const rotated = await openVault({ dataDir, encryptionKeyFile: keyFile });
    await rotated.append(entry("counter", "new"));
    deepStrictEqual(keysOf((await rotated.recoverAgent("counter")).snapshot), ["old", "old2", "new"]);
    await rotated.close();
    const onlyNew = (await Deno.readTextFile(keyFile)).split("\n")[0] + "\n";
    await Deno.writeTextFile(keyFile, onlyNew, { mode: 0o600 });
    await rejects(
      openVault({ dataDir, encryptionKeyFile: keyFile }),
      (e: VaultError) => e.code === "VAULT_KEY_UNKNOWN",
    );
  });
});

Deno.test("openVault() refuses a key file readable by others", async () => {
  await withVault({}, async (_open, dataDir) => {
    const keyFile = `${dataDir}/key`;
    await createKeyFile(keyFile);
    await Deno.chmod(keyFile, 0o640);
    await rejects(
      openVault({ dataDir, encryptionKeyFile: keyFile }),
      (e: VaultError) => e.code === "VAULT_KEY_INSECURE",
    );
  });
});

Deno.test("Vault passes agent records and key-value calls through to the backend", async () => {
  await withVault({}, async (open) => {
    const vault = await open();
    await vault.saveAgent({ name: "counter", version: "1.0.0", source: "src", origin: "dir", created_ms: 5 });
    deepStrictEqual((await vault.listAgents()).map((a) => a.name), ["counter"]);
    await vault.kvPut("lineage", "counter/1", { parent: null });
    deepStrictEqual(await vault.kvGet("lineage", "counter/1"), { parent: null });
    deepStrictEqual((await vault.kvList("lineage")).length, 1);
    strictEqual(await vault.kvDelete("lineage", "counter/1"), true);
    await vault.close();
    await rejects(vault.append(INIT), (e: VaultError) => e.code === "VAULT_CLOSED");
  });
});

Deno.test("Vault.stats() counts appends, batches, fsyncs and checkpoints", async () => {
  await withVault({}, async (open) => {
    const vault = await open();
    await Promise.all(Array.from({ length: 64 }, (_, i) => vault.append(entry("counter", `k${i}`))));
    await vault.checkpoint("counter", { state: {}, memory: {} }, 64);
    const stats = vault.stats();
    strictEqual(stats.wal.appends, 64);
    ok(stats.wal.batches < 64);
    strictEqual(stats.wal.fsyncMs.length, stats.wal.batches);
    strictEqual(stats.checkpoints, 1);
    strictEqual(stats.checkpointBytes.length, 1);
    strictEqual(stats.lastSeq, 64);
    await vault.close();
  });
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(path);
    else yield path;
  }
}
