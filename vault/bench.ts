/**
 * Vault benchmarks with a same-run baseline: durable appends per second with group commit against one
 * `fdatasync` per append (both with the same concurrent appenders), and saving and restoring a 10 MB
 * checkpoint. `bench/main.ts` calls {@link benchVault}.
 *
 * @module
 */
import type { Snapshot } from "../protocol/mod.ts";
import { encode } from "../protocol/mod.ts";
import type { WalEntry } from "./types.ts";
import { openVault, type OpenVaultOptions } from "./vault.ts";

/** Options of {@link benchVault}. */
export interface VaultBenchOptions {
  /** Concurrent appenders. @default 64 */
  appenders?: number;
  /** Appends per run. @default 6400 */
  appends?: number;
  /** Approximate msgpack size of the checkpointed state. @default 10 MiB */
  stateBytes?: number;
}

/** Measured numbers; names carry units. */
export interface VaultBench {
  appenders: number;
  appends: number;
  group_commit_appends_per_s: number;
  group_commit_fsyncs: number;
  fsync_per_append_appends_per_s: number;
  /** Group commit over one fsync per append. */
  group_commit_speedup: number;
  fsync_ms_p50: number;
  checkpoint_state_bytes: number;
  checkpoint_stored_bytes: number;
  checkpoint_save_ms: number;
  checkpoint_restore_ms: number;
}

function entryOf(i: number): WalEntry {
  return {
    agent: `bench-${i % 8}`,
    version: "1.0.0",
    delta: [["p", ["state", "keys"], [`key-${i}`]]],
    output: { count: i },
    idempotency_key: `idem-${i}`,
    request_id: `req-${i}`,
    input: { add: `key-${i}` },
    time_ms: Date.now(),
  };
}

async function appendRun(options: OpenVaultOptions, appenders: number, appends: number) {
  const vault = await openVault(options);
  let next = 0;
  const started = performance.now();
  // Each appender waits for its append to be durable before the next, as a request handler would.
  await Promise.all(Array.from({ length: appenders }, async () => {
    while (next < appends) await vault.append(entryOf(next++));
  }));
  const seconds = (performance.now() - started) / 1000;
  const stats = vault.stats().wal;
  await vault.close();
  const sorted = stats.fsyncMs.slice().sort((a, b) => a - b);
  return { perSecond: appends / seconds, fsyncs: stats.batches, fsyncMsP50: sorted[sorted.length >> 1] ?? 0 };
}

/**
 * A state of about `bytes` msgpack bytes: records with short strings, numbers and tags, like an agent's
 * accumulated data.
 */
export function benchState(bytes: number): Snapshot {
  const items: unknown[] = [];
  const perItem = 110;
  for (let i = 0; i < bytes / perItem; i++) {
    items.push({
      id: i,
      name: `item-${i}`,
      text: `note ${i} `.padEnd(60, "x"),
      score: i * 0.5,
      tags: ["a", "b"],
    });
  }
  return { state: { items }, memory: {} };
}

async function checkpointRun(dataDir: string, stateBytes: number) {
  const snapshot = benchState(stateBytes);
  const vault = await openVault({ dataDir });
  const { seq } = await vault.append({ ...entryOf(0), agent: "big" });
  let started = performance.now();
  const info = await vault.checkpoint("big", snapshot, seq);
  const saveMs = performance.now() - started;
  await vault.close();
  const again = await openVault({ dataDir });
  started = performance.now();
  await again.recoverAgent("big");
  const restoreMs = performance.now() - started;
  await again.close();
  return { stateBytes: encode(snapshot).length, storedBytes: info.bytes, saveMs, restoreMs };
}

/**
 * Runs the vault benchmarks in temporary directories (removed after).
 *
 * @param options Sizes; see {@link VaultBenchOptions}.
 * @returns The measured numbers.
 */
export async function benchVault(options: VaultBenchOptions = {}): Promise<VaultBench> {
  const appenders = options.appenders ?? 64;
  const appends = options.appends ?? 6400;
  const root = await Deno.makeTempDir({ prefix: "o-bench-vault-" });
  try {
    const grouped = await appendRun({ dataDir: `${root}/grouped` }, appenders, appends);
    const single = await appendRun(
      { dataDir: `${root}/single`, wal: { batchRecordsMax: 1 } },
      appenders,
      appends,
    );
    const ck = await checkpointRun(`${root}/checkpoint`, options.stateBytes ?? 10 * 1024 * 1024);
    return {
      appenders,
      appends,
      group_commit_appends_per_s: Math.round(grouped.perSecond),
      group_commit_fsyncs: grouped.fsyncs,
      fsync_per_append_appends_per_s: Math.round(single.perSecond),
      group_commit_speedup: Math.round((grouped.perSecond / single.perSecond) * 100) / 100,
      fsync_ms_p50: Math.round(grouped.fsyncMsP50 * 1000) / 1000,
      checkpoint_state_bytes: ck.stateBytes,
      checkpoint_stored_bytes: ck.storedBytes,
      checkpoint_save_ms: Math.round(ck.saveMs),
      checkpoint_restore_ms: Math.round(ck.restoreMs),
    };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) console.log(await benchVault());
