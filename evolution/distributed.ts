/**
 * Distributed evaluation over the job queue of a shared Postgres vault (vault/job_queue.ts).
 *
 * - {@link PostgresEvaluator} is an {@link Evaluator}: it splits one `evaluate()` call into jobs (a few
 *   sources each, sized by the worker slots seen lately), enqueues them as one batch, waits for their
 *   outcomes (LISTEN/NOTIFY, with polling and backoff behind it), and returns one result per source, in
 *   order. The engine (`runEvolution`) on any node uses it as it would the local jailed evaluator, so an
 *   evolution run uses every worker attached to the vault.
 * - {@link EvaluationWorker} is the other side (`main.ts worker`): it claims jobs, runs each in its own
 *   jail through a {@link SandboxEvaluator} (one per slot), renews its leases while it works, and writes
 *   the results back. Only the current lease holder can finish a job, so a worker that was killed or cut
 *   off loses nothing and finishes nothing twice: its job is claimed elsewhere once its lease expires.
 *
 * A lock-step comparison (`alone` with `interleave`) stays one job, so its jails share one machine and
 * one load; `alone` evaluations go one source per job; screening goes in chunks.
 *
 * @module
 */
import { hostname } from "node:os";
import type { Tier } from "../sandbox/mod.ts";
import {
  type ClaimedJob,
  JOB_ATTEMPTS_DEFAULT,
  JOB_CLAIM_JOBS_MAX,
  JOB_LEASE_S_MAX,
  JOB_LEASE_S_MIN,
  type JobOutcome,
  JobQueue,
} from "../vault/mod.ts";
import { EvaluatorError } from "./errors.ts";
import type { EvalResult, EvaluateOptions, Evaluator, RegressionCase } from "./eval_result.ts";
import { SandboxEvaluator } from "./evaluator.ts";
import { EVAL_REPEATS_MAX, EVAL_REPEATS_SCREEN } from "./limits.ts";

/** The job kind of an evaluation. */
export const EVALUATION_JOB_KIND = "evaluate";
/** Most sources one screening job carries. */
export const JOB_SOURCES_MAX = 64;
/** Sources per screening job by default (fewer when there are many slots to spread over). */
export const JOB_SOURCES_DEFAULT = 64;
/** Jobs per worker slot a screening call is split into at least (so a slow job does not hold the rest). */
export const JOBS_PER_SLOT = 1;
/** Longest one `evaluate()` waits for its jobs by default, ms. */
export const DISTRIBUTED_TIMEOUT_MS_DEFAULT = 30 * 60 * 1000;
/** Longest `evaluate()` waits with no worker alive before it gives up, ms. */
export const NO_WORKER_WAIT_MS_DEFAULT = 60_000;
/** A worker counts as alive when it announced itself within this many seconds. */
export const WORKER_SEEN_S = 30;
/** First poll interval while waiting; doubled up to the cap while nothing happens, ms. */
export const POLL_MS_MIN = 20;
/** Largest poll interval, ms. */
export const POLL_MS_MAX_DEFAULT = 1_000;
/** A worker's lease by default, seconds (renewed every third of it). */
export const WORKER_LEASE_S_DEFAULT = 30;
/** Most jobs one worker runs at once. */
export const WORKER_CONCURRENCY_MAX = 32;
/** How long a stopping worker lets its running jobs finish before it gives them back, ms. */
export const WORKER_STOP_GRACE_MS = 4_000;
/** How long a worker keeps retrying to store a result the database refused, in leases. */
export const FINISH_RETRY_LEASES = 2;
/** How often a worker deletes jobs past their retention (whichever worker does it, once is enough), ms. */
const PRUNE_EVERY_MS = 10 * 60 * 1000;
/** How long the slot count of the workers is reused before it is read again, ms. */
const SLOTS_CACHE_MS = 5_000;
/** How often the no-worker check runs while waiting, ms. */
const WORKER_CHECK_MS = 5_000;

/** The payload of an evaluation job. */
export interface EvaluationJob {
  v: 1;
  sources: string[];
  evalsFrom: string;
  options: EvaluateOptions;
  regression: RegressionCase[];
}

/** Options of a {@link PostgresEvaluator}. */
export interface PostgresEvaluatorOptions {
  /** Cases every candidate must also pass. @default [] */
  regression?: RegressionCase[];
  /** Most sources per screening job, at most {@link JOB_SOURCES_MAX}. @default JOB_SOURCES_DEFAULT */
  sourcesPerJobMax?: number;
  /** Claims a job gets before it fails. @default JOB_ATTEMPTS_DEFAULT */
  attemptsMax?: number;
  /** Longest one call waits for its jobs, ms. @default DISTRIBUTED_TIMEOUT_MS_DEFAULT */
  timeoutMs?: number;
  /** Longest one call waits with no worker alive, ms. @default NO_WORKER_WAIT_MS_DEFAULT */
  noWorkerWaitMs?: number;
  /** Largest poll interval while waiting, ms. @default POLL_MS_MAX_DEFAULT */
  pollMsMax?: number;
  /** Keep the finished jobs' rows (for inspection) instead of deleting them after each call. @default false */
  keepJobs?: boolean;
}

/** What a {@link PostgresEvaluator} did so far. */
export interface DistributedStats {
  calls: number;
  jobs: number;
  evaluations: number;
  /** Jobs that needed more than one claim (a worker died, was cut off, or failed transiently). */
  retriedJobs: number;
  /** Jobs that failed for good (their sources got failed results). */
  failedJobs: number;
  /** Batch id of the last call (its rows stay with `keepJobs`). */
  lastBatch: string | null;
}

/** A promise that a notification can resolve early; each `wait` clears its own timer. */
class Wakeup {
  #wake: (() => void) | null = null;
  #pending = false;

  /** Wakes the current (or the next) wait. */
  wake(): void {
    if (this.#wake !== null) this.#wake();
    else this.#pending = true;
  }

  /** @returns `true` when woken, `false` when `ms` passed. */
  wait(ms: number): Promise<boolean> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve(false);
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve(true);
      };
    });
  }
}

function checkRepeats(options: EvaluateOptions): void {
  const repeats = options.repeats ?? EVAL_REPEATS_SCREEN;
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > EVAL_REPEATS_MAX) {
    throw new RangeError(
      `Cannot evaluate as 'repeats' must be an integer in [1, ${EVAL_REPEATS_MAX}]: current value is ${repeats}`,
    );
  }
}

/**
 * Splits `count` sources into jobs (index lists).
 *
 * @param count Sources of the call.
 * @param options The call's options (`alone`, `interleave`).
 * @param slots Worker slots seen lately (0 when unknown).
 * @param perJobMax Most sources per screening job.
 * @returns The index lists, in order, covering every index once.
 */
export function splitJobs(
  count: number,
  options: EvaluateOptions,
  slots: number,
  perJobMax: number,
): number[][] {
  const all = Array.from({ length: count }, (_, i) => i);
  if (count === 0) return [];
  if (options.alone && options.interleave) return [all];
  const size = options.alone
    ? 1
    : Math.max(1, Math.min(perJobMax, Math.ceil(count / Math.max(1, slots * JOBS_PER_SLOT))));
  const jobs: number[][] = [];
  for (let at = 0; at < count; at += size) jobs.push(all.slice(at, at + size));
  return jobs;
}

function failedResults(count: number, error: string, alone: boolean): EvalResult[] {
  return Array.from({ length: count }, () => ({ ok: false, error, cases: [], alone }));
}

/** The {@link Evaluator} that hands work to the workers of a shared Postgres vault; see the module doc. */
export class PostgresEvaluator implements Evaluator {
  readonly #queue: JobQueue;
  readonly #regression: RegressionCase[];
  readonly #perJobMax: number;
  readonly #attemptsMax: number;
  readonly #timeoutMs: number;
  readonly #noWorkerWaitMs: number;
  readonly #pollMsMax: number;
  readonly #keepJobs: boolean;
  readonly #waiters = new Map<string, Wakeup>();
  readonly #stats: DistributedStats = {
    calls: 0,
    jobs: 0,
    evaluations: 0,
    retriedJobs: 0,
    failedJobs: 0,
    lastBatch: null,
  };
  #unlisten: Promise<() => Promise<void>> | null = null;
  #slots: { slots: number; at: number } | null = null;
  #onClose: (() => Promise<void>) | null = null;

  /**
   * @param queue The job queue of the shared vault.
   * @param options Regression set, job size, attempts, waits.
   * @throws {RangeError} For an option out of range.
   */
  constructor(queue: JobQueue, options: PostgresEvaluatorOptions = {}) {
    this.#queue = queue;
    this.#regression = options.regression ?? [];
    this.#perJobMax = options.sourcesPerJobMax ?? JOB_SOURCES_DEFAULT;
    if (!Number.isInteger(this.#perJobMax) || this.#perJobMax < 1 || this.#perJobMax > JOB_SOURCES_MAX) {
      throw new RangeError(
        `Cannot distribute as 'sourcesPerJobMax' must be an integer in [1, ${JOB_SOURCES_MAX}]: current value is ${this.#perJobMax}`,
      );
    }
    this.#attemptsMax = options.attemptsMax ?? JOB_ATTEMPTS_DEFAULT;
    this.#timeoutMs = options.timeoutMs ?? DISTRIBUTED_TIMEOUT_MS_DEFAULT;
    this.#noWorkerWaitMs = options.noWorkerWaitMs ?? NO_WORKER_WAIT_MS_DEFAULT;
    this.#pollMsMax = Math.max(POLL_MS_MIN, options.pollMsMax ?? POLL_MS_MAX_DEFAULT);
    this.#keepJobs = options.keepJobs ?? false;
    if (!(this.#timeoutMs > 0) || !(this.#noWorkerWaitMs > 0)) {
      throw new RangeError("Cannot distribute as 'timeoutMs' and 'noWorkerWaitMs' must be positive");
    }
  }

  /**
   * Opens the vault a URL names and its job queue.
   *
   * @param url `postgres://…[?schema=NAME]`.
   * @param options See {@link PostgresEvaluatorOptions}.
   * @returns The evaluator; {@link PostgresEvaluator.close} closes the vault connection too.
   * @throws {VaultError} `VAULT_CONFIG_INVALID` for a bad URL; `VAULT_BACKEND` when it cannot connect.
   */
  static async open(url: string, options: PostgresEvaluatorOptions = {}): Promise<PostgresEvaluator> {
    const queue = await JobQueue.connect(url);
    try {
      const evaluator = new PostgresEvaluator(queue, options);
      evaluator.#onClose = () => queue.close();
      return evaluator;
    } catch (e) {
      await queue.close();
      throw e;
    }
  }

  /** @returns What the evaluator did so far. */
  stats(): DistributedStats {
    return { ...this.#stats };
  }

  /** Stops listening; closes the vault when {@link PostgresEvaluator.open} opened it. */
  async close(): Promise<void> {
    const unlisten = this.#unlisten;
    this.#unlisten = null;
    if (unlisten !== null) await (await unlisten.catch(() => async () => {}))();
    await this.#onClose?.();
    this.#onClose = null;
  }

  /**
   * Evaluates every source on the workers; see {@link Evaluator.evaluate}. Sources of a job that failed
   * for good (its attempts spent, its result unusable) get failed results.
   *
   * @throws {EvaluatorError} `EVAL_LIVE_FAILED` when the live version does not load; `EVAL_TIMEOUT` past
   *   `timeoutMs`; `EVAL_NO_WORKERS` when no worker was alive for `noWorkerWaitMs`.
   * @throws {VaultError} `VAULT_BACKEND` when the vault fails.
   */
  async evaluate(sources: string[], evalsFrom: string, options: EvaluateOptions = {}): Promise<EvalResult[]> {
    checkRepeats(options);
    this.#stats.calls++;
    if (sources.length === 0) return [];
    const alone = options.alone ?? false;
    const chunks = splitJobs(sources.length, options, await this.#workerSlots(), this.#perJobMax);
    const payloads: EvaluationJob[] = chunks.map((c) => ({
      v: 1,
      sources: c.map((i) => sources[i]),
      evalsFrom,
      options,
      regression: this.#regression,
    }));
    const batch = `eval-${crypto.randomUUID()}`;
    this.#stats.lastBatch = batch;
    const wakeup = new Wakeup();
    this.#waiters.set(batch, wakeup);
    try {
      await this.#listen();
      await this.#queue.enqueue(batch, EVALUATION_JOB_KIND, payloads, this.#attemptsMax);
      this.#stats.jobs += chunks.length;
      const outcomes = await this.#wait(batch, chunks.length, wakeup);
      const results: EvalResult[] = new Array(sources.length);
      for (const [k, chunk] of chunks.entries()) {
        const got = this.#resultsOf(outcomes.get(k)!, chunk.length, alone);
        chunk.forEach((idx, j) => results[idx] = got[j]);
      }
      this.#stats.evaluations += sources.length;
      return results;
    } finally {
      this.#waiters.delete(batch);
      if (!this.#keepJobs) await this.#queue.cancel(batch).catch(() => {});
    }
  }

  #resultsOf(outcome: JobOutcome, count: number, alone: boolean): EvalResult[] {
    if (outcome.attempts > 1) this.#stats.retriedJobs++;
    if (outcome.status === "failed") {
      this.#stats.failedJobs++;
      const e = outcome.error!;
      return failedResults(count, `Evaluation job failed (${e.code}): ${e.message}`, alone);
    }
    const results = (outcome.result as { results?: unknown })?.results;
    if (!Array.isArray(results) || results.length !== count) {
      this.#stats.failedJobs++;
      return failedResults(count, "Evaluation job answered a malformed result", alone);
    }
    return results as EvalResult[];
  }

  async #wait(batch: string, total: number, wakeup: Wakeup): Promise<Map<number, JobOutcome>> {
    const started = Date.now();
    const got = new Map<number, JobOutcome>();
    let pollMs = POLL_MS_MIN;
    let workersSeenMs = started;
    let checkedMs = started;
    while (true) {
      for (const o of await this.#queue.outcomes(batch, [...got.keys()])) {
        if (o.status === "failed" && o.error?.code === "EVAL_LIVE_FAILED") {
          throw new EvaluatorError("EVAL_LIVE_FAILED", o.error.message);
        }
        got.set(o.index, o);
      }
      if (got.size >= total) return got;
      const now = Date.now();
      if (now - started > this.#timeoutMs) {
        throw new EvaluatorError(
          "EVAL_TIMEOUT",
          `Cannot evaluate: ${total - got.size} of ${total} jobs unfinished after ${this.#timeoutMs} ms`,
        );
      }
      if (now - checkedMs >= Math.min(WORKER_CHECK_MS, this.#noWorkerWaitMs / 2)) {
        checkedMs = now;
        const { workers } = await this.#queue.workerSlots(WORKER_SEEN_S);
        if (workers > 0) workersSeenMs = now;
        else if (now - workersSeenMs > this.#noWorkerWaitMs) {
          throw new EvaluatorError(
            "EVAL_NO_WORKERS",
            `Cannot evaluate: no worker attached to schema ${this.#queue.schema} for ${this.#noWorkerWaitMs} ms (start one with main.ts worker)`,
          );
        }
      }
      const woke = await wakeup.wait(pollMs);
      pollMs = woke ? POLL_MS_MIN : Math.min(pollMs * 2, this.#pollMsMax);
    }
  }

  /** One LISTEN for every call of this evaluator; a failure to listen leaves polling alone. */
  async #listen(): Promise<void> {
    this.#unlisten ??= this.#queue.onFinished((batch) => this.#waiters.get(batch)?.wake());
    await this.#unlisten.catch(() => {});
  }

  async #workerSlots(): Promise<number> {
    const now = Date.now();
    if (this.#slots === null || now - this.#slots.at > SLOTS_CACHE_MS) {
      const { slots } = await this.#queue.workerSlots(WORKER_SEEN_S);
      this.#slots = { slots, at: now };
    }
    return this.#slots.slots;
  }
}

/** What a worker reports, one event at a time (`main.ts worker` prints them as JSON lines). */
export type WorkerEvent =
  | { t: "ready"; worker: string; slots: number; lease_s: number; tier: Tier }
  | { t: "claimed"; worker: string; job: number; batch: string; attempt: number; sources: number }
  | { t: "done"; worker: string; job: number; accepted: boolean; ms: number; ok: boolean; error?: string }
  | { t: "lost"; worker: string; job: number }
  | { t: "released"; worker: string; job: number }
  | { t: "db_error"; worker: string; error: string }
  | { t: "stopped"; worker: string; stats: WorkerStats };

/** What a worker did. */
export interface WorkerStats {
  claimed: number;
  /** Jobs whose result (or failure) this worker stored. */
  finished: number;
  /** Jobs whose lease this worker lost before it could finish them. */
  lost: number;
  released: number;
}

/** Options of an {@link EvaluationWorker}. */
export interface EvaluationWorkerOptions {
  /** The worker's id in the queue. @default `HOST:PID:RANDOM` */
  id?: string;
  /** Jobs run at once, each in its own jail. @default the machine's cores */
  concurrency?: number;
  /** Lease length, seconds; renewed every third of it. @default WORKER_LEASE_S_DEFAULT */
  leaseS?: number;
  /** Sandbox tier of the evaluation jails. @default "jail" */
  tier?: Tier;
  /** Largest poll interval while the queue is empty, ms. @default POLL_MS_MAX_DEFAULT */
  pollMsMax?: number;
  /** Called with every event. @default nothing */
  onEvent?: (event: WorkerEvent) => void;
}

interface Slot {
  evaluator: SandboxEvaluator | null;
  regressionKey: string;
  job: ClaimedJob | null;
  lost: boolean;
}

/** The worker loop; see the module doc. */
export class EvaluationWorker {
  readonly id: string;
  readonly #queue: JobQueue;
  readonly #leaseS: number;
  readonly #tier: Tier;
  readonly #pollMsMax: number;
  readonly #emit: (event: WorkerEvent) => void;
  readonly #slots: Slot[];
  readonly #wakeup = new Wakeup();
  readonly #running = new Set<Promise<void>>();
  readonly #stats: WorkerStats = { claimed: 0, finished: 0, lost: 0, released: 0 };
  #prunedMs = 0;

  /**
   * @param queue The job queue of the shared vault.
   * @param options Id, concurrency, lease, tier, events.
   * @throws {RangeError} For a concurrency or lease out of range.
   */
  constructor(queue: JobQueue, options: EvaluationWorkerOptions = {}) {
    this.#queue = queue;
    this.id = options.id ?? `${hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
    const concurrency = options.concurrency ?? (navigator.hardwareConcurrency || 1);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > WORKER_CONCURRENCY_MAX) {
      throw new RangeError(
        `Cannot start a worker as 'concurrency' must be an integer in [1, ${WORKER_CONCURRENCY_MAX}]: current value is ${concurrency}`,
      );
    }
    this.#leaseS = options.leaseS ?? WORKER_LEASE_S_DEFAULT;
    if (!(this.#leaseS >= JOB_LEASE_S_MIN && this.#leaseS <= JOB_LEASE_S_MAX)) {
      throw new RangeError(
        `Cannot start a worker as 'leaseS' must be in [${JOB_LEASE_S_MIN}, ${JOB_LEASE_S_MAX}]: current value is ${this.#leaseS}`,
      );
    }
    this.#tier = options.tier ?? "jail";
    this.#pollMsMax = Math.max(POLL_MS_MIN, options.pollMsMax ?? POLL_MS_MAX_DEFAULT);
    this.#emit = options.onEvent ?? (() => {});
    this.#slots = Array.from({ length: concurrency }, () => ({
      evaluator: null,
      regressionKey: "",
      job: null,
      lost: false,
    }));
  }

  /** @returns What the worker did so far. */
  stats(): WorkerStats {
    return { ...this.#stats };
  }

  /**
   * Runs until `signal` aborts: claims jobs into free slots, runs them, renews leases, stores results.
   * On abort it stops claiming, lets running jobs finish for {@link WORKER_STOP_GRACE_MS}, gives the
   * rest back, and leaves the worker table.
   *
   * @returns What it did.
   */
  async run(signal: AbortSignal): Promise<WorkerStats> {
    const info = { id: this.id, host: hostname(), pid: Deno.pid, slots: this.#slots.length };
    await this.#queue.heartbeat(info);
    const unlisten = await this.#queue.onQueued(() => this.#wakeup.wake()).catch(() => null);
    const beat = setInterval(() => void this.#beat(info), (this.#leaseS * 1000) / 3);
    const onAbort = () => this.#wakeup.wake();
    signal.addEventListener("abort", onAbort);
    this.#emit({
      t: "ready",
      worker: this.id,
      slots: this.#slots.length,
      lease_s: this.#leaseS,
      tier: this.#tier,
    });
    try {
      await this.#loop(signal);
      await this.#drain();
    } finally {
      clearInterval(beat);
      signal.removeEventListener("abort", onAbort);
      await unlisten?.();
      await this.#queue.leave(this.id).catch(() => {});
      await Promise.all(this.#slots.map((s) => s.evaluator?.close()));
      this.#emit({ t: "stopped", worker: this.id, stats: this.stats() });
    }
    return this.stats();
  }

  async #loop(signal: AbortSignal): Promise<void> {
    let pollMs = POLL_MS_MIN;
    while (!signal.aborted) {
      const free = this.#slots.filter((s) => s.job === null);
      let claimed = 0;
      if (free.length > 0) {
        try {
          const jobs = await this.#queue.claim(this.id, {
            max: Math.min(free.length, JOB_CLAIM_JOBS_MAX),
            leaseS: this.#leaseS,
            kinds: [EVALUATION_JOB_KIND],
          });
          claimed = jobs.length;
          jobs.forEach((job, k) => this.#start(free[k], job));
        } catch (e) {
          this.#emit({ t: "db_error", worker: this.id, error: errorText(e) });
        }
      }
      if (signal.aborted) break;
      // A claim that filled some slots may find more work at once; otherwise wait for a notification,
      // a finished job, or the next poll.
      if (claimed > 0 && claimed < free.length) continue;
      const woke = await this.#wakeup.wait(pollMs);
      pollMs = woke || claimed > 0 ? POLL_MS_MIN : Math.min(pollMs * 2, this.#pollMsMax);
    }
  }

  #start(slot: Slot, job: ClaimedJob): void {
    slot.job = job;
    slot.lost = false;
    this.#stats.claimed++;
    const payload = job.payload as Partial<EvaluationJob>;
    this.#emit({
      t: "claimed",
      worker: this.id,
      job: job.id,
      batch: job.batch,
      attempt: job.attempt,
      sources: Array.isArray(payload?.sources) ? payload.sources.length : 0,
    });
    const running = this.#runJob(slot, job).finally(() => {
      slot.job = null;
      this.#running.delete(running);
      this.#wakeup.wake();
    });
    this.#running.add(running);
  }

  async #runJob(slot: Slot, job: ClaimedJob): Promise<void> {
    const started = performance.now();
    const outcome = await this.#evaluate(slot, job.payload);
    if (slot.lost) {
      this.#stats.lost++;
      this.#emit({ t: "lost", worker: this.id, job: job.id });
      return;
    }
    const accepted = await this.#finish(job, outcome);
    if (accepted) this.#stats.finished++;
    else this.#stats.lost++;
    this.#emit({
      t: accepted ? "done" : "lost",
      worker: this.id,
      job: job.id,
      accepted,
      ms: Math.round(performance.now() - started),
      ok: outcome.ok,
      ...(outcome.ok ? {} : { error: outcome.code }),
    } as WorkerEvent);
  }

  async #evaluate(slot: Slot, payload: unknown): Promise<Outcome> {
    const p = payload as EvaluationJob;
    if (
      p?.v !== 1 || !Array.isArray(p.sources) || typeof p.evalsFrom !== "string" ||
      typeof p.options !== "object" || !Array.isArray(p.regression)
    ) {
      return {
        ok: false,
        code: "JOB_PAYLOAD_INVALID",
        message: "The job is not an evaluation job",
        retry: false,
      };
    }
    try {
      const results = await this.#evaluatorFor(slot, p.regression).evaluate(
        p.sources,
        p.evalsFrom,
        p.options ?? {},
      );
      return { ok: true, results };
    } catch (e) {
      if (e instanceof EvaluatorError) return { ok: false, code: e.code, message: e.message, retry: false };
      if (e instanceof RangeError || e instanceof TypeError) {
        return { ok: false, code: "JOB_OPTIONS_INVALID", message: e.message, retry: false };
      }
      return { ok: false, code: "JOB_ERROR", message: errorText(e), retry: true };
    }
  }

  #evaluatorFor(slot: Slot, regression: RegressionCase[]): SandboxEvaluator {
    const key = regression.length === 0 ? "" : JSON.stringify(regression);
    if (slot.evaluator === null || slot.regressionKey !== key) {
      void slot.evaluator?.close();
      // One jail at a time per slot: the worker's concurrency is its number of slots.
      slot.evaluator = new SandboxEvaluator({ parallel: 1, tier: this.#tier, regression });
      slot.regressionKey = key;
    }
    return slot.evaluator;
  }

  /** Stores the outcome, retrying database failures for a while; `false` when the lease was lost. */
  async #finish(job: ClaimedJob, outcome: Outcome): Promise<boolean> {
    const deadline = Date.now() + FINISH_RETRY_LEASES * this.#leaseS * 1000;
    let waitMs = POLL_MS_MIN;
    while (true) {
      try {
        return outcome.ok
          ? await this.#queue.complete(job, { results: outcome.results })
          : await this.#queue.fail(job, { code: outcome.code, message: outcome.message }, {
            retry: outcome.retry,
          });
      } catch (e) {
        this.#emit({ t: "db_error", worker: this.id, error: errorText(e) });
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, waitMs));
        waitMs = Math.min(waitMs * 2, this.#pollMsMax);
      }
    }
  }

  /** Announces the worker and renews the lease of every running job; a lease lost is noted. */
  async #beat(info: { id: string; host: string; pid: number; slots: number }): Promise<void> {
    try {
      await this.#queue.heartbeat(info);
      if (Date.now() - this.#prunedMs > PRUNE_EVERY_MS) {
        this.#prunedMs = Date.now();
        await this.#queue.prune();
      }
      for (const slot of this.#slots) {
        const job = slot.job;
        if (job === null || slot.lost) continue;
        if (!await this.#queue.renew(job, this.#leaseS)) slot.lost = true;
      }
    } catch (e) {
      this.#emit({ t: "db_error", worker: this.id, error: errorText(e) });
    }
  }

  /** Lets running jobs finish within the grace, then gives the rest back. */
  async #drain(): Promise<void> {
    if (this.#running.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise((r) => timer = setTimeout(r, WORKER_STOP_GRACE_MS));
    await Promise.race([Promise.all(this.#running), grace]);
    clearTimeout(timer);
    for (const slot of this.#slots) {
      const job = slot.job;
      if (job === null || slot.lost) continue;
      slot.lost = true; // Its result, if it still comes, must not be stored after the release.
      if (await this.#queue.release(job).catch(() => false)) {
        this.#stats.released++;
        this.#emit({ t: "released", worker: this.id, job: job.id });
      }
    }
  }
}

type Outcome =
  | { ok: true; results: EvalResult[] }
  | { ok: false; code: string; message: string; retry: boolean };

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
