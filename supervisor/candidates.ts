/**
 * Candidates: code proposed for a live agent (by a person, another program, or the evolution loop), taken
 * through the protected path — stage 0 (pre-filter, type check, it loads and names the same agent), a
 * shadow on mirrored live traffic, the live version's evals run alone in jails for both versions (live,
 * candidate, live again, in lock-step), and the arbiter's decision. Only then is the live code replaced; the decision and its
 * evidence go into the lineage in the vault.
 *
 * @module
 */
import {
  decide,
  type Decision,
  type Evaluator,
  formatDiagnostic,
  type RegressionCase,
  type TypeDiagnostic,
} from "../evolution/mod.ts";
import { deepEqual, OError } from "../protocol/mod.ts";
import { prefilter } from "../sandbox/mod.ts";
import type { Logger } from "../observability/mod.ts";
import type { AgentHost } from "./agent_host.ts";
import { SupervisorError } from "./errors.ts";
import { Lineage } from "./lineage.ts";
import type { SupervisorMetrics } from "./metrics.ts";
import type { Comparison, Shadow, ShadowSpec, TrafficSplitter } from "./splitter.ts";

/** Candidates waiting per agent; one more is refused with 429. */
export const CANDIDATE_QUEUE_MAX = 32;
/** Candidates evaluated at once across the supervisor (each runs a shadow and jails). */
export const CANDIDATES_RUNNING_MAX = 2;
/** Longest a shadow watches live traffic before the decision. */
export const SHADOW_WINDOW_MS = 20_000;
/** Mirrored comparisons after which the shadow window may end early. */
export const SHADOW_COMPARISONS_ENOUGH = 200;
/** Timed repetitions of each eval case for the decision. */
export const DECISION_REPEATS = 31;
/** Distinct differing inputs judged by the evals' properties after the shadow window; more count as mismatches. */
export const MISMATCHES_JUDGED_MAX = 256;
/** The kv namespace of candidate records. */
export const CANDIDATE_NAMESPACE = "candidates";

/** Where a candidate is. */
export type CandidateStatus = "queued" | "shadowing" | "promoted" | "rejected";

/** What the decision rested on (served as JSON). */
export interface CandidateEvidence extends Partial<Decision> {
  reason: string;
  /** The stage that decided: 0 (static checks), 2 (evals), 3 (shadow traffic), or the arbiter. */
  stage?: number;
  shadow?: ShadowEvidence;
}

/** One candidate's record. */
export interface CandidateRecord {
  id: string;
  agent: string;
  status: CandidateStatus;
  /** Where it came from: `submitted` (HTTP), `evolve`, `autofix`, … */
  operator: string;
  parent: string;
  /** The version the candidate would get. */
  version: string;
  created_ms: number;
  decided_ms: number | null;
  evidence: CandidateEvidence | null;
}

/** What the manager needs. */
export interface CandidateDeps {
  hosts: () => ReadonlyMap<string, AgentHost>;
  splitter: TrafficSplitter;
  /** Starts a shadow (in the supervisor's shadow thread). */
  startShadow: (spec: ShadowSpec) => Promise<Shadow>;
  evaluator: Evaluator;
  /** An evaluator that uses exactly a call's regression cases (no agent set added), for judging. */
  exactEvaluator?: Evaluator;
  /** Stage 0's type check: diagnostics for a source (empty when it checks). */
  typeCheck: (source: string) => Promise<TypeDiagnostic[]>;
  lineage: Lineage;
  store: {
    kvPut(ns: string, key: string, value: unknown): Promise<void>;
    kvGet(ns: string, key: string): Promise<unknown>;
    kvList(ns: string, options?: { prefix?: string }): Promise<{ key: string; value: unknown }[]>;
  };
  log: Logger;
  metrics: SupervisorMetrics;
  /**
   * Inputs whose right answer the regression set judges (known failures of the live version, and fixed
   * ones). A shadow answer that differs from live on such an input is not counted as a mismatch: the
   * evaluation stage decides it on the known answer, which is how a fix can differ from a buggy live.
   */
  judgedInputs?: (agent: string) => Promise<unknown[]>;
  /** Shadow window, for tests and demos. @default SHADOW_WINDOW_MS */
  shadowWindowMs?: number;
}

/** What the shadow window showed (served as JSON in a candidate's evidence). */
export interface ShadowEvidence {
  compared: number;
  /** Differing answers that were not counted: the regression set or the evals' properties judge them fixes. */
  excused: number;
  mismatches: number;
  errors: number;
  dropped: number;
}

/** What the shadow window saw, before the differing answers are judged. */
interface ShadowWatch extends Omit<ShadowEvidence, "mismatches"> {
  /** Comparisons whose answers differed and that no regression case already judges. */
  differing: Comparison[];
}

interface Job {
  record: CandidateRecord;
  source: string;
}

/** Queues, evaluates and decides candidates. */
export class CandidateManager {
  readonly #deps: CandidateDeps;
  readonly #queue: Job[] = [];
  readonly #records = new Map<string, CandidateRecord>();
  #running = 0;
  #counter = 0;
  #stopped = false;

  constructor(deps: CandidateDeps) {
    this.#deps = deps;
  }

  /** Loads stored records; re-queues candidates a restart interrupted. */
  async load(): Promise<void> {
    for (const { value } of await this.#deps.store.kvList(CANDIDATE_NAMESPACE)) {
      const { record, source } = value as Job;
      this.#records.set(`${record.agent}/${record.id}`, record);
      if (record.status === "queued" || record.status === "shadowing") {
        record.status = "queued";
        this.#queue.push({ record, source });
      }
      const n = Number.parseInt(record.id.slice(1), 36);
      if (Number.isFinite(n)) this.#counter = Math.max(this.#counter, n);
    }
    this.#pump();
  }

  /**
   * Queues a candidate.
   *
   * @throws {SupervisorError} `AGENT_NOT_FOUND`, `AGENT_OVERLOADED` (queue full), `INVALID_INPUT`.
   */
  async submit(agent: string, source: string, operator = "submitted"): Promise<CandidateRecord> {
    const host = this.#deps.hosts().get(agent);
    if (host === undefined) throw new SupervisorError("AGENT_NOT_FOUND", `Cannot find agent '${agent}'`);
    if (typeof source !== "string" || source.length === 0) {
      throw new SupervisorError(
        "INVALID_INPUT",
        "Cannot queue candidate: 'source' must be a non-empty string",
      );
    }
    const waiting = this.#queue.filter((j) => j.record.agent === agent).length;
    if (waiting >= CANDIDATE_QUEUE_MAX) {
      throw new SupervisorError(
        "AGENT_OVERLOADED",
        `Cannot queue candidate: ${CANDIDATE_QUEUE_MAX} already wait`,
      );
    }
    const id = `c${(++this.#counter).toString(36)}`;
    const record: CandidateRecord = {
      id,
      agent,
      status: "queued",
      operator,
      parent: host.version,
      version: `${host.info.version}+${id}`,
      created_ms: Date.now(),
      decided_ms: null,
      evidence: null,
    };
    this.#records.set(`${agent}/${id}`, record);
    const job = { record, source };
    await this.#save(job);
    this.#queue.push(job);
    this.#pump();
    return { ...record };
  }

  /** A candidate's record. @throws {SupervisorError} `NOT_FOUND`. */
  get(agent: string, id: string): CandidateRecord {
    const record = this.#records.get(`${agent}/${id}`);
    if (record === undefined) {
      throw new SupervisorError("NOT_FOUND", `Cannot find candidate '${id}' of '${agent}'`);
    }
    return { ...record };
  }

  /** Every candidate of an agent, oldest first. */
  list(agent: string): CandidateRecord[] {
    return [...this.#records.values()].filter((r) => r.agent === agent).sort((a, b) =>
      a.created_ms - b.created_ms
    );
  }

  /** Resolves once no candidate is queued or running (tests and the demo). */
  async idle(): Promise<void> {
    while (this.#queue.length > 0 || this.#running > 0) await new Promise((r) => setTimeout(r, 20));
  }

  /** Stops taking jobs (running ones finish). */
  stop(): void {
    this.#stopped = true;
  }

  #pump(): void {
    while (!this.#stopped && this.#running < CANDIDATES_RUNNING_MAX && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#running++;
      this.#process(job)
        .catch((e) => this.#finish(job, "rejected", { reason: `evaluation failed: ${message(e)}` }, "failed"))
        .finally(() => {
          this.#running--;
          this.#pump();
        });
    }
  }

  async #save(job: Job): Promise<void> {
    await this.#deps.store.kvPut(CANDIDATE_NAMESPACE, `${job.record.agent}/${job.record.id}`, job);
  }

  async #finish(
    job: Job,
    status: "promoted" | "rejected",
    evidence: CandidateEvidence,
    metric: string = status,
  ): Promise<void> {
    job.record.status = status;
    job.record.evidence = evidence;
    job.record.decided_ms = Date.now();
    this.#deps.metrics.candidates.inc({ agent: job.record.agent, decision: metric });
    await this.#save(job);
    this.#deps.log.info(`candidate ${status}`, {
      agent: job.record.agent,
      candidate: job.record.id,
      reason: evidence.reason,
    });
  }

  async #process(job: Job): Promise<void> {
    const { record, source } = job;
    const host = this.#deps.hosts().get(record.agent);
    if (host === undefined) return this.#finish(job, "rejected", { reason: "the agent is gone", stage: 0 });
    const stage0 = await this.#stage0(source);
    if (stage0 !== null) return this.#finish(job, "rejected", { reason: stage0, stage: 0 });
    record.status = "shadowing";
    record.parent = host.version;
    await this.#save(job);
    let shadow: Shadow;
    try {
      shadow = await this.#startShadow(host, record, source);
    } catch (e) {
      return this.#finish(job, "rejected", {
        reason: `stage 0: the code does not load: ${message(e)}`,
        stage: 0,
      });
    }
    try {
      const liveSource = host.source;
      // The shadow window first: answers that differ from live and are judged fixes by the evals'
      // properties join the evaluation as cases, so the arbiter can promote a fix on that evidence.
      const judged = await this.#judge(liveSource, source, await this.#watch(shadow, record.agent));
      const { fixes, ...shadowEvidence } = judged;
      const evals = await this.#evaluate(record.agent, liveSource, source, fixes);
      const decision = decide(evals);
      const evidence: CandidateEvidence = { ...decision, shadow: shadowEvidence };
      if (shadowEvidence.mismatches + shadowEvidence.errors > 0) {
        evidence.reason =
          `stage 3: ${shadowEvidence.mismatches} of ${shadowEvidence.compared} shadow answers differed ` +
          `from live and ${shadowEvidence.errors} failed` +
          (decision.promote ? "" : `; also: ${decision.reason}`);
        evidence.stage = 3;
        return this.#finish(job, "rejected", evidence);
      }
      if (!decision.promote) return this.#finish(job, "rejected", { ...evidence, stage: 2 });
      await host.replaceCode(source, record.version);
      await this.#deps.lineage.record({
        agent: record.agent,
        version: record.version,
        parent: record.parent,
        operator: record.operator,
        candidate: record.id,
        source,
        decision: evidence,
      });
      return this.#finish(job, "promoted", { ...evidence, stage: 3 });
    } finally {
      this.#deps.splitter.remove(record.agent, record.id);
      await shadow.stop();
    }
  }

  async #stage0(source: string): Promise<string | null> {
    const filtered = prefilter(source);
    if (!filtered.ok) {
      const v = filtered.violations.slice(0, 5).map((x) => `${x.line}:${x.column} ${x.rule}: ${x.message}`);
      return `stage 0: pre-filter: ${v.join("; ")}`;
    }
    const diagnostics = await this.#deps.typeCheck(source);
    if (diagnostics.length > 0) {
      return `stage 0: type check: ${diagnostics.slice(0, 5).map(formatDiagnostic).join("; ")}`;
    }
    return null;
  }

  async #startShadow(host: AgentHost, record: CandidateRecord, source: string): Promise<Shadow> {
    const { snapshot, seq } = await host.durableState();
    const shadow = await this.#deps.startShadow({
      id: record.id,
      agent: record.agent,
      source,
      version: record.version,
      start: { snapshot, seq, history: [] },
      tools: host.info.tools,
    });
    this.#deps.splitter.add(shadow);
    return shadow;
  }

  /** Live, candidate, live again: each alone in its jail, in lock-step, so load hits all three alike. */
  async #evaluate(agent: string, liveSource: string, candidate: string, extra: RegressionCase[] = []) {
    const options = {
      alone: true,
      interleave: true,
      count: false,
      repeats: DECISION_REPEATS,
      regression: extra,
    };
    const [live, cand, liveAgain] = await this.#deps.evaluator.evaluate(
      [liveSource, candidate, liveSource],
      liveSource,
      options,
    );
    this.#deps.metrics.evaluations.inc({ agent }, 3);
    return { live, candidate: cand, liveAgain };
  }

  /**
   * Judges the inputs on which the shadow answered differently from live, by the live evals' general
   * properties (each `score` eval that holds for every eval input): where the live answer breaks a
   * property and the candidate's keeps every one, the difference is a fix, not a mismatch. Every other
   * difference — and any input past the first `MISMATCHES_JUDGED_MAX` distinct ones — stays a mismatch.
   */
  async #judge(
    liveSource: string,
    candidate: string,
    watched: ShadowWatch,
  ): Promise<ShadowEvidence & { fixes: RegressionCase[] }> {
    const { differing, ...counts } = watched;
    if (differing.length === 0) return { ...counts, mismatches: 0, fixes: [] };
    const inputs: unknown[] = [];
    for (const c of differing) {
      if (inputs.length < MISMATCHES_JUDGED_MAX && !inputs.some((x) => deepEqual(x, c.input))) {
        inputs.push(c.input);
      }
    }
    const cases: RegressionCase[] = inputs.map((input) => ({ input, answers: true, properties: true }));
    const options = { alone: true, repeats: 1, count: false, regression: cases };
    const evaluator = this.#deps.exactEvaluator ?? this.#deps.evaluator;
    const [live, cand] = await evaluator.evaluate([liveSource, candidate], liveSource, options);
    // With exactly these cases as the regression set, they are the first regression-flagged results (the
    // evaluator's probes come after them).
    const liveCases = live.cases.filter((c) => c.regression).slice(0, cases.length);
    const candCases = cand.cases.filter((c) => c.regression).slice(0, cases.length);
    const fixes = cases.filter((_, i) => liveCases[i]?.pass === false && candCases[i]?.pass === true);
    const mismatches = differing.filter((c) => !fixes.some((x) => deepEqual(x.input, c.input))).length;
    return { ...counts, mismatches, excused: counts.excused + differing.length - mismatches, fixes };
  }

  /** Watches mirrored live traffic for the shadow window (or until enough comparisons). */
  async #watch(shadow: Shadow, agent: string): Promise<ShadowWatch> {
    const deadline = Date.now() + (this.#deps.shadowWindowMs ?? SHADOW_WINDOW_MS);
    while (Date.now() < deadline && shadow.comparisons.length < SHADOW_COMPARISONS_ENOUGH) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const all: Comparison[] = shadow.comparisons;
    const judged = (await this.#deps.judgedInputs?.(agent)) ?? [];
    const differing = all.filter((c) => !c.equal && c.error === undefined);
    const open = differing.filter((c) => !judged.some((input) => deepEqual(input, c.input)));
    return {
      compared: all.length,
      excused: differing.length - open.length,
      errors: all.filter((c) => c.error !== undefined).length,
      dropped: shadow.dropped,
      differing: open,
    };
  }
}

function message(e: unknown): string {
  return e instanceof OError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
}
