/**
 * Sandbox start and kill costs, as medians (p50) of repeated measurements in this process:
 *
 * - `coldStartMs`: spawn → the first frame a trivial sandbox writes (the run entry's ready line), jail.
 * - `pooledStartMs`: take from a warm pool → the first answer (the result line of a trivial module).
 * - `killMs`: SIGKILL → reaped (`exited` resolved, cgroup empty).
 * - `jailOverheadMs`: cold start in the jail minus cold start in the process tier.
 *
 * Goals (DESIGN.md): pooled < 5 ms, cold < 50 ms.
 *
 * @module
 */
import { encodeFrame } from "../protocol/mod.ts";
import { RESULT_MARK, runSpec } from "./run.ts";
import { effectiveTier, type SandboxProcess, spawnSandbox, type Tier } from "./spawn.ts";
import { runPoolOptions, WarmPool } from "./warm_pool.ts";

/** The medians {@link benchSandbox} reports, ms. */
export interface SandboxBench {
  coldStartMs: number;
  pooledStartMs: number;
  killMs: number;
  jailOverheadMs: number;
}

/** Options of {@link benchSandbox}. */
export interface SandboxBenchOptions {
  /** Measurements per number. @default 15 */
  samples?: number;
}

const SAMPLES_DEFAULT = 15;
const MEMORY_MB = 128;
const TIMEOUT_MS = 5000;

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)] * 100) / 100;
}

async function firstChunk(sandbox: SandboxProcess): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const reader = sandbox.stdout.getReader();
  await reader.read();
  return reader;
}

async function discard(sandbox: SandboxProcess, reader: ReadableStreamDefaultReader<Uint8Array>) {
  sandbox.kill("bench");
  await reader.cancel().catch(() => {});
  await sandbox.stdin.close().catch(() => {});
  await sandbox.exited;
}

async function coldStart(tier: Tier, samples: number): Promise<number[]> {
  const spec = runSpec(tier, TIMEOUT_MS, MEMORY_MB);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    const sandbox = spawnSandbox(spec);
    const reader = await firstChunk(sandbox);
    times.push(performance.now() - t0);
    await discard(sandbox, reader);
  }
  return times;
}

async function killTimes(tier: Tier, samples: number): Promise<number[]> {
  const spec = runSpec(tier, TIMEOUT_MS, MEMORY_MB);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const sandbox = spawnSandbox(spec);
    const reader = await firstChunk(sandbox);
    const t0 = performance.now();
    sandbox.kill("bench");
    await sandbox.exited;
    times.push(performance.now() - t0);
    await reader.cancel().catch(() => {});
    await sandbox.stdin.close().catch(() => {});
  }
  return times;
}

/** Take → first answer: the result line of a trivial module, read straight off stdout. */
async function pooledStart(tier: Tier, samples: number): Promise<number[]> {
  const pool = new WarmPool(runPoolOptions({ tier, timeoutMs: TIMEOUT_MS, memoryMb: MEMORY_MB, size: 2 }));
  const mark = new TextEncoder().encode(RESULT_MARK);
  const times: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      while (pool.idle < 1) await new Promise((r) => setTimeout(r, 5));
      // Let the refill's spawn finish so it does not compete for the CPU with the measurement.
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      const sandbox = await pool.take();
      const writer = sandbox.stdin.getWriter();
      await writer.write(encodeFrame({ source: `export default () => ${i};`, nonce: "bench" }));
      const reader = sandbox.stdout.getReader();
      let seen = 0;
      while (seen < mark.length) {
        const { value, done } = await reader.read();
        if (done) break;
        // Stop at the mark's last byte: scanning on would reset the match and wait for the exit's EOF.
        for (let k = 0; k < value.length && seen < mark.length; k++) {
          const b = value[k];
          seen = b === mark[seen] ? seen + 1 : (b === mark[0] ? 1 : 0);
        }
      }
      times.push(performance.now() - t0);
      writer.releaseLock();
      reader.releaseLock();
      await discard(sandbox, sandbox.stdout.getReader());
    }
  } finally {
    await pool.close();
  }
  return times;
}

/**
 * Measures sandbox start and kill costs on this machine.
 *
 * @param options Samples per number.
 * @returns Medians, ms. The jail falls back to the process tier where bubblewrap cannot run (the
 *   overhead is then 0).
 */
export async function benchSandbox(options: SandboxBenchOptions = {}): Promise<SandboxBench> {
  const samples = options.samples ?? SAMPLES_DEFAULT;
  const tier = effectiveTier("jail");
  await coldStart(tier, 2); // Warm the page cache and the binary's first mappings.
  const jail = p50(await coldStart(tier, samples));
  const proc = p50(await coldStart("process", samples));
  const pooled = p50(await pooledStart(tier, samples));
  const kill = p50(await killTimes(tier, samples));
  return {
    coldStartMs: jail,
    pooledStartMs: pooled,
    killMs: kill,
    jailOverheadMs: Math.round((jail - proc) * 100) / 100,
  };
}

if (import.meta.main) console.log(JSON.stringify(await benchSandbox()));
