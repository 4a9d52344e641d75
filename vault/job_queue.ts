/**
 * The job queue in a shared Postgres vault: how evaluation scales past one machine (DESIGN.md
 * "Durability"). A job is a row of `SCHEMA.jobs` with a msgpack payload; any number of workers on any
 * number of nodes claim jobs with `FOR UPDATE SKIP LOCKED` (no two claim the same row, none waits on
 * another), each claim taking a lease that expires at a time of the database's clock (so the nodes'
 * clocks never matter).
 *
 * Guarantees:
 * - A job is *finished* at most once: `complete` and `fail` succeed only for the holder of the current
 *   lease (a fresh random token per claim), and only while the job is running. A worker that lost its
 *   lease (it was killed, partitioned or too slow, and another worker claimed the job after the lease
 *   expired) learns so from `complete` returning `false`; its result is dropped.
 * - A job is never lost: a running job whose lease expired is claimable again. Every claim counts an
 *   attempt; after `attemptsMax` attempts a job whose lease expires is failed with
 *   `JOB_ATTEMPTS_EXHAUSTED` instead of being retried forever.
 * - Results are stored with the job; the submitter reads them with {@link JobQueue.outcomes}. Each
 *   finish sends a `NOTIFY` with the batch id (and each enqueue one on the queued channel), so waiting is
 *   event-driven; notifications can be lost across reconnects, so callers also poll with backoff.
 *
 * Workers announce themselves in `SCHEMA.job_workers` ({@link JobQueue.heartbeat}); submitters size
 * their jobs by the slots of the workers seen lately ({@link JobQueue.workerSlots}).
 *
 * @example Enqueue, claim, complete, read back
 * ```ts ignore
 * import { JobQueue } from "./job_queue.ts";
 * const queue = await JobQueue.connect("postgres://postgres@127.0.0.1:5432/test?schema=jq_doc");
 * await queue.enqueue("b1", "echo", [{ n: 1 }, { n: 2 }]);
 * for (const job of await queue.claim("w1", { max: 2, leaseS: 30, kinds: ["echo"] })) {
 *   await queue.complete(job, { doubled: (job.payload as { n: number }).n * 2 });
 * }
 * console.log(await queue.outcomes("b1")); // [{ index: 0, status: "done", result: { doubled: 2 } }, …]
 * await queue.close();
 * ```
 *
 * @module
 */
import postgres from "postgres";
import { assert, decode, encode } from "../protocol/mod.ts";
import { backendError, redact } from "./backend.ts";
import { VaultError } from "./errors.ts";
import { parsePostgresUrl } from "./postgres_backend.ts";

/** Largest encoded payload of one job, bytes (enqueue refuses more with `VAULT_LIMIT`). */
export const JOB_PAYLOAD_BYTES_MAX = 16 * 1024 * 1024;
/** Largest encoded result of one job, bytes (a bigger result fails the job with `JOB_RESULT_TOO_LARGE`). */
export const JOB_RESULT_BYTES_MAX = 16 * 1024 * 1024;
/** Most jobs one `enqueue` call inserts. */
export const JOB_BATCH_JOBS_MAX = 10_000;
/** Most jobs one `claim` call takes. */
export const JOB_CLAIM_JOBS_MAX = 64;
/** Claims a job gets by default before a lease that expires fails it. */
export const JOB_ATTEMPTS_DEFAULT = 3;
/** Most claims a job may be given. */
export const JOB_ATTEMPTS_MAX = 100;
/** Shortest lease, seconds (a lease is renewed every third of its length). */
export const JOB_LEASE_S_MIN = 1;
/** Longest lease, seconds. */
export const JOB_LEASE_S_MAX = 3_600;
/**
 * Jobs older than this are deleted by {@link JobQueue.prune} whatever their status: a batch whose
 * submitter died is never collected, and its rows must not pile up.
 */
export const JOB_RETENTION_S = 24 * 60 * 60;
/** Longest stored error message, characters. */
export const JOB_ERROR_CHARS_MAX = 2_000;
/** Connections of a queue opened by {@link JobQueue.connect}. */
export const JOB_QUEUE_CONNECTIONS_MAX = 4;
/** Longest a connection attempt of {@link JobQueue.connect} may take, seconds. */
export const JOB_QUEUE_CONNECT_TIMEOUT_S = 10;
/**
 * Longest pause between reconnection attempts, seconds. The driver's default grows to 20 s, longer than
 * a lease: a worker back from a network cut would find every lease it held long gone.
 */
export const JOB_QUEUE_RECONNECT_S_MAX = 1;
/** Longest job kind, batch id or worker id, characters. */
export const JOB_NAME_CHARS_MAX = 200;

assert(JOB_CLAIM_JOBS_MAX <= JOB_BATCH_JOBS_MAX, "A claim takes fewer jobs than a batch may hold");
assert(JOB_ATTEMPTS_DEFAULT <= JOB_ATTEMPTS_MAX, "The default attempt count must be allowed");
assert(JOB_LEASE_S_MIN >= 1, "A lease must outlive a round trip to the database");

type Sql = ReturnType<typeof postgres>;
type Row = Record<string, unknown>;

/** Where a job is. */
export type JobStatus = "queued" | "running" | "done" | "failed";

/** A job a worker holds the lease of. */
export interface ClaimedJob {
  id: number;
  kind: string;
  batch: string;
  /** Position of the job in its batch. */
  index: number;
  payload: unknown;
  /** This claim's number, from 1. */
  attempt: number;
  attemptsMax: number;
  /** The lease's token: only its holder may finish the job. */
  token: string;
}

/** A finished job, as the submitter reads it. */
export interface JobOutcome {
  index: number;
  status: "done" | "failed";
  /** The result of a done job. */
  result?: unknown;
  /** Why a failed job failed. */
  error?: { code: string; message: string };
  attempts: number;
  /** The worker that finished it. */
  doneBy: string | null;
}

/** A job's row without its payload and result (for inspection and tests). */
export interface JobRow {
  id: number;
  kind: string;
  batch: string;
  index: number;
  status: JobStatus;
  attempts: number;
  attemptsMax: number;
  leaseOwner: string | null;
  doneBy: string | null;
  errorCode: string | null;
}

/** A worker as it announces itself. */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  /** Jobs it runs at once. */
  slots: number;
}

/** Options of {@link JobQueue.claim}. */
export interface ClaimOptions {
  /** Most jobs taken. @default 1 */
  max?: number;
  /** Lease length, seconds. */
  leaseS: number;
  /** Only jobs of these kinds. */
  kinds: readonly string[];
}

/** The two notification channels of a schema (Postgres identifiers are at most 63 bytes). */
function channels(schema: string): { queued: string; finished: string } {
  return { queued: `o_jobs_q_${schema}`.slice(0, 63), finished: `o_jobs_f_${schema}`.slice(0, 63) };
}

function checkName(what: string, value: string): void {
  if (typeof value !== "string" || value.length === 0 || value.length > JOB_NAME_CHARS_MAX) {
    throw new VaultError(
      "VAULT_ENTRY_INVALID",
      `Cannot use job ${what}: 1 to ${JOB_NAME_CHARS_MAX} chars, current value is ${
        String(value).slice(0, 40)
      }`,
    );
  }
}

function checkLease(leaseS: number): void {
  if (!Number.isFinite(leaseS) || leaseS < JOB_LEASE_S_MIN || leaseS > JOB_LEASE_S_MAX) {
    throw new RangeError(
      `Cannot lease a job as 'leaseS' must be in [${JOB_LEASE_S_MIN}, ${JOB_LEASE_S_MAX}]: current value is ${leaseS}`,
    );
  }
}

function bytesOf(v: unknown): Uint8Array {
  const b = v as Uint8Array;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** The queue on one vault schema; see the module doc. */
export class JobQueue {
  readonly schema: string;
  readonly #sql: Sql;
  readonly #channels: { queued: string; finished: string };
  #owned = false;

  /** Use {@link JobQueue.open} or {@link JobQueue.connect}. */
  constructor(sql: Sql, schema: string) {
    this.#sql = sql;
    this.schema = schema;
    this.#channels = channels(schema);
  }

  /**
   * Connects to a Postgres vault on connections of the queue's own (reconnecting within
   * {@link JOB_QUEUE_RECONNECT_S_MAX} after a network cut) and creates the queue's tables when missing.
   *
   * @param url `postgres://user@host:port/db[?schema=NAME]` (schema `o` by default).
   * @returns The queue; {@link JobQueue.close} closes its connections.
   * @throws {VaultError} `VAULT_CONFIG_INVALID` for a bad URL; `VAULT_BACKEND` when it cannot connect.
   */
  static async connect(url: string): Promise<JobQueue> {
    const target = parsePostgresUrl(url);
    const sql = postgres(target.url, {
      max: JOB_QUEUE_CONNECTIONS_MAX,
      connect_timeout: JOB_QUEUE_CONNECT_TIMEOUT_S,
      backoff: (retries: number) => Math.min(0.05 * 2 ** retries, JOB_QUEUE_RECONNECT_S_MAX),
      onnotice: () => {},
    });
    try {
      const queue = await JobQueue.open({ sql, schema: target.schema });
      queue.#owned = true;
      return queue;
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw backendError(`Cannot open the job queue of ${redact(url)}`, e);
    }
  }

  /** Closes the connections when {@link JobQueue.connect} opened them (a shared backend closes its own). */
  async close(): Promise<void> {
    if (this.#owned) await this.#sql.end({ timeout: 5 }).catch(() => {});
  }

  /**
   * Creates the queue's tables in the backend's schema when missing (under an advisory lock, so nodes
   * starting together do not race).
   *
   * @param backend An open Postgres backend (its driver and schema).
   * @returns The queue, sharing the backend's connections.
   * @throws {VaultError} `VAULT_BACKEND` when the tables cannot be made.
   */
  static async open(backend: { sql: Sql; schema: string }): Promise<JobQueue> {
    const { sql, schema } = backend;
    const t = (name: string) => sql(`${schema}.${name}`);
    try {
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${`o.vault.jobs.${schema}`}))`;
        await tx`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`;
        await tx`CREATE TABLE IF NOT EXISTS ${t("jobs")} (
          id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, batch TEXT NOT NULL, idx INTEGER NOT NULL,
          payload BYTEA NOT NULL, status TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
          attempts_max INTEGER NOT NULL, lease_owner TEXT, lease_token TEXT, lease_expires TIMESTAMPTZ,
          result BYTEA, error_code TEXT, error_message TEXT, done_by TEXT,
          created_at TIMESTAMPTZ NOT NULL DEFAULT now(), finished_at TIMESTAMPTZ,
          UNIQUE (batch, idx))`;
        await tx`CREATE INDEX IF NOT EXISTS jobs_created ON ${t("jobs")} (created_at)`;
        await tx`CREATE INDEX IF NOT EXISTS jobs_open ON ${
          t("jobs")
        } (id) WHERE status IN ('queued', 'running')`;
        await tx`CREATE TABLE IF NOT EXISTS ${t("job_workers")} (
          id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, slots INTEGER NOT NULL,
          started_at TIMESTAMPTZ NOT NULL DEFAULT now(), seen_at TIMESTAMPTZ NOT NULL DEFAULT now())`;
      });
    } catch (e) {
      throw backendError(`Cannot create the job queue in schema ${schema}`, e);
    }
    return new JobQueue(sql, schema);
  }

  #t(name: string) {
    return this.#sql(`${this.schema}.${name}`);
  }

  async #run<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      throw backendError(action, e);
    }
  }

  /**
   * Adds a batch of jobs (one transaction) and wakes the workers.
   *
   * @param batch The batch id (unique per submission; the outcomes are read by it).
   * @param kind What the payloads are (workers claim only kinds they know).
   * @param payloads One msgpack-encodable payload per job; job `i` gets index `i`.
   * @param attemptsMax Claims each job gets. @default JOB_ATTEMPTS_DEFAULT
   * @returns The job ids, in order.
   * @throws {VaultError} `VAULT_LIMIT` for too many jobs or a payload over {@link JOB_PAYLOAD_BYTES_MAX};
   *   `VAULT_ENTRY_INVALID` for a bad name; `VAULT_BACKEND` when the database fails.
   */
  async enqueue(
    batch: string,
    kind: string,
    payloads: readonly unknown[],
    attemptsMax: number = JOB_ATTEMPTS_DEFAULT,
  ): Promise<number[]> {
    checkName("batch", batch);
    checkName("kind", kind);
    if (payloads.length === 0 || payloads.length > JOB_BATCH_JOBS_MAX) {
      throw new VaultError(
        "VAULT_LIMIT",
        `Cannot enqueue ${payloads.length} jobs: 1 to ${JOB_BATCH_JOBS_MAX} per batch`,
      );
    }
    if (!Number.isInteger(attemptsMax) || attemptsMax < 1 || attemptsMax > JOB_ATTEMPTS_MAX) {
      throw new RangeError(
        `Cannot enqueue as 'attemptsMax' must be an integer in [1, ${JOB_ATTEMPTS_MAX}]: current value is ${attemptsMax}`,
      );
    }
    const rows = payloads.map((p, idx) => {
      const bytes = encode(p);
      if (bytes.length > JOB_PAYLOAD_BYTES_MAX) {
        throw new VaultError(
          "VAULT_LIMIT",
          `Cannot enqueue job ${idx} of ${batch}: ${bytes.length} bytes, max ${JOB_PAYLOAD_BYTES_MAX}`,
        );
      }
      return { kind, batch, idx, payload: bytes, attempts_max: attemptsMax };
    });
    return await this.#run(`Cannot enqueue batch ${batch}`, async () => {
      const ids = await this.#sql.begin(async (tx) => {
        const out = await tx<Row[]>`
          INSERT INTO ${this.#t("jobs")} ${tx(rows, "kind", "batch", "idx", "payload", "attempts_max")}
          RETURNING id, idx`;
        await tx`SELECT pg_notify(${this.#channels.queued}, ${String(rows.length)})`;
        return out;
      });
      const byIndex = new Map(ids.map((r) => [Number(r.idx), Number(r.id)]));
      assert(byIndex.size === rows.length, "An insert returns one id per job");
      return rows.map((r) => byIndex.get(r.idx)!);
    });
  }

  /**
   * Fails every running job whose lease expired after its last allowed attempt (so a job that kills
   * every worker it lands on ends instead of circling). Runs inside claim and outcomes.
   */
  async #expireExhausted(): Promise<void> {
    const t = this.#t("jobs");
    await this.#sql`
      WITH dead AS (
        SELECT id FROM ${t} WHERE status = 'running' AND lease_expires < now() AND attempts >= attempts_max
        FOR UPDATE SKIP LOCKED),
      failed AS (
        UPDATE ${t} j SET status = 'failed', error_code = 'JOB_ATTEMPTS_EXHAUSTED',
          error_message = 'The job''s lease expired after its last attempt (' || j.attempts || ' of ' ||
            j.attempts_max || ', last held by ' || coalesce(j.lease_owner, '?') || ')',
          finished_at = now(), lease_token = NULL, lease_expires = NULL
        FROM dead WHERE j.id = dead.id RETURNING j.batch)
      SELECT pg_notify(${this.#channels.finished}, batch) FROM (SELECT DISTINCT batch FROM failed) b`;
  }

  /**
   * Claims up to `max` jobs: queued ones, and running ones whose lease expired (their worker is gone or
   * cut off), oldest first, skipping rows another worker is claiming right now.
   *
   * @param worker The claiming worker's id (recorded as the lease owner).
   * @param options How many, the lease length, the kinds this worker runs.
   * @returns The claimed jobs (possibly none), each with its lease token.
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async claim(worker: string, options: ClaimOptions): Promise<ClaimedJob[]> {
    checkName("worker", worker);
    checkLease(options.leaseS);
    const max = options.max ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > JOB_CLAIM_JOBS_MAX) {
      throw new RangeError(
        `Cannot claim as 'max' must be an integer in [1, ${JOB_CLAIM_JOBS_MAX}]: current value is ${max}`,
      );
    }
    const kinds = [...options.kinds];
    return await this.#run(`Cannot claim jobs for ${worker}`, async () => {
      await this.#expireExhausted();
      const t = this.#t("jobs");
      const rows = await this.#sql<Row[]>`
        WITH picked AS (
          SELECT id FROM ${t}
          WHERE (status = 'queued' OR (status = 'running' AND lease_expires < now()))
            AND attempts < attempts_max AND kind = ANY(${kinds}::text[])
          ORDER BY id LIMIT ${max} FOR UPDATE SKIP LOCKED)
        UPDATE ${t} j SET status = 'running', attempts = j.attempts + 1, lease_owner = ${worker},
          lease_token = gen_random_uuid()::text,
          lease_expires = now() + make_interval(secs => ${options.leaseS})
        FROM picked WHERE j.id = picked.id
        RETURNING j.id, j.kind, j.batch, j.idx, j.payload, j.attempts, j.attempts_max, j.lease_token`;
      const jobs = rows.map((r) => ({
        id: Number(r.id),
        kind: String(r.kind),
        batch: String(r.batch),
        index: Number(r.idx),
        payload: decode(bytesOf(r.payload)),
        attempt: Number(r.attempts),
        attemptsMax: Number(r.attempts_max),
        token: String(r.lease_token),
      }));
      for (const job of jobs) assert(job.attempt <= job.attemptsMax, "A claim never exceeds the attempts");
      return jobs.sort((a, b) => a.id - b.id);
    });
  }

  /**
   * Extends a lease from now.
   *
   * @returns `false` when the lease is no longer this holder's (the job was reclaimed, finished or
   *   cancelled): the holder should stop caring about the job.
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async renew(job: ClaimedJob, leaseS: number): Promise<boolean> {
    checkLease(leaseS);
    return await this.#run(`Cannot renew the lease of job ${job.id}`, async () => {
      const r = await this.#sql`
        UPDATE ${this.#t("jobs")} SET lease_expires = now() + make_interval(secs => ${leaseS})
        WHERE id = ${job.id} AND lease_token = ${job.token} AND status = 'running'`;
      return r.count === 1;
    });
  }

  /**
   * Stores a job's result and marks it done — only if `job` still holds the lease.
   *
   * @returns `true` when stored; `false` when the lease was lost (the result is dropped, the job is or
   *   will be done by its new holder).
   * @throws {VaultError} `VAULT_BACKEND` when the database fails (the caller may retry: a retry after a
   *   commit whose answer was lost returns `false`, never a second completion).
   */
  async complete(job: ClaimedJob, result: unknown): Promise<boolean> {
    const bytes = encode(result);
    if (bytes.length > JOB_RESULT_BYTES_MAX) {
      return await this.fail(job, {
        code: "JOB_RESULT_TOO_LARGE",
        message: `The result of job ${job.id} has ${bytes.length} bytes, max ${JOB_RESULT_BYTES_MAX}`,
      }, { retry: false });
    }
    return await this.#run(`Cannot complete job ${job.id}`, async () => {
      const rows = await this.#sql<Row[]>`
        WITH done AS (
          UPDATE ${this.#t("jobs")} SET status = 'done', result = ${bytes}, done_by = lease_owner,
            finished_at = now(), lease_token = NULL, lease_expires = NULL
          WHERE id = ${job.id} AND lease_token = ${job.token} AND status = 'running'
          RETURNING batch)
        SELECT pg_notify(${this.#channels.finished}, batch) FROM done`;
      assert(rows.length <= 1, "A job is completed at most once");
      return rows.length === 1;
    });
  }

  /**
   * Ends a job's attempt with an error — only if `job` still holds the lease. With `retry`, the job goes
   * back to the queue when attempts remain; otherwise (or without retry) it is failed for good.
   *
   * @returns Whether this holder's lease was still valid.
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async fail(
    job: ClaimedJob,
    error: { code: string; message: string },
    options: { retry: boolean },
  ): Promise<boolean> {
    const message = error.message.slice(0, JOB_ERROR_CHARS_MAX);
    const retry = options.retry;
    return await this.#run(`Cannot fail job ${job.id}`, async () => {
      const rows = await this.#sql<Row[]>`
        WITH ended AS (
          UPDATE ${this.#t("jobs")} SET
            status = CASE WHEN ${retry} AND attempts < attempts_max THEN 'queued' ELSE 'failed' END,
            error_code = ${error.code}, error_message = ${message},
            done_by = CASE WHEN ${retry} AND attempts < attempts_max THEN NULL ELSE lease_owner END,
            finished_at = CASE WHEN ${retry} AND attempts < attempts_max THEN NULL ELSE now() END,
            lease_owner = NULL, lease_token = NULL, lease_expires = NULL
          WHERE id = ${job.id} AND lease_token = ${job.token} AND status = 'running'
          RETURNING batch, status)
        SELECT status, CASE WHEN status = 'failed' THEN pg_notify(${this.#channels.finished}, batch) END
        FROM ended`;
      if (rows.length === 1 && rows[0].status === "queued") await this.#wakeWorkers();
      return rows.length === 1;
    });
  }

  /**
   * Gives a job back without counting the attempt (the worker is stopping, not the job failing).
   *
   * @returns Whether this holder's lease was still valid.
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async release(job: ClaimedJob): Promise<boolean> {
    return await this.#run(`Cannot release job ${job.id}`, async () => {
      const r = await this.#sql`
        UPDATE ${this.#t("jobs")} SET status = 'queued', attempts = attempts - 1, lease_owner = NULL,
          lease_token = NULL, lease_expires = NULL
        WHERE id = ${job.id} AND lease_token = ${job.token} AND status = 'running'`;
      if (r.count === 1) await this.#wakeWorkers();
      return r.count === 1;
    });
  }

  async #wakeWorkers(): Promise<void> {
    await this.#sql`SELECT pg_notify(${this.#channels.queued}, '1')`;
  }

  /**
   * The finished jobs of a batch (done or failed), by index; fails exhausted jobs first.
   *
   * @param batch The batch id.
   * @param skip Indices already read (their rows are not fetched again).
   * @returns The outcomes, sorted by index.
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async outcomes(batch: string, skip: readonly number[] = []): Promise<JobOutcome[]> {
    return await this.#run(`Cannot read the outcomes of batch ${batch}`, async () => {
      await this.#expireExhausted();
      const rows = await this.#sql<Row[]>`
        SELECT idx, status, result, error_code, error_message, attempts, done_by FROM ${this.#t("jobs")}
        WHERE batch = ${batch} AND status IN ('done', 'failed') AND NOT (idx = ANY(${[...skip]}::int[]))
        ORDER BY idx`;
      return rows.map((r) => ({
        index: Number(r.idx),
        status: r.status as "done" | "failed",
        ...(r.status === "done" ? { result: decode(bytesOf(r.result)) } : {
          error: { code: String(r.error_code), message: String(r.error_message ?? "") },
        }),
        attempts: Number(r.attempts),
        doneBy: r.done_by === null ? null : String(r.done_by),
      }));
    });
  }

  /**
   * Every job of a batch, without payloads or results (for inspection and tests).
   *
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async jobs(batch: string): Promise<JobRow[]> {
    return await this.#run(`Cannot list the jobs of batch ${batch}`, async () => {
      const rows = await this.#sql<Row[]>`
        SELECT id, kind, batch, idx, status, attempts, attempts_max, lease_owner, done_by, error_code
        FROM ${this.#t("jobs")} WHERE batch = ${batch} ORDER BY idx`;
      return rows.map((r) => ({
        id: Number(r.id),
        kind: String(r.kind),
        batch: String(r.batch),
        index: Number(r.idx),
        status: r.status as JobStatus,
        attempts: Number(r.attempts),
        attemptsMax: Number(r.attempts_max),
        leaseOwner: r.lease_owner === null ? null : String(r.lease_owner),
        doneBy: r.done_by === null ? null : String(r.done_by),
        errorCode: r.error_code === null ? null : String(r.error_code),
      }));
    });
  }

  /**
   * Deletes every job of a batch, whatever its status (a worker still running one then finds its lease
   * gone and drops its result).
   *
   * @returns How many rows were deleted.
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async cancel(batch: string): Promise<number> {
    return await this.#run(`Cannot cancel batch ${batch}`, async () => {
      const r = await this.#sql`DELETE FROM ${this.#t("jobs")} WHERE batch = ${batch}`;
      return r.count;
    });
  }

  /**
   * Deletes jobs created more than `olderThanS` seconds ago, whatever their status (their submitter has
   * long stopped waiting), and workers not seen for as long.
   *
   * @returns How many jobs were deleted.
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async prune(olderThanS: number = JOB_RETENTION_S): Promise<number> {
    if (!(olderThanS >= 0)) {
      throw new RangeError(`Cannot prune jobs as 'olderThanS' must be >= 0: current value is ${olderThanS}`);
    }
    return await this.#run("Cannot prune old jobs", async () => {
      const r = await this.#sql`
        DELETE FROM ${this.#t("jobs")} WHERE created_at < now() - make_interval(secs => ${olderThanS})`;
      await this.#sql`
        DELETE FROM ${this.#t("job_workers")} WHERE seen_at < now() - make_interval(secs => ${olderThanS})`;
      return r.count;
    });
  }

  /**
   * Records that a worker is alive (and how many jobs it runs at once).
   *
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async heartbeat(worker: WorkerInfo): Promise<void> {
    checkName("worker", worker.id);
    await this.#run(`Cannot record worker ${worker.id}`, async () => {
      await this.#sql`
        INSERT INTO ${this.#t("job_workers")} (id, host, pid, slots)
        VALUES (${worker.id}, ${worker.host}, ${worker.pid}, ${worker.slots})
        ON CONFLICT (id) DO UPDATE SET seen_at = now(), slots = EXCLUDED.slots`;
    });
  }

  /**
   * Forgets a worker (it is stopping).
   *
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async leave(workerId: string): Promise<void> {
    await this.#run(`Cannot remove worker ${workerId}`, async () => {
      await this.#sql`DELETE FROM ${this.#t("job_workers")} WHERE id = ${workerId}`;
    });
  }

  /**
   * Job slots of the workers seen within the last `withinS` seconds.
   *
   * @throws {VaultError} `VAULT_BACKEND` when the database fails.
   */
  async workerSlots(withinS: number): Promise<{ workers: number; slots: number }> {
    return await this.#run("Cannot count workers", async () => {
      const rows = await this.#sql<Row[]>`
        SELECT count(*) AS workers, coalesce(sum(slots), 0) AS slots FROM ${this.#t("job_workers")}
        WHERE seen_at > now() - make_interval(secs => ${withinS})`;
      return { workers: Number(rows[0].workers), slots: Number(rows[0].slots) };
    });
  }

  /**
   * Calls `fn` whenever jobs are queued (on a connection of its own; re-listens after a reconnect).
   *
   * @returns A function that stops listening.
   * @throws {VaultError} `VAULT_BACKEND` when LISTEN fails.
   */
  async onQueued(fn: () => void): Promise<() => Promise<void>> {
    return await this.#listen(this.#channels.queued, () => fn());
  }

  /**
   * Calls `fn` with the batch id whenever a job of a batch finishes.
   *
   * @returns A function that stops listening.
   * @throws {VaultError} `VAULT_BACKEND` when LISTEN fails.
   */
  async onFinished(fn: (batch: string) => void): Promise<() => Promise<void>> {
    return await this.#listen(this.#channels.finished, fn);
  }

  async #listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>> {
    return await this.#run(`Cannot listen on ${channel}`, async () => {
      const { unlisten } = await this.#sql.listen(channel, fn);
      return async () => {
        await unlisten().catch(() => {});
      };
    });
  }
}
