/**
 * The warm pool: sandboxes of one shape started ahead of need, so a shadow or an evaluation starts in
 * milliseconds instead of the ~20–50 ms of a cold `deno` start in a jail. `take()` hands out a started
 * (and, with `ready`, loaded) sandbox and refills in the background; when the pool is empty it spawns
 * cold. A sandbox leaves the pool for good when taken: it is never returned, so no sandbox ever runs a
 * second piece of code. Idle sandboxes that die are dropped and replaced.
 *
 * @example
 * ```ts ignore
 * import { WarmPool, runPoolOptions } from "./warm_pool.ts";
 * import { runInSandbox } from "./run.ts";
 * const pool = new WarmPool(runPoolOptions({ tier: "jail", timeoutMs: 5000, memoryMb: 256, size: 4 }));
 * const sandbox = await pool.take();
 * const report = await runInSandbox(sandbox, "export default () => 42", { timeoutMs: 5000 });
 * await pool.close();
 * ```
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";
import { WARM_POOL_REFILL_DELAY_MS, WARM_POOL_SIZE_MAX } from "./limits.ts";
import { READY_MARK, runSpec } from "./run.ts";
import { type SandboxProcess, type SandboxSpec, spawnSandbox, type Tier } from "./spawn.ts";

/** How a pool makes and checks its sandboxes. */
export interface WarmPoolOptions {
  /** Starts one sandbox of the pool's shape (usually `() => spawnSandbox(spec)`). */
  spawn: () => SandboxProcess;
  /** Sandboxes kept waiting, at most {@link WARM_POOL_SIZE_MAX}. */
  size: number;
  /**
   * Resolves once a new sandbox can take work at once (e.g. it announced itself); a rejection discards it.
   * @default resolves immediately after spawn
   */
  ready?: (sandbox: SandboxProcess) => Promise<void>;
}

interface Idle {
  sandbox: SandboxProcess;
  ready: boolean;
}

/** A bounded pool of pre-started sandboxes of one shape; see the module doc. */
export class WarmPool {
  readonly size: number;
  readonly #spawn: () => SandboxProcess;
  readonly #ready: (sandbox: SandboxProcess) => Promise<void>;
  #idle: Idle[] = [];
  #starting = 0;
  #closed = false;
  #coldStarts = 0;
  #refillTimer: ReturnType<typeof setTimeout> | undefined;

  /** @throws {RangeError} When `size` is not an integer in [0, WARM_POOL_SIZE_MAX]. */
  constructor(options: WarmPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 0 || options.size > WARM_POOL_SIZE_MAX) {
      throw new RangeError(
        `Cannot create a warm pool as 'size' must be an integer in [0, ${WARM_POOL_SIZE_MAX}]: current value is ${options.size}`,
      );
    }
    this.size = options.size;
    this.#spawn = options.spawn;
    this.#ready = options.ready ?? (() => Promise.resolve());
    this.#refill();
  }

  /** Sandboxes started and ready to take. */
  get idle(): number {
    return this.#idle.filter((i) => i.ready).length;
  }

  /** How many `take()` calls found no ready sandbox and spawned cold. */
  get coldStarts(): number {
    return this.#coldStarts;
  }

  /**
   * Takes a started sandbox out of the pool for good (or spawns one cold when none is ready).
   *
   * @returns A sandbox that has run nothing yet.
   * @throws {Error} When the pool is closed, or a cold sandbox fails its `ready` check.
   */
  async take(): Promise<SandboxProcess> {
    assert(!this.#closed, "A closed warm pool cannot hand out sandboxes");
    const at = this.#idle.findIndex((i) => i.ready);
    if (at >= 0) {
      const [{ sandbox }] = this.#idle.splice(at, 1);
      this.#refillSoon();
      return sandbox;
    }
    this.#coldStarts++;
    this.#refill();
    const sandbox = this.#spawn();
    try {
      await this.#ready(sandbox);
    } catch (e) {
      sandbox.kill("not ready");
      throw e;
    }
    return sandbox;
  }

  /**
   * Takes a ready sandbox without waiting, for callers that must spawn synchronously.
   *
   * @returns A started sandbox that has run nothing yet, or `undefined` when none is ready.
   */
  takeReady(): SandboxProcess | undefined {
    if (this.#closed) return undefined;
    const at = this.#idle.findIndex((i) => i.ready);
    if (at < 0) {
      this.#coldStarts++;
      this.#refill();
      return undefined;
    }
    const [{ sandbox }] = this.#idle.splice(at, 1);
    this.#refillSoon();
    return sandbox;
  }

  /** Kills every idle sandbox and stops refilling; waits until they are reaped. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#refillTimer);
    const idle = this.#idle;
    this.#idle = [];
    for (const i of idle) i.sandbox.kill("pool closed");
    await Promise.all(idle.map((i) => i.sandbox.exited));
    while (this.#starting > 0) await new Promise((r) => setTimeout(r, 5));
  }

  #refillSoon(): void {
    if (this.#refillTimer !== undefined) return;
    this.#refillTimer = setTimeout(() => {
      this.#refillTimer = undefined;
      this.#refill();
    }, WARM_POOL_REFILL_DELAY_MS);
  }

  #refill(): void {
    while (!this.#closed && this.#idle.length + this.#starting < this.size) this.#startOne();
  }

  #startOne(): void {
    this.#starting++;
    let sandbox: SandboxProcess;
    try {
      sandbox = this.#spawn();
    } catch {
      this.#starting--;
      return;
    }
    const entry: Idle = { sandbox, ready: false };
    this.#idle.push(entry);
    this.#starting--;
    // An idle sandbox that dies (crash, OOM while loading) leaves the pool and is replaced, once.
    sandbox.exited.then(() => {
      const at = this.#idle.indexOf(entry);
      if (at >= 0) {
        this.#idle.splice(at, 1);
        if (entry.ready) this.#refill();
      }
    });
    this.#ready(sandbox).then(
      () => {
        entry.ready = true;
      },
      () => sandbox.kill("not ready"),
    );
  }
}

/**
 * Pool options for `sandbox run`-shaped sandboxes (`run_entry.ts` waiting for code); `ready` waits for
 * the entry's ready line, so a taken sandbox has Deno, the SDK and the protocol loaded.
 *
 * @returns Options for {@link WarmPool}.
 */
export function runPoolOptions(
  shape: { tier: Tier; timeoutMs: number; memoryMb: number; size: number },
): WarmPoolOptions {
  const spec: SandboxSpec = runSpec(shape.tier, shape.timeoutMs, shape.memoryMb);
  return { spawn: () => spawnSandbox(spec), size: shape.size, ready: waitForReadyMark };
}

/** Reads exactly the ready line off a run sandbox's stdout and leaves the rest for the runner. */
export async function waitForReadyMark(sandbox: SandboxProcess): Promise<void> {
  const want = new TextEncoder().encode(READY_MARK);
  const reader = sandbox.stdout.getReader();
  let got = 0;
  try {
    while (got < want.length) {
      const { value, done } = await reader.read();
      if (done) throw new Error("Cannot use a pooled sandbox: it exited before it was ready");
      // Nothing but the ready line can come before the start frame, so a chunk never holds more.
      assert(got + value.length <= want.length, "A run sandbox writes nothing before its ready line");
      for (let i = 0; i < value.length; i++) {
        if (value[i] !== want[got + i]) throw new Error("Cannot use a pooled sandbox: bad ready line");
      }
      got += value.length;
    }
  } finally {
    reader.releaseLock();
  }
}
