/**
 * Scheduled tasks, the supervisor side: the JobRunner keeps job records in the vault (kv namespace
 * {@link JOBS_NAMESPACE}), starts them when they are queued, when their schedule comes or when their
 * trigger fires (evolution/scheduler.ts decides), under the concurrency limit, and resumes the ones a
 * restart interrupted:
 *
 * - `evolve`: the engine against the agent's evals and regression set; its state goes to
 *   `DATA/evolution/<job>.state.json` after every generation (written to a temporary file, then renamed),
 *   and a restarted job continues from it, so it ends as an uninterrupted run with the same seed would.
 *   The result is submitted as a candidate (operator `evolve`): never promoted here.
 * - `red-team`: red rounds against the live version; finds join the regression set.
 * - `coevolve`: the adversarial loop (evolution/coevolution.ts), resumed at its last finished round.
 * - `feedback`, `autofix`, `dsl`, `memory`: the learning loops of evolution/ (feedback_learning.ts,
 *   autofix.ts, dsl_evolution.ts, memory_strategy.ts), each ending in candidates.
 * - `compact`: checkpoints (which delete the WAL segments they cover) and pruning of old job records,
 *   evolution runs and orphaned state files.
 *
 * Every candidate goes through the CandidateManager (stage 0, shadow, lock-step evaluation, arbiter);
 * on promotion, what made it (the loop's evidence) is joined to the lineage record's decision.
 * Per-generation progress of every engine run is kept in kv namespace {@link EVOLUTION_NAMESPACE} for
 * `GET /v1/agents/{name}/evolution`.
 *
 * @module
 */
import { join } from "node:path";
import {
  CoevolutionAborted,
  type CoevolutionHost,
  type CoevolutionState,
  dueJobs,
  type EngineState,
  fitnessValue,
  type JobRecord,
  type JobSpec,
  type KvStore,
  type LlmMutator,
  nextRunMs,
  normalizedHash,
  parseJobSpec,
  rank,
  RegressionStore,
  runCoevolution,
  runEvolution,
  runFigures,
  runRedTeam,
  SandboxEvaluator,
  stableId,
  type SubmitOutcome,
  type TriggerReading,
  TypeChecker,
} from "../evolution/mod.ts";
import type { Logger } from "../observability/mod.ts";
import { SupervisorError } from "./errors.ts";
import type { Supervisor } from "./supervisor.ts";
import { FEEDBACK_NAMESPACE } from "./supervisor.ts";
import { runLearningJob } from "./jobs_learning.ts";

/** The kv namespace of job records (key: the job id). */
export const JOBS_NAMESPACE = "jobs";
/** The kv namespace of engine runs and their per-generation progress (key `AGENT/RUN_ID`). */
export const EVOLUTION_NAMESPACE = "evolution";
/** How often waiting jobs are checked, ms. */
export const JOB_TICK_MS = 500;
/** Job records kept; the oldest finished ones are pruned past it (and new ones refused). */
export const JOBS_STORED_MAX = 200;
/** Engine runs kept per agent (compaction prunes the oldest). */
export const RUNS_PER_AGENT_KEPT = 20;
/** Longest wait for a submitted candidate's decision, ms. */
export const CANDIDATE_WAIT_MS_MAX = 300_000;
/** Generations kept per engine run record. */
const RUN_GENERATIONS_MAX = 1_000;

/** What the runner needs of the vault. */
export interface JobVault extends KvStore {
  kvDelete(ns: string, key: string): Promise<boolean>;
  /** An agent's durable data; auto-fix reads its recent history (answered inputs from the WAL). */
  recoverAgent?(agent: string): Promise<{ history: { input: unknown }[] }>;
}

/** Options of {@link JobRunner}. */
export interface JobRunnerOptions {
  supervisor: Supervisor;
  vault: JobVault;
  /** `--data`: engine states go to `DATA/evolution/`. */
  dataDir: string;
  log: Logger;
  /** The optional LLM rewrite operator. */
  llm?: LlmMutator | null;
  /** @default JOB_TICK_MS */
  tickMs?: number;
}

/** One engine run as `GET /v1/agents/{name}/evolution` serves it. */
export interface EvolutionRun {
  id: string;
  job: string;
  kind: string;
  agent: string;
  seed: string;
  started_ms: number;
  status: "running" | "done" | "failed" | "cancelled";
  generations: {
    generation: number;
    best_fitness: number;
    mean_fitness: number;
    evals: number;
    evals_per_s: number;
  }[];
}

/** Thrown inside a job when it is stopped (cancel or shutdown). */
class JobStopped extends Error {}

interface Running {
  controller: AbortController;
  done: Promise<void>;
  /** Why it was stopped: `cancel` ends it, `shutdown` leaves it to resume. */
  stop: "cancel" | "shutdown" | null;
}

/** What a job body gets. */
export interface JobContext {
  job: JobRecord;
  signal: AbortSignal;
  supervisor: Supervisor;
  vault: JobVault;
  dataDir: string;
  regressions: RegressionStore;
  log: Logger;
  llm: LlmMutator | null;
  typeCheck: TypeChecker;
  /** Saves the job record (progress, state). */
  persist(): Promise<void>;
  /** The candidate path as a co-evolution host. */
  host(agent: string): CoevolutionHost;
  /** Records an engine run's generations; `save` goes to the engine. */
  run(kind: string): RunRecorder;
  /** Throws when the job was stopped. */
  check(): void;
}

/** The engine settings every evolving job kind passes on from its job record and context. */
export function engineOptions(ctx: JobContext) {
  const job = ctx.job;
  return {
    seed: job.seed,
    generations: job.generations ?? undefined,
    populationSize: job.population ?? undefined,
    typeCheck: (s: string) => ctx.typeCheck.check(s),
    llm: ctx.llm,
    jobId: job.id,
  };
}

/** Records one engine run. */
export interface RunRecorder {
  id: string;
  save(state: EngineState): Promise<void>;
  finish(status: EvolutionRun["status"]): Promise<void>;
}

/** Runs, persists and resumes jobs (see the module doc). */
export class JobRunner {
  readonly #o: JobRunnerOptions;
  readonly #jobs = new Map<string, JobRecord>();
  readonly #running = new Map<string, Running>();
  readonly regressions: RegressionStore;
  #timer: ReturnType<typeof setInterval> | undefined;
  #ticking = false;
  #stopped = false;
  #counter = 0;
  #checker: TypeChecker | undefined;
  #readings = new Map<string, { at: number; reading: TriggerReading }>();

  constructor(options: JobRunnerOptions) {
    this.#o = options;
    this.regressions = new RegressionStore(options.vault);
  }

  /** Loads stored jobs (interrupted ones are resumed) and starts ticking. */
  async start(): Promise<void> {
    for (const { value } of await this.#o.vault.kvList(JOBS_NAMESPACE)) {
      const job = value as JobRecord;
      if (job?.id === undefined) continue;
      if (job.status === "running") {
        job.status = "queued";
        job.reason = "resumed";
      }
      this.#jobs.set(job.id, job);
      const n = Number.parseInt(job.id.slice(1), 36);
      if (Number.isFinite(n)) this.#counter = Math.max(this.#counter, n);
    }
    this.#timer = setInterval(() => void this.#tick(), this.#o.tickMs ?? JOB_TICK_MS);
    Deno.unrefTimer(this.#timer);
    await this.#tick();
  }

  /** Stops ticking and stops running jobs; they stay `running` in the vault and resume at the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const r of this.#running.values()) {
      r.stop ??= "shutdown";
      r.controller.abort();
    }
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
    this.#checker?.dispose();
  }

  /**
   * Creates a job from a `POST /v1/jobs` body.
   *
   * @throws {JobSpecError} `INVALID_INPUT` for a bad body; {@link SupervisorError} `AGENT_OVERLOADED` when full.
   */
  async create(body: unknown): Promise<JobRecord> {
    const spec: JobSpec = parseJobSpec(body, (name) => this.#o.supervisor.hosts.has(name));
    if (this.#jobs.size >= JOBS_STORED_MAX) await this.#prune(JOBS_STORED_MAX - 1);
    if (this.#jobs.size >= JOBS_STORED_MAX) {
      throw new SupervisorError("AGENT_OVERLOADED", `Cannot create job: ${JOBS_STORED_MAX} jobs are stored`);
    }
    const now = Date.now();
    const recurring = spec.schedule !== null || spec.trigger !== null;
    const job: JobRecord = {
      ...spec,
      id: `j${(++this.#counter).toString(36)}`,
      status: recurring ? "scheduled" : "queued",
      created_ms: now,
      updated_ms: now,
      started_ms: null,
      finished_ms: null,
      next_run_ms: spec.schedule !== null ? nextRunMs(spec.schedule, now) : null,
      last_run_ms: null,
      runs: 0,
      reason: null,
      progress: null,
      result: null,
      error: null,
      state: null,
    };
    // A schedule's first run is now: a job asked for is wanted at once, then at its interval.
    if (spec.schedule?.every_ms !== undefined) job.next_run_ms = now;
    this.#jobs.set(job.id, job);
    await this.#save(job);
    queueMicrotask(() => void this.#tick());
    return structuredClone(job);
  }

  /** Every job, newest first. */
  list(): JobRecord[] {
    return [...this.#jobs.values()].sort((a, b) => b.created_ms - a.created_ms).map((j) =>
      structuredClone(j)
    );
  }

  /** One job. @throws {SupervisorError} `NOT_FOUND`. */
  get(id: string): JobRecord {
    const job = this.#jobs.get(id);
    if (job === undefined) throw new SupervisorError("NOT_FOUND", `Cannot find job '${id}'`);
    return structuredClone(job);
  }

  /** Cancels a job (a running one stops at its next step). @throws {SupervisorError} `NOT_FOUND`. */
  async cancel(id: string): Promise<JobRecord> {
    const job = this.#jobs.get(id);
    if (job === undefined) throw new SupervisorError("NOT_FOUND", `Cannot find job '${id}'`);
    const running = this.#running.get(id);
    if (running !== undefined) {
      running.stop = "cancel";
      running.controller.abort();
      await running.done;
    } else if (job.status !== "done" && job.status !== "failed") {
      job.status = "cancelled";
      job.finished_ms = Date.now();
      await this.#save(job);
    }
    return this.get(id);
  }

  /** `GET /v1/agents/{name}/evolution`: the agent's engine runs, oldest first. */
  async evolutionRuns(agent: string): Promise<{ agent: string; runs: EvolutionRun[] }> {
    const rows = await this.#o.vault.kvList(EVOLUTION_NAMESPACE, { prefix: `${agent}/` });
    const runs = rows.map((r) => r.value as EvolutionRun).filter((r) => r?.agent === agent)
      .sort((a, b) => a.started_ms - b.started_ms || (a.id < b.id ? -1 : 1));
    return { agent, runs };
  }

  /** Resolves once no job is queued or running (tests). */
  async idle(): Promise<void> {
    while ([...this.#jobs.values()].some((j) => j.status === "queued" || j.status === "running")) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async #save(job: JobRecord): Promise<void> {
    job.updated_ms = Date.now();
    await this.#o.vault.kvPut(JOBS_NAMESPACE, job.id, job);
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#stopped) return;
    this.#ticking = true;
    try {
      const now = Date.now();
      const jobs = [...this.#jobs.values()];
      const readings = new Map<string, TriggerReading>();
      for (const job of jobs.filter((j) => j.trigger !== null && j.status === "scheduled")) {
        readings.set(job.id, await this.#reading(job, now));
      }
      for (const { job, reason } of dueJobs(jobs, now, (j) => readings.get(j.id) ?? null)) {
        this.#launch(job, reason);
      }
    } catch (e) {
      this.#o.log.error("job tick failed", { error: e });
    } finally {
      this.#ticking = false;
    }
  }

  /** The trigger reading of a job's agent: the live version's error rate, negative feedback since its last run. */
  async #reading(job: JobRecord, now: number): Promise<TriggerReading> {
    const cached = this.#readings.get(job.id);
    if (cached !== undefined && now - cached.at < 2_000) return cached.reading;
    const host = job.agent === null ? undefined : this.#o.supervisor.hosts.get(job.agent);
    const live = host === undefined
      ? undefined
      : this.#o.supervisor.monitor.snapshot(host.name).find((s) =>
        s.role === "live" && s.version === host.version
      );
    let negativeFeedback = 0;
    if (job.trigger?.negative_feedback_at_least !== undefined && job.agent !== null) {
      const since = job.last_run_ms ?? job.created_ms;
      const rows = await this.#o.vault.kvList(FEEDBACK_NAMESPACE, { prefix: `${job.agent}/` });
      negativeFeedback = rows.filter((r) => {
        const f = r.value as { score?: number; time_ms?: number };
        return (f.score ?? 0) < 0 && (f.time_ms ?? 0) > since;
      }).length;
    }
    const reading = { requests: live?.requests ?? 0, errorRate: live?.error_rate ?? 0, negativeFeedback };
    this.#readings.set(job.id, { at: now, reading });
    return reading;
  }

  #launch(job: JobRecord, reason: string): void {
    const controller = new AbortController();
    const running: Running = { controller, done: Promise.resolve(), stop: null };
    this.#running.set(job.id, running);
    job.status = "running";
    job.reason = reason;
    job.started_ms = Date.now();
    job.error = null;
    this.#o.log.info("job started", { job: job.id, kind: job.kind, agent: job.agent ?? undefined, reason });
    running.done = this.#save(job)
      .then(() => this.#execute(job, controller.signal))
      .then((result) => this.#finished(job, result), (e) => this.#failed(job, running, e))
      .catch((e) => this.#o.log.error("job bookkeeping failed", { job: job.id, error: e }))
      .finally(() => {
        this.#running.delete(job.id);
        queueMicrotask(() => void this.#tick());
      });
  }

  async #finished(job: JobRecord, result: unknown): Promise<void> {
    const now = Date.now();
    job.runs++;
    job.last_run_ms = now;
    job.finished_ms = now;
    job.result = result;
    job.progress = null;
    job.state = null;
    const again = (job.schedule !== null || job.trigger !== null) &&
      (job.runs_max === null || job.runs < job.runs_max);
    job.status = again ? "scheduled" : "done";
    job.next_run_ms = again && job.schedule !== null ? nextRunMs(job.schedule, now) : null;
    await this.#save(job);
    this.#o.log.info("job finished", { job: job.id, kind: job.kind, agent: job.agent ?? undefined });
  }

  async #failed(job: JobRecord, running: Running, e: unknown): Promise<void> {
    const stopped = e instanceof JobStopped || e instanceof CoevolutionAborted ||
      running.controller.signal.aborted;
    if (stopped && running.stop === "shutdown") return; // Left `running` in the vault: resumed at the next start.
    job.finished_ms = Date.now();
    if (stopped) job.status = "cancelled";
    else {
      job.status = "failed";
      job.error = e instanceof Error ? e.message : String(e);
      this.#o.log.error("job failed", { job: job.id, kind: job.kind, error: e });
    }
    await this.#save(job);
  }

  #typeChecker(): TypeChecker {
    return this.#checker ??= new TypeChecker();
  }

  #context(job: JobRecord, signal: AbortSignal): JobContext {
    const check = () => {
      if (signal.aborted) throw new JobStopped("the job was stopped");
    };
    return {
      job,
      signal,
      supervisor: this.#o.supervisor,
      vault: this.#o.vault,
      dataDir: this.#o.dataDir,
      regressions: this.regressions,
      log: this.#o.log,
      llm: this.#o.llm ?? null,
      typeCheck: this.#typeChecker(),
      persist: () => this.#save(job),
      host: (agent) => this.#host(agent, job, signal),
      run: (kind) => this.#recorder(job, kind, signal),
      check,
    };
  }

  async #execute(job: JobRecord, signal: AbortSignal): Promise<unknown> {
    const ctx = this.#context(job, signal);
    switch (job.kind) {
      case "evolve":
        return await this.#evolve(ctx);
      case "red-team":
        return await this.#redTeam(ctx);
      case "coevolve":
        return await this.#coevolve(ctx);
      case "compact":
        return await this.#compact(ctx);
      default:
        return await runLearningJob(ctx);
    }
  }

  /** The candidate path as a host: submit, wait for the decision, join the evidence to the lineage. */
  #host(agent: string, job: JobRecord, signal: AbortSignal): CoevolutionHost {
    const supervisor = this.#o.supervisor;
    return {
      live: () => {
        const host = supervisor.get(agent);
        return Promise.resolve({ source: host.source, version: host.version });
      },
      regressions: this.regressions,
      signal,
      submit: async (source, operator, evidence) => {
        const record = await supervisor.candidates.submit(agent, source, operator);
        job.state = { ...(job.state ?? {}), submitted: record.id };
        await this.#save(job);
        return await this.#decision(agent, record.id, evidence, signal);
      },
    };
  }

  async #decision(
    agent: string,
    id: string,
    evidence: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<SubmitOutcome> {
    const supervisor = this.#o.supervisor;
    const deadline = Date.now() + CANDIDATE_WAIT_MS_MAX;
    for (;;) {
      const r = supervisor.candidates.get(agent, id);
      if (r.status === "promoted" || r.status === "rejected") {
        if (r.status === "promoted") await this.#joinEvidence(agent, r.version, evidence);
        return { id, status: r.status, version: r.version, reason: r.evidence?.reason ?? "" };
      }
      if (signal.aborted) throw new JobStopped("the job was stopped");
      if (Date.now() > deadline) {
        throw new Error(`candidate ${id} was not decided in ${CANDIDATE_WAIT_MS_MAX} ms`);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** Adds what made a promoted version to its lineage record's decision. */
  async #joinEvidence(agent: string, version: string, evidence: Record<string, unknown>): Promise<void> {
    const lineage = this.#o.supervisor.lineage;
    for (let i = 0; i < 50; i++) {
      try {
        const entry = await lineage.get(agent, version);
        const decision = typeof entry.decision === "object" && entry.decision !== null ? entry.decision : {};
        await lineage.record({ ...entry, decision: { ...decision, ...evidence } });
        return;
      } catch {
        // The manager records the lineage entry right before it reports the promotion: wait for it.
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  }

  #recorder(job: JobRecord, kind: string, signal: AbortSignal): RunRecorder {
    const agent = job.agent ?? "_";
    const id = `${job.id}.${job.runs + 1}${kind === job.kind ? "" : `.${kind}`}`;
    const key = `${agent}/${id}`;
    const vault = this.#o.vault;
    const load = async (): Promise<EvolutionRun> =>
      (await vault.kvGet(EVOLUTION_NAMESPACE, key) as EvolutionRun | undefined) ?? {
        id,
        job: job.id,
        kind,
        agent,
        seed: job.seed,
        started_ms: Date.now(),
        status: "running",
        generations: [],
      };
    return {
      id,
      save: async (state) => {
        const run = await load();
        run.status = "running";
        run.generations = run.generations.filter((g) => g.generation < state.generation);
        run.generations.push(generationOf(state));
        run.generations = run.generations.slice(-RUN_GENERATIONS_MAX);
        await vault.kvPut(EVOLUTION_NAMESPACE, key, run);
        job.progress = {
          run: id,
          generation: state.generation,
          generations: state.generations,
          evals: state.evals,
        };
        await this.#save(job);
        if (signal.aborted) throw new JobStopped("the job was stopped");
      },
      finish: async (status) => {
        const run = await load();
        run.status = status;
        await vault.kvPut(EVOLUTION_NAMESPACE, key, run);
      },
    };
  }

  #statePath(job: JobRecord): string {
    return join(this.#o.dataDir, "evolution", `${job.id}.state.json`);
  }

  async #evolve(ctx: JobContext): Promise<unknown> {
    const job = ctx.job;
    const host = this.#o.supervisor.get(job.agent!);
    const submitted = job.state?.submitted as string | undefined;
    if (submitted !== undefined && job.state?.engine !== undefined) {
      // A restart came while the result waited for its decision: wait again.
      const outcome = await this.#decision(
        job.agent!,
        submitted,
        job.state.evidence as Record<string, unknown>,
        ctx.signal,
      );
      return { ...(job.state.engine as Record<string, unknown>), candidate: outcome };
    }
    const path = this.#statePath(job);
    const saved = await readState(path);
    const source = host.source;
    const resume = saved && saved.seed === job.seed && saved.liveHash === normalizedHash(source)
      ? saved
      : undefined;
    const recorder = ctx.run("evolve");
    const evaluator = new SandboxEvaluator({ regression: await this.regressions.cases(host.name) });
    let result;
    try {
      result = await runEvolution({
        source,
        evaluator,
        seed: job.seed,
        generations: job.generations ?? undefined,
        populationSize: job.population ?? undefined,
        budgetMs: job.budget_s === null ? undefined : job.budget_s * 1000,
        typeCheck: (s) => ctx.typeCheck.check(s),
        resume,
        save: async (state) => {
          await writeAtomic(path, JSON.stringify(state));
          await recorder.save(state);
        },
      });
    } catch (e) {
      await recorder.finish(ctx.signal.aborted ? "cancelled" : "failed").catch(() => {});
      throw e;
    } finally {
      await evaluator.close();
    }
    await recorder.finish("done");
    const engine = engineSummary(result, resume !== undefined);
    await Deno.remove(path).catch(() => {});
    if (!result.promoted) {
      return { ...engine, candidate: null, reason: result.decision?.reason ?? "no finalist" };
    }
    const evidence = { evolve: { job: job.id, seed: job.seed, run: recorder.id, engine } };
    job.state = { engine, evidence };
    await ctx.persist();
    const outcome = await ctx.host(job.agent!).submit(result.source, "evolve", evidence);
    return { ...engine, candidate: outcome };
  }

  async #redTeam(ctx: JobContext): Promise<unknown> {
    const job = ctx.job;
    const rounds = Math.max(1, Math.min(20, Number(job.params.rounds ?? 1)));
    const evaluator = new SandboxEvaluator();
    const reports = [];
    try {
      for (let r = 0; r < rounds; r++) {
        ctx.check();
        const host = this.#o.supervisor.get(job.agent!);
        const known = await this.regressions.list(host.name);
        const report = await runRedTeam({
          agent: host.name,
          source: host.source,
          evaluator,
          seed: job.seed,
          round: job.runs * rounds + r,
          known,
          foundBy: job.id,
        });
        await this.regressions.updateStatus(host.name, new Set(report.known.passing), host.version);
        const added = await this.regressions.add(report.fresh);
        const { shape: _shape, fresh: _fresh, ...rest } = report;
        reports.push({
          ...rest,
          added: added.map((a) => ({ id: a.id, kind: a.kind, input: a.case.input, message: a.message })),
        });
        job.progress = { round: r + 1, rounds };
        await ctx.persist();
      }
    } finally {
      await evaluator.close();
    }
    return { rounds: reports, found: reports.reduce((s, r) => s + r.added.length, 0) };
  }

  async #coevolve(ctx: JobContext): Promise<unknown> {
    const job = ctx.job;
    const p = job.params;
    const saved = job.state?.coevolution as CoevolutionState | undefined;
    const report = await runCoevolution({
      agent: job.agent!,
      host: ctx.host(job.agent!),
      roundsMax: typeof p.rounds === "number" ? p.rounds : undefined,
      quietRounds: typeof p.quiet_rounds === "number" ? p.quiet_rounds : undefined,
      plateauRounds: typeof p.plateau_rounds === "number" ? p.plateau_rounds : undefined,
      budgetMs: job.budget_s === null ? undefined : job.budget_s * 1000,
      ...engineOptions(ctx),
      state: saved,
      onRound: async (state) => {
        job.state = { ...(job.state ?? {}), coevolution: state };
        const last = state.rounds[state.rounds.length - 1];
        job.progress = { round: state.round, open: last?.open ?? 0, fixed: last?.fixed ?? 0 };
        await ctx.persist();
      },
    });
    return report;
  }

  async #compact(ctx: JobContext): Promise<unknown> {
    const job = ctx.job;
    const hosts = job.agent === null
      ? [...this.#o.supervisor.hosts.values()]
      : [this.#o.supervisor.get(job.agent)];
    const checkpoints = [];
    for (const host of hosts) {
      ctx.check();
      if (host.status !== "ready") continue;
      checkpoints.push({ agent: host.name, ...(await host.checkpoint()) });
    }
    const prunedJobs = await this.#prune(JOBS_STORED_MAX / 2);
    const prunedRuns = await this.#pruneRuns();
    let prunedStates = 0;
    try {
      for await (const e of Deno.readDir(join(this.#o.dataDir, "evolution"))) {
        const id = /^(j[0-9a-z]+)\.state\.json$/.exec(e.name)?.[1];
        const owner = id === undefined ? undefined : this.#jobs.get(id);
        if (id !== undefined && (owner === undefined || owner.status !== "running")) {
          await Deno.remove(join(this.#o.dataDir, "evolution", e.name)).catch(() => {});
          prunedStates++;
        }
      }
    } catch {
      // No evolution folder yet.
    }
    return { checkpoints, pruned_jobs: prunedJobs, pruned_runs: prunedRuns, pruned_states: prunedStates };
  }

  /** Deletes the oldest finished job records beyond `keep`. */
  async #prune(keep: number): Promise<number> {
    const finished = [...this.#jobs.values()]
      .filter((j) => j.status === "done" || j.status === "failed" || j.status === "cancelled")
      .sort((a, b) => a.created_ms - b.created_ms);
    let pruned = 0;
    while (this.#jobs.size - pruned > keep && pruned < finished.length) {
      const j = finished[pruned++];
      this.#jobs.delete(j.id);
      await this.#o.vault.kvDelete(JOBS_NAMESPACE, j.id);
    }
    return pruned;
  }

  async #pruneRuns(): Promise<number> {
    const byAgent = new Map<string, { key: string; started: number }[]>();
    for (const { key, value } of await this.#o.vault.kvList(EVOLUTION_NAMESPACE)) {
      const run = value as EvolutionRun;
      const list = byAgent.get(run.agent) ?? [];
      list.push({ key, started: run.started_ms });
      byAgent.set(run.agent, list);
    }
    let pruned = 0;
    for (const list of byAgent.values()) {
      list.sort((a, b) => a.started - b.started);
      for (const r of list.slice(0, Math.max(0, list.length - RUNS_PER_AGENT_KEPT))) {
        await this.#o.vault.kvDelete(EVOLUTION_NAMESPACE, r.key);
        pruned++;
      }
    }
    return pruned;
  }
}

/** One generation of the evolution route, from an engine state. */
export function generationOf(state: EngineState): EvolutionRun["generations"][number] {
  const all = new Map(state.islands.flat().map((i) => [i.id, i]));
  const values = [...all.values()].map((i) => fitnessValue(i.fitness));
  const best = rank([...all.values()], "work")[0];
  return {
    generation: state.generation,
    best_fitness: fitnessValue(best?.fitness ?? state.live.fitness),
    mean_fitness: values.length > 0
      ? Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 1e6) / 1e6
      : 0,
    evals: state.evals,
    evals_per_s: state.evalMs > 0 ? Math.round((state.evals * 1000 / state.evalMs) * 10) / 10 : 0,
  };
}

/** The deterministic part of an engine result, for reports and the resume comparison. */
export function engineSummary(result: Awaited<ReturnType<typeof runEvolution>>, resumed: boolean) {
  const digest = stableId(
    result.lineage.map((r) => `${r.id}:${r.hash}:${r.fitness.passed}:${r.fitness.work}`).join(";"),
  );
  return {
    resumed,
    ...runFigures(result),
    best: result.best === null ? null : {
      id: result.best.id,
      hash: result.best.hash,
      operator: result.best.operator,
      detail: result.best.detail,
      work: result.best.fitness.work,
    },
    engine_promoted: result.promoted,
    decision: result.decision,
    lineage_digest: digest,
    lineage_size: result.lineage.length,
  };
}

async function readState(path: string): Promise<EngineState | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as EngineState;
  } catch {
    return undefined;
  }
}

/** Writes a file so a crash leaves either the old or the new content: temporary file, then rename. */
async function writeAtomic(path: string, text: string): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}
