/**
 * Scheduled tasks, the pure part: job specs (what `POST /v1/jobs` accepts), schedules (an interval or a
 * five-field cron expression, UTC), triggers (an agent's error rate above a threshold, negative feedback),
 * and the choice of which waiting jobs start now under the concurrency limits. The supervisor side
 * (supervisor/jobs.ts) persists the records in the vault, runs them and resumes them after a restart.
 *
 * @module
 */
import { OError } from "../protocol/mod.ts";
import { GENERATIONS_MAX, POPULATION_SIZE_MAX } from "./limits.ts";

/** What a job does. */
export type JobKind =
  | "evolve"
  | "red-team"
  | "coevolve"
  | "compact"
  | "feedback"
  | "autofix"
  | "dsl"
  | "memory";

/** Every job kind. */
export const JOB_KINDS: readonly JobKind[] = [
  "evolve",
  "red-team",
  "coevolve",
  "compact",
  "feedback",
  "autofix",
  "dsl",
  "memory",
];

/** Where a job is. */
export type JobStatus = "queued" | "running" | "scheduled" | "done" | "failed" | "cancelled";

/** Jobs running at once across the supervisor (each uses jails and a core). */
export const JOBS_RUNNING_MAX = 2;
/** Shortest interval of a schedule, ms. */
export const JOB_INTERVAL_MS_MIN = 1_000;
/** Longest budget of one run, s. */
export const JOB_BUDGET_S_MAX = 24 * 3600;
/** A trigger does not fire again within this long of the job's last run, ms (unless the job says). */
export const TRIGGER_COOLDOWN_MS_DEFAULT = 60_000;
/** Requests the live version must have answered before its error rate can fire a trigger. */
export const TRIGGER_REQUESTS_MIN = 10;
/** Minutes a cron search looks ahead (a year). */
const CRON_SEARCH_MINUTES_MAX = 366 * 24 * 60;

/** Thrown for a malformed job spec (`INVALID_INPUT`). */
export class JobSpecError extends OError {
  constructor(message: string) {
    super("INVALID_INPUT", message);
  }
}

/** When a job runs again. */
export interface Schedule {
  every_ms?: number;
  cron?: string;
}

/** What starts a job besides its schedule. */
export interface Trigger {
  /** The live version's error rate (over its answered requests) above this. */
  error_rate_above?: number;
  /** At least this many negative feedback records since the job last ran. */
  negative_feedback_at_least?: number;
  /** @default TRIGGER_COOLDOWN_MS_DEFAULT */
  cooldown_ms?: number;
}

/** A job as asked for. */
export interface JobSpec {
  kind: JobKind;
  agent: string | null;
  schedule: Schedule | null;
  trigger: Trigger | null;
  seed: string;
  generations: number | null;
  population: number | null;
  budget_s: number | null;
  /** Runs of a recurring job before it is done. */
  runs_max: number | null;
  /** Kind-specific knobs (e.g. `rounds` of a co-evolution). */
  params: Record<string, unknown>;
}

/** A job as stored (`GET /v1/jobs/{id}`). */
export interface JobRecord extends JobSpec {
  id: string;
  status: JobStatus;
  created_ms: number;
  updated_ms: number;
  started_ms: number | null;
  finished_ms: number | null;
  next_run_ms: number | null;
  last_run_ms: number | null;
  runs: number;
  /** Why the current or last run started: `queued`, `schedule`, a trigger's reason, `resumed`. */
  reason: string | null;
  /** Where a running job is (generation, round, …). */
  progress: Record<string, unknown> | null;
  result: unknown;
  error: string | null;
  /** A kind's resumable state (a co-evolution's rounds, a submitted candidate). */
  state: Record<string, unknown> | null;
}

function integerIn(body: Record<string, unknown>, key: string, min: number, max: number): number | null {
  const v = body[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new JobSpecError(
      `Cannot create job: '${key}' must be an integer in [${min}, ${max}]: current value is ${v}`,
    );
  }
  return v;
}

/**
 * Checks a `POST /v1/jobs` body.
 *
 * @param body The parsed JSON body.
 * @param agentExists Whether an agent of that name is registered.
 * @returns The spec.
 * @throws {JobSpecError} Naming the first bad field.
 */
export function parseJobSpec(body: unknown, agentExists: (name: string) => boolean): JobSpec {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new JobSpecError("Cannot create job: the body must be an object");
  }
  const b = body as Record<string, unknown>;
  if (typeof b.kind !== "string" || !(JOB_KINDS as readonly string[]).includes(b.kind)) {
    throw new JobSpecError(`Cannot create job: 'kind' must be one of ${JOB_KINDS.join(", ")}`);
  }
  const kind = b.kind as JobKind;
  const agent = b.agent === undefined || b.agent === null ? null : b.agent;
  if (agent !== null && (typeof agent !== "string" || !agentExists(agent))) {
    throw new JobSpecError(`Cannot create job: no agent '${String(agent)}'`);
  }
  if (agent === null && kind !== "compact") {
    throw new JobSpecError(`Cannot create job: '${kind}' needs an 'agent'`);
  }
  const budget = b.budget_s;
  if (
    budget !== undefined && budget !== null &&
    !(typeof budget === "number" && budget > 0 && budget <= JOB_BUDGET_S_MAX)
  ) {
    throw new JobSpecError(`Cannot create job: 'budget_s' must be a number in (0, ${JOB_BUDGET_S_MAX}]`);
  }
  const params = b.params ?? {};
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new JobSpecError("Cannot create job: 'params' must be an object");
  }
  return {
    kind,
    agent,
    schedule: b.schedule === undefined || b.schedule === null ? null : parseSchedule(b.schedule),
    trigger: b.trigger === undefined || b.trigger === null ? null : parseTrigger(b.trigger),
    seed: b.seed === undefined || b.seed === null ? "1" : String(b.seed),
    generations: integerIn(b, "generations", 0, GENERATIONS_MAX),
    population: integerIn(b, "population", 2, POPULATION_SIZE_MAX),
    budget_s: (budget as number | undefined) ?? null,
    runs_max: integerIn(b, "runs_max", 1, 1_000_000),
    params: params as Record<string, unknown>,
  };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A schedule from its forms: milliseconds (`60000`), an interval (`"30s"`, `"every 5m"`, `"@every 1h"`),
 * a cron expression (`"*\/5 * * * *"`), or an object `{every_ms}` / `{cron}`.
 *
 * @throws {JobSpecError} When it is none of these, or an interval is under {@link JOB_INTERVAL_MS_MIN}.
 */
export function parseSchedule(value: unknown): Schedule {
  let every: number | null = null;
  if (typeof value === "number") every = value;
  else if (typeof value === "string") {
    const m = /^\s*(?:@?every\s+)?(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/i.exec(value);
    if (m) every = Number(m[1]) * UNIT_MS[m[2].toLowerCase()];
    else {
      parseCron(value);
      return { cron: value.trim() };
    }
  } else if (typeof value === "object" && value !== null) {
    const v = value as Record<string, unknown>;
    if (typeof v.cron === "string") {
      parseCron(v.cron);
      return { cron: v.cron.trim() };
    }
    if (typeof v.every_ms === "number") every = v.every_ms;
  }
  if (every === null || !Number.isFinite(every)) {
    throw new JobSpecError(
      "Cannot create job: 'schedule' must be ms, an interval like \"30s\" or a cron expression",
    );
  }
  if (every < JOB_INTERVAL_MS_MIN) {
    throw new JobSpecError(
      `Cannot create job: the interval must be at least ${JOB_INTERVAL_MS_MIN} ms: current value is ${every}`,
    );
  }
  return { every_ms: Math.round(every) };
}

function parseTrigger(value: unknown): Trigger {
  if (typeof value !== "object" || value === null) {
    throw new JobSpecError("Cannot create job: 'trigger' must be an object");
  }
  const v = value as Record<string, unknown>;
  const out: Trigger = {};
  if (v.error_rate_above !== undefined) {
    if (typeof v.error_rate_above !== "number" || !(v.error_rate_above >= 0 && v.error_rate_above < 1)) {
      throw new JobSpecError("Cannot create job: 'trigger.error_rate_above' must be in [0, 1)");
    }
    out.error_rate_above = v.error_rate_above;
  }
  if (v.negative_feedback_at_least !== undefined) {
    const n = v.negative_feedback_at_least;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
      throw new JobSpecError(
        "Cannot create job: 'trigger.negative_feedback_at_least' must be a positive integer",
      );
    }
    out.negative_feedback_at_least = n;
  }
  if (v.cooldown_ms !== undefined) {
    if (typeof v.cooldown_ms !== "number" || !(v.cooldown_ms >= 0)) {
      throw new JobSpecError("Cannot create job: 'trigger.cooldown_ms' must be a non-negative number");
    }
    out.cooldown_ms = v.cooldown_ms;
  }
  if (out.error_rate_above === undefined && out.negative_feedback_at_least === undefined) {
    throw new JobSpecError(
      "Cannot create job: a 'trigger' needs 'error_rate_above' or 'negative_feedback_at_least'",
    );
  }
  return out;
}

/** A parsed cron expression: the allowed values of each field. */
export interface CronSpec {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** Whether day-of-month and day-of-week were both restricted (then either may match, as in cron). */
  eitherDay: boolean;
}

const CRON_FIELDS: [number, number][] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];

function cronField(text: string, [min, max]: [number, number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new JobSpecError(`Cannot parse cron field '${text}'`);
    const from = m[1] === "*" ? min : Number(m[2]);
    const to = m[1] === "*" ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (from < min || to > max || from > to || step < 1) {
      throw new JobSpecError(`Cannot parse cron field '${text}': out of ${min}-${max}`);
    }
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return out;
}

/**
 * Parses a five-field cron expression (`minute hour day-of-month month day-of-week`, UTC) with `*`,
 * `a-b`, `*\/n`, `a-b/n` and lists.
 *
 * @throws {JobSpecError} On anything else.
 */
export function parseCron(expr: string): CronSpec {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new JobSpecError(`Cannot parse cron expression '${expr}': it needs 5 fields`);
  }
  const [minutes, hours, days, months, weekdays] = fields.map((f, i) => cronField(f, CRON_FIELDS[i]));
  if (weekdays.has(7)) weekdays.add(0);
  return { minutes, hours, days, months, weekdays, eitherDay: fields[2] !== "*" && fields[4] !== "*" };
}

function cronMatches(c: CronSpec, d: Date): boolean {
  if (
    !c.minutes.has(d.getUTCMinutes()) || !c.hours.has(d.getUTCHours()) || !c.months.has(d.getUTCMonth() + 1)
  ) {
    return false;
  }
  const dom = c.days.has(d.getUTCDate());
  const dow = c.weekdays.has(d.getUTCDay());
  return c.eitherDay ? dom || dow : dom && dow;
}

/**
 * The next time a schedule fires after `afterMs` (strictly later).
 *
 * @returns Epoch ms, or `null` when a cron expression never matches within a year.
 */
export function nextRunMs(schedule: Schedule, afterMs: number): number | null {
  if (schedule.every_ms !== undefined) return afterMs + schedule.every_ms;
  if (schedule.cron === undefined) return null;
  const spec = parseCron(schedule.cron);
  let t = Math.floor(afterMs / 60_000) * 60_000 + 60_000;
  for (let i = 0; i < CRON_SEARCH_MINUTES_MAX; i++, t += 60_000) {
    if (cronMatches(spec, new Date(t))) return t;
  }
  return null;
}

/** What a trigger looks at, read by the supervisor. */
export interface TriggerReading {
  /** Requests the live version answered (or failed). */
  requests: number;
  errorRate: number;
  /** Negative feedback records since the job last ran. */
  negativeFeedback: number;
}

/**
 * Whether a job's trigger fires now.
 *
 * @returns The reason it fires, or `null`.
 */
export function triggerFired(
  job: Pick<JobRecord, "trigger" | "last_run_ms">,
  reading: TriggerReading,
  now: number,
): string | null {
  const t = job.trigger;
  if (t === null) return null;
  if (job.last_run_ms !== null && now - job.last_run_ms < (t.cooldown_ms ?? TRIGGER_COOLDOWN_MS_DEFAULT)) {
    return null;
  }
  if (
    t.error_rate_above !== undefined && reading.requests >= TRIGGER_REQUESTS_MIN &&
    reading.errorRate > t.error_rate_above
  ) {
    return `trigger: error rate ${reading.errorRate.toFixed(3)} > ${t.error_rate_above}`;
  }
  if (
    t.negative_feedback_at_least !== undefined && reading.negativeFeedback >= t.negative_feedback_at_least
  ) {
    return `trigger: ${reading.negativeFeedback} negative feedback record(s)`;
  }
  return null;
}

/**
 * Which waiting jobs start now, oldest first: queued ones, scheduled ones whose time came, and those whose
 * trigger fired — at most `runningMax` running in all and one per agent.
 *
 * @param jobs Every stored job.
 * @param now Epoch ms.
 * @param reading A trigger reading for a job (called only for jobs with a trigger).
 * @param runningMax @default JOBS_RUNNING_MAX
 * @returns The jobs to start, each with why.
 */
export function dueJobs(
  jobs: readonly JobRecord[],
  now: number,
  reading: (job: JobRecord) => TriggerReading | null,
  runningMax = JOBS_RUNNING_MAX,
): { job: JobRecord; reason: string }[] {
  const running = jobs.filter((j) => j.status === "running");
  const busy = new Set(running.map((j) => j.agent));
  let slots = runningMax - running.length;
  const out: { job: JobRecord; reason: string }[] = [];
  for (const job of [...jobs].sort((a, b) => a.created_ms - b.created_ms || (a.id < b.id ? -1 : 1))) {
    if (slots <= 0) break;
    if (job.status !== "queued" && job.status !== "scheduled") continue;
    if (busy.has(job.agent)) continue;
    let reason: string | null = null;
    if (job.status === "queued") reason = job.reason ?? "queued";
    else if (job.next_run_ms !== null && job.next_run_ms <= now) reason = "schedule";
    else if (job.trigger !== null) {
      const r = reading(job);
      reason = r === null ? null : triggerFired(job, r, now);
    }
    if (reason === null) continue;
    out.push({ job, reason });
    busy.add(job.agent);
    slots--;
  }
  return out;
}
