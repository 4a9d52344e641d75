/**
 * Fault-injection and crash tests of the whole vault. Goal: whatever the disk does, the vault either
 * fails loudly or recovers cleanly, never acknowledges an append that a crash can lose, and never
 * reports an unacknowledged append as applied. Method: a model "supervisor" keeps the acknowledged
 * changes; after seeded faults and simulated power losses the recovered state must equal the model.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { openVault, type Vault, type VaultError, type WalEntry } from "../vault/mod.ts";
import { FaultyFileSystem } from "../vault/faulty_fs.ts";
import { seededRandom } from "../vault/_prng.ts";

const AGENTS = ["alpha", "beta"];

function push(agent: string, key: string, idem?: string): WalEntry {
  return {
    agent,
    version: "1.0.0",
    delta: [["p", ["state", "keys"], [key]]],
    output: { key },
    idempotency_key: idem,
    request_id: key,
    input: { add: key },
    time_ms: 0,
  };
}

function init(agent: string): WalEntry {
  return {
    agent,
    version: "1.0.0",
    delta: [["s", ["state", "keys"], []]],
    output: null,
    request_id: "i",
    input: null,
    time_ms: 0,
  };
}

/** What the supervisor knows: the acknowledged keys of each agent, in seq order, and the last seq. */
class Model {
  keys = new Map<string, string[]>(AGENTS.map((a) => [a, []]));
  lastSeq = 0;
  failed = new Set<string>();

  async appendWave(vault: Vault, wave: string[], agentOf: (i: number) => string): Promise<void> {
    const results = await Promise.allSettled(
      wave.map((key, i) => vault.append(push(agentOf(i), key, `idem-${key}`))),
    );
    const acked: [number, string, string][] = [];
    results.forEach((r, i) => {
      if (r.status === "fulfilled") acked.push([r.value.seq, agentOf(i), wave[i]]);
      else {
        ok(["VAULT_IO", "VAULT_CLOSED"].includes((r.reason as VaultError).code), String(r.reason));
        this.failed.add(wave[i]);
      }
    });
    acked.sort((a, b) => a[0] - b[0]);
    for (const [seq, agent, key] of acked) {
      ok(seq > this.lastSeq, `seq ${seq} after ${this.lastSeq}`);
      this.lastSeq = seq;
      this.keys.get(agent)!.push(key);
    }
  }

  snapshotOf(agent: string) {
    return { state: { keys: this.keys.get(agent)!.slice() }, memory: {} };
  }
}

async function assertMatches(vault: Vault, model: Model): Promise<void> {
  for (const agent of AGENTS) {
    const recovered = await vault.recoverAgent(agent);
    deepStrictEqual(recovered.snapshot.state.keys, model.keys.get(agent), `state of ${agent}`);
    for (const key of model.keys.get(agent)!.slice(-20)) {
      ok(vault.findIdempotent(agent, `idem-${key}`), `key ${key}`);
    }
  }
  for (const key of model.failed) {
    for (const agent of AGENTS) {
      strictEqual(vault.findIdempotent(agent, `idem-${key}`), undefined, `unacked ${key}`);
    }
  }
}

async function seedVault(dataDir: string, fs: FaultyFileSystem, model: Model): Promise<Vault> {
  const vault = await openVault({ dataDir, fs, wal: { segmentBytesMax: 8192 }, checkpointIncrementsMax: 2 });
  for (const agent of AGENTS) {
    const { seq } = await vault.append(init(agent));
    model.lastSeq = seq;
  }
  return vault;
}

const CRASH_SEED = Number(Deno.env.get("O_TEST_SEED") ?? 2024);

Deno.test(`Vault recovers exactly the acknowledged appends through seeded faults and torn crashes (seed ${CRASH_SEED})`, async () => {
  const dataDir = await Deno.makeTempDir();
  const random = seededRandom(CRASH_SEED);
  const model = new Model();
  let fs = new FaultyFileSystem({ seed: CRASH_SEED });
  let vault = await seedVault(dataDir, fs, model);
  let counter = 0;
  for (let cycle = 0; cycle < 6; cycle++) {
    // Truncation stays reliable here: a failed rollback (poisoning) followed by a crash is the one window
    // where a rejected record may survive; wal_test.ts covers poisoning and healing on its own.
    fs.setRates({ write: 0.08, sync: 0.08, rename: 0.05, remove: 0.05, syncDir: 0.05 });
    for (let wave = 0; wave < 25; wave++) {
      const keys = Array.from({ length: 1 + random.int(10) }, () => `k${counter++}`);
      await model.appendWave(vault, keys, (i) => AGENTS[(i + wave) % 2]);
      if (wave % 6 === 5) {
        const agent = AGENTS[random.int(2)];
        await vault.checkpoint(agent, model.snapshotOf(agent), model.lastSeq).catch((e: VaultError) => {
          ok(["VAULT_IO", "VAULT_BACKEND"].includes(e.code), String(e));
        });
      }
    }
    // Power fails with one more wave in flight: none of it may survive unless it was acknowledged.
    const lost = [0, 1, 2].map((i) => `lost${cycle}-${i}`);
    const inFlight = Promise.allSettled(lost.map((key) => vault.append(push("alpha", key, `idem-${key}`))));
    for (let hop = random.int(4); hop > 0; hop--) await new Promise((wake) => setTimeout(wake, 0));
    fs = await fs.crash({ tear: true });
    const acked = (await inFlight).filter((r) => r.status === "fulfilled").length;
    await vault.close();
    vault = await openVault({ dataDir, fs, wal: { segmentBytesMax: 8192 }, checkpointIncrementsMax: 2 });
    // The in-flight appends had no answer when the power failed, so each may or may not have reached the
    // disk; but what survives is a prefix of the batch, and every acknowledged one survives.
    const alpha = model.keys.get("alpha")!;
    const survived = ((await vault.recoverAgent("alpha")).snapshot.state.keys as string[]).slice(
      alpha.length,
    );
    ok(survived.length >= acked, `${acked} acknowledged, ${survived.length} survived`);
    deepStrictEqual(survived, lost.slice(0, survived.length));
    alpha.push(...survived);
    model.lastSeq = vault.stats().lastSeq;
    await assertMatches(vault, model);
  }
  ok(model.failed.size > 0, "faults were injected");
  await vault.close();
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("Vault.checkpoint() fails with VAULT_IO on ENOSPC and the vault keeps serving", async () => {
  const dataDir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 3 });
  const model = new Model();
  const vault = await seedVault(dataDir, fs, model);
  await model.appendWave(vault, ["a", "b"], () => "alpha");
  fs.failNext({ op: "write", kind: "enospc", path: "checkpoints" });
  await rejects(
    vault.checkpoint("alpha", model.snapshotOf("alpha"), model.lastSeq),
    (e: VaultError) => e.code === "VAULT_IO",
  );
  deepStrictEqual(await vault.backend.listCheckpoints("alpha"), []);
  await model.appendWave(vault, ["c"], () => "alpha");
  await vault.checkpoint("alpha", model.snapshotOf("alpha"), model.lastSeq);
  await vault.close();
  const again = await openVault({ dataDir, fs });
  await assertMatches(again, model);
  await again.close();
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("Vault recovers a clean prefix after a flipped bit in a WAL segment, never a wrong state", async () => {
  const dataDir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 4 });
  const model = new Model();
  const vault = await seedVault(dataDir, fs, model);
  const seqOf = new Map<string, number>();
  for (let i = 0; i < 40; i++) seqOf.set(`k${i}`, (await vault.append(push("alpha", `k${i}`))).seq);
  await vault.close();
  await fs.flipBit(`${dataDir}/wal/00000000000000000001.wal`, 1500, 5);
  const again = await openVault({ dataDir, fs });
  const problem = again.openReport.wal.problem!;
  strictEqual(problem.kind, "corrupt");
  const keys = (await again.recoverAgent("alpha")).snapshot.state.keys as string[];
  deepStrictEqual(keys, [...seqOf].filter(([, seq]) => seq < problem.seq).map(([k]) => k));
  const { seq } = await again.append(push("alpha", "after"));
  strictEqual(seq, problem.seq);
  await again.close();
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("Vault falls back to the WAL when its only checkpoint has a flipped bit in both copies", async () => {
  const dataDir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 5 });
  const model = new Model();
  const vault = await seedVault(dataDir, fs, model);
  await model.appendWave(vault, ["a", "b", "c"], () => "beta");
  const info = await vault.checkpoint("beta", model.snapshotOf("beta"), model.lastSeq);
  await model.appendWave(vault, ["d"], () => "beta");
  const row = (await vault.backend.listCheckpoints("beta"))[0];
  const blob = (await vault.backend.getCheckpoint("beta", info.checkpoint_id))!;
  blob[blob.length - 1] ^= 0x80;
  await vault.backend.putCheckpoint({ ...row, blob });
  await vault.close();
  await fs.flipBit(`${dataDir}/checkpoints/beta/${info.checkpoint_id}.ckpt`);
  const again = await openVault({ dataDir, fs });
  strictEqual(again.openReport.skippedCheckpoints.beta.length, 1);
  await assertMatches(again, model);
  await again.close();
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("Vault refuses to invent state when the WAL behind its only usable checkpoint is gone", async () => {
  const dataDir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 6 });
  const model = new Model();
  const vault = await openVault({ dataDir, fs, wal: { segmentBytesMax: 4096 }, checkpointIncrementsMax: 0 });
  await vault.append(init("alpha"));
  const ids: string[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 40; i++) await model.appendWave(vault, [`r${round}-${i}`], () => "alpha");
    ids.push((await vault.checkpoint("alpha", model.snapshotOf("alpha"), model.lastSeq)).checkpoint_id);
  }
  ok(Number(await vault.kvGet("_vault.pruned", "alpha")) > 0, "segments were deleted");
  // Corrupt every kept checkpoint in both copies: the WAL alone cannot rebuild the agent any more.
  for (const c of await vault.backend.listCheckpoints("alpha")) {
    const blob = (await vault.backend.getCheckpoint("alpha", c.id))!;
    blob[30] ^= 1;
    await vault.backend.putCheckpoint({ ...c, blob });
    await fs.flipBit(`${dataDir}/checkpoints/alpha/${c.id}.ckpt`, 30, 0);
  }
  await vault.close();
  const again = await openVault({ dataDir, fs });
  ok(again.openReport.unrecoverable.alpha);
  await rejects(again.recoverAgent("alpha"), (e: VaultError) => e.code === "VAULT_UNRECOVERABLE");
  await again.close();
  await Deno.remove(dataDir, { recursive: true });
});
