/**
 * Admission control for sandboxes (parallel shadows, evaluations): at most N running at once, a memory
 * quota per sandbox and for all of them together, and a bounded FIFO wait queue. At the bound, a request
 * is refused at once with {@link SandboxQuotaError} `SANDBOX_QUEUE_FULL` (the HTTP edge turns it into 429 or
 * 503) instead of queueing without end.
 *
 * FIFO on purpose: a large request at the head waits for memory and the small ones behind it wait too, so
 * a large request is never starved.
 *
 * @example
 * ```ts
 * import { SandboxQuota } from "./quota.ts";
 * import { strictEqual } from "node:assert";
 * const quota = new SandboxQuota({ concurrentMax: 1, queueMax: 1, memoryMbTotalMax: 512 });
 * const permit = await quota.acquire(256);
 * strictEqual(quota.active, 1);
 * permit.release();
 * strictEqual(quota.active, 0);
 * ```
 *
 * @module
 */
import { assert, OError } from "../protocol/mod.ts";
import {
  MEMORY_MB_MAX,
  QUOTA_CONCURRENT_DEFAULT,
  QUOTA_CONCURRENT_MAX,
  QUOTA_MEMORY_TOTAL_MB_DEFAULT,
  QUOTA_QUEUE_DEFAULT,
} from "./limits.ts";

/**
 * Thrown when a sandbox cannot be admitted: `SANDBOX_QUEUE_FULL` (the wait queue is at its bound) or
 * `SANDBOX_MEMORY_QUOTA` (the request is larger than one sandbox or all of them may ever hold).
 */
export class SandboxQuotaError extends OError {}

/** Bounds of a {@link SandboxQuota}. */
export interface SandboxQuotaOptions {
  /** Sandboxes running at once. @default 16 */
  concurrentMax?: number;
  /** Callers waiting for a slot; one more is refused. @default 64 */
  queueMax?: number;
  /** Memory one sandbox may ask for, MiB. @default memoryMbTotalMax */
  memoryMbPerSandboxMax?: number;
  /** Memory of all admitted sandboxes together, MiB. @default 4096 */
  memoryMbTotalMax?: number;
}

/** A granted slot; release it exactly once when the sandbox has exited. */
export interface SandboxPermit {
  readonly memoryMb: number;
  /** Returns the slot and its memory. Idempotent. */
  release(): void;
}

interface Waiter {
  memoryMb: number;
  resolve: (p: SandboxPermit) => void;
  reject: (e: unknown) => void;
  onAbort?: () => void;
  signal?: AbortSignal;
}

/** The admission controller; see the module doc. */
export class SandboxQuota {
  readonly concurrentMax: number;
  readonly queueMax: number;
  readonly memoryMbPerSandboxMax: number;
  readonly memoryMbTotalMax: number;
  #active = 0;
  #memoryMbInUse = 0;
  #queue: Waiter[] = [];

  /** @throws {RangeError} When a bound is not a positive integer in range. */
  constructor(options: SandboxQuotaOptions = {}) {
    this.concurrentMax = options.concurrentMax ?? QUOTA_CONCURRENT_DEFAULT;
    this.queueMax = options.queueMax ?? QUOTA_QUEUE_DEFAULT;
    this.memoryMbTotalMax = options.memoryMbTotalMax ?? QUOTA_MEMORY_TOTAL_MB_DEFAULT;
    this.memoryMbPerSandboxMax = options.memoryMbPerSandboxMax ?? this.memoryMbTotalMax;
    checkBound("concurrentMax", this.concurrentMax, 1, QUOTA_CONCURRENT_MAX);
    checkBound("queueMax", this.queueMax, 0, 100_000);
    checkBound("memoryMbTotalMax", this.memoryMbTotalMax, 1, QUOTA_CONCURRENT_MAX * MEMORY_MB_MAX);
    checkBound("memoryMbPerSandboxMax", this.memoryMbPerSandboxMax, 1, this.memoryMbTotalMax);
  }

  /** Sandboxes admitted and not yet released. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Memory of admitted sandboxes, MiB. */
  get memoryMbInUse(): number {
    return this.#memoryMbInUse;
  }

  /**
   * Waits for a slot with `memoryMb` of memory.
   *
   * @param memoryMb The sandbox's memory bound, MiB.
   * @param signal Aborting it leaves the queue and rejects with the signal's reason.
   * @returns The permit.
   * @throws {SandboxQuotaError} `SANDBOX_MEMORY_QUOTA` when `memoryMb` exceeds the per-sandbox quota;
   *   `SANDBOX_QUEUE_FULL` when it would have to wait and the queue is full.
   */
  acquire(memoryMb: number, signal?: AbortSignal): Promise<SandboxPermit> {
    if (!Number.isInteger(memoryMb) || memoryMb <= 0 || memoryMb > this.memoryMbPerSandboxMax) {
      return Promise.reject(
        new SandboxQuotaError(
          "SANDBOX_MEMORY_QUOTA",
          `Cannot admit a sandbox of ${memoryMb} MiB: the quota per sandbox is ${this.memoryMbPerSandboxMax} MiB`,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#queue.length === 0 && this.#fits(memoryMb)) return Promise.resolve(this.#grant(memoryMb));
    if (this.#queue.length >= this.queueMax) {
      return Promise.reject(
        new SandboxQuotaError(
          "SANDBOX_QUEUE_FULL",
          `Cannot admit a sandbox: ${this.#active} running and ${this.#queue.length} waiting (queue bound ${this.queueMax})`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { memoryMb, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          this.#queue = this.#queue.filter((w) => w !== waiter);
          reject(signal.reason);
          this.#drain();
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
    });
  }

  /**
   * Runs `fn` inside a slot and releases it afterwards, whatever `fn` does.
   *
   * @returns What `fn` returns.
   * @throws {SandboxQuotaError} As {@link acquire}; and whatever `fn` throws.
   */
  async run<T>(memoryMb: number, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const permit = await this.acquire(memoryMb, signal);
    try {
      return await fn();
    } finally {
      permit.release();
    }
  }

  #fits(memoryMb: number): boolean {
    return this.#active < this.concurrentMax && this.#memoryMbInUse + memoryMb <= this.memoryMbTotalMax;
  }

  #grant(memoryMb: number): SandboxPermit {
    this.#active++;
    this.#memoryMbInUse += memoryMb;
    let released = false;
    return {
      memoryMb,
      release: () => {
        if (released) return;
        released = true;
        this.#active--;
        this.#memoryMbInUse -= memoryMb;
        assert(this.#active >= 0 && this.#memoryMbInUse >= 0, "Quota accounting must not go negative");
        this.#drain();
      },
    };
  }

  #drain(): void {
    while (this.#queue.length > 0 && this.#fits(this.#queue[0].memoryMb)) {
      const w = this.#queue.shift()!;
      if (w.onAbort) w.signal!.removeEventListener("abort", w.onAbort);
      w.resolve(this.#grant(w.memoryMb));
    }
  }
}

function checkBound(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot create a sandbox quota as '${name}' must be an integer in [${min}, ${max}]: current value is ${value}`,
    );
  }
}
