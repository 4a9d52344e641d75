/**
 * The real {@link Evaluator}: runs candidates against the live version's evals inside jailed sandboxes
 * (sandbox/mod.ts `spawnSandbox`, entry evolution/eval_main.ts).
 *
 * Screening puts up to {@link BATCH_CANDIDATES_MAX} candidates in one jail (each its own module
 * instance) and runs several jails at once, one per core, so the ~50–90 ms a jailed Deno needs to start
 * is paid once per batch instead of once per candidate. On any breach (a kill for time, memory or
 * output, a crash, a changed built-in, a malformed frame) the whole jail dies; the candidate that was
 * running is blamed and fails, the ones already reported keep their results (they ran before it), and
 * the rest are re-run in a fresh jail without it. `alone: true` gives every source its own jail: the
 * engine uses it for everything that could be promoted, and for the live version it is compared with.
 *
 * @module
 */
import { encodeFrame, FrameDecoder } from "../protocol/mod.ts";
import {
  type CpuClass,
  type SandboxProcess,
  type SandboxSpec,
  spawnSandbox,
  type Tier,
  WarmPool,
} from "../sandbox/mod.ts";
import { evaluatorCpuClass } from "./cpu_class.ts";
import { EvaluatorError } from "./errors.ts";
import type { CaseResult, EvalResult, EvaluateOptions, Evaluator, RegressionCase } from "./eval_result.ts";
import { compileAgent, type CompiledAgent, RESERVED_NAME } from "./compile.ts";
import {
  BATCH_CANDIDATES_MAX,
  EVAL_CASE_MS_MAX,
  EVAL_JAIL_MEMORY_MB,
  EVAL_JAIL_START_MS_MAX,
  EVAL_PROBES_MAX,
  EVAL_REPEATS_MAX,
  EVAL_REPEATS_SCREEN,
  JAILS_PARALLEL_MAX,
  WORK_BUDGET_FACTOR,
  WORK_BUDGET_MIN,
} from "./limits.ts";

/** Options of a {@link SandboxEvaluator}. */
export interface SandboxEvaluatorOptions {
  /** Cases every candidate must also pass (known failures, red-team finds). @default [] */
  regression?: RegressionCase[];
  /** Sandbox tier. @default "jail" */
  tier?: Tier;
  /** Jails at once. @default the machine's cores, at most JAILS_PARALLEL_MAX */
  parallel?: number;
  /** Candidates per screening jail. @default BATCH_CANDIDATES_MAX */
  batchMax?: number;
  /** A call over this fails its case; a jail silent this long past a call is killed. @default EVAL_CASE_MS_MAX */
  caseMsMax?: number;
  /** Memory of one jail, MiB. @default EVAL_JAIL_MEMORY_MB */
  memoryMb?: number;
  /** Start jails ahead of need (a warm pool); `false` starts each one cold (the bench's baseline). @default true */
  warm?: boolean;
  /** CPU class of the jails. @default the process's, see evolution/cpu_class.ts */
  cpu?: CpuClass;
}

/** Counters of what the evaluator did (for reports and the bench). */
export interface EvaluatorStats {
  jails: number;
  breaches: number;
  reruns: number;
  evaluations: number;
}

const PROJECT_ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const EVAL_ENTRY = `${PROJECT_ROOT}/evolution/eval_main.ts`;
const IMPORT_MAP = `${PROJECT_ROOT}/agent/import_map.json`;
/** Grace on top of a case's time bound before a silent jail is killed (frame latency, GC). */
const BEAT_GRACE_MS = 100;
/** Compiled sources kept (oldest dropped first). */
const COMPILED_CACHE_MAX = 4096;
/** Most jails kept started ahead of need. */
const WARM_POOL_JAILS_MAX = 8;
/** Jails of one batch that may die with no candidate running before the rest of the batch is failed. */
const JAIL_SILENT_DEATHS_MAX = 1;
const FILES_MAX = 256;
const PROCESSES_MAX = 64;
const TMP_MB = 16;
const STDERR_BYTES_MAX = 16 * 1024;

/** The bytes eval_main.ts writes first (it builds the same frame). */
const READY_FRAME = encodeFrame({ t: "ready" });

interface JailOutcome {
  /** Results by batch index; missing ones did not finish. */
  results: Map<number, EvalResult>;
  /** The batch index blamed for a breach, if any. */
  culprit: number | null;
  breach: string | null;
}

function failed(error: string, alone: boolean): EvalResult {
  return { ok: false, error, cases: [], alone };
}

/** The jailed evaluator; see the module doc. */
export class SandboxEvaluator implements Evaluator {
  readonly #regression: RegressionCase[];
  readonly #tier: Tier;
  readonly #parallel: number;
  readonly #batchMax: number;
  readonly #caseMsMax: number;
  readonly #memoryMb: number;
  readonly #warm: boolean;
  readonly #compiled = new Map<string, CompiledAgent>();
  readonly #stats: EvaluatorStats = { jails: 0, breaches: 0, reruns: 0, evaluations: 0 };
  #pool: WarmPool | null = null;
  readonly #cpu: CpuClass;

  /** @param options Regression set, tier, parallelism and bounds. */
  constructor(options: SandboxEvaluatorOptions = {}) {
    this.#regression = options.regression ?? [];
    this.#tier = options.tier ?? "jail";
    const cores = navigator.hardwareConcurrency || 1;
    this.#parallel = Math.max(1, Math.min(options.parallel ?? cores, JAILS_PARALLEL_MAX));
    this.#batchMax = Math.max(1, Math.min(options.batchMax ?? BATCH_CANDIDATES_MAX, BATCH_CANDIDATES_MAX));
    this.#caseMsMax = options.caseMsMax ?? EVAL_CASE_MS_MAX;
    this.#memoryMb = options.memoryMb ?? EVAL_JAIL_MEMORY_MB;
    this.#warm = options.warm ?? true;
    this.#cpu = options.cpu ?? evaluatorCpuClass();
  }

  /** Kills the jails started ahead of need; call once done. */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    await pool?.close();
  }

  async #take(): Promise<SandboxProcess> {
    if (!this.#warm) {
      const sandbox = spawnSandbox(this.#spec());
      await readReadyFrame(sandbox).catch((e) => {
        sandbox.kill("not ready");
        throw e;
      });
      return sandbox;
    }
    // Room for one re-run per worker besides the jails in use, so a breach does not wait for a cold start.
    this.#pool ??= new WarmPool({
      spawn: () => spawnSandbox(this.#spec()),
      size: Math.min(2 * this.#parallel, WARM_POOL_JAILS_MAX),
      ready: (sandbox) => readReadyFrame(sandbox),
    });
    return this.#pool.take();
  }

  /** @returns What the evaluator did so far. */
  stats(): EvaluatorStats {
    return { ...this.#stats };
  }

  /**
   * Evaluates every source against the evals of `evalsFrom`; see {@link Evaluator.evaluate}.
   *
   * @throws {EvaluatorError} `EVAL_LIVE_FAILED` when the live version itself does not load.
   */
  async evaluate(sources: string[], evalsFrom: string, options: EvaluateOptions = {}): Promise<EvalResult[]> {
    const repeats = options.repeats ?? EVAL_REPEATS_SCREEN;
    if (!Number.isInteger(repeats) || repeats < 1 || repeats > EVAL_REPEATS_MAX) {
      throw new RangeError(
        `Cannot evaluate as 'repeats' must be an integer in [1, ${EVAL_REPEATS_MAX}]: current value is ${repeats}`,
      );
    }
    const alone = options.alone ?? false;
    const count = options.count ?? !alone;
    const cascade = options.cascade ?? !alone;
    const caseMsMax = Math.min(options.caseMsMax ?? this.#caseMsMax, this.#caseMsMax);
    const regression = options.regression ?? this.#regression;
    const results: EvalResult[] = new Array(sources.length);
    const todo: number[] = [];
    sources.forEach((s, i) => {
      if (RESERVED_NAME.test(s)) {
        results[i] = failed(
          `The source uses a name reserved for instrumentation (${RESERVED_NAME.source})`,
          alone,
        );
      } else todo.push(i);
    });
    if (alone && options.interleave) {
      const shape = { repeats, alone, count, caseMsMax, cascade: false, regression };
      const out = await this.#runInterleaved(todo.map((i) => sources[i]), evalsFrom, shape);
      todo.forEach((idx, k) => results[idx] = out[k]);
      this.#stats.evaluations += sources.length;
      return results;
    }
    const size = alone ? 1 : Math.min(this.#batchMax, Math.ceil(todo.length / this.#parallel));
    const batches: number[][] = [];
    for (let at = 0; at < todo.length; at += Math.max(1, size)) batches.push(todo.slice(at, at + size));
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        const out = await this.#runBatch(batch.map((i) => sources[i]), evalsFrom, {
          repeats,
          alone,
          count,
          caseMsMax,
          cascade,
          regression,
        });
        batch.forEach((idx, k) => results[idx] = out[k]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#parallel, batches.length) }, worker));
    this.#stats.evaluations += sources.length;
    return results;
  }

  /** Runs one batch to completion: re-runs the innocent rest after every breach, without the culprit. */
  async #runBatch(sources: string[], live: string, run: RunShape): Promise<EvalResult[]> {
    const results: (EvalResult | undefined)[] = new Array(sources.length);
    let pending = sources.map((_, i) => i);
    let silentDeaths = 0;
    for (let round = 0; pending.length > 0; round++) {
      if (round > 0) this.#stats.reruns += pending.length;
      const payload = pending.map((i) => this.#payload(sources[i], run.count));
      const outcome = await this.#runJail(payload, live, run);
      for (const [k, r] of outcome.results) results[pending[k]] = { ...r, alone: run.alone };
      if (outcome.culprit !== null) {
        this.#stats.breaches++;
        results[pending[outcome.culprit]] = failed(outcome.breach ?? "The jail was killed", run.alone);
      } else if (outcome.results.size < pending.length && ++silentDeaths > JAIL_SILENT_DEATHS_MAX) {
        // The jail died between candidates, twice: no one to blame, so fail the rest rather than loop.
        for (const k of pending.keys()) {
          results[pending[k]] ??= failed(outcome.breach ?? "The jail died", run.alone);
        }
      }
      pending = pending.filter((i) => results[i] === undefined);
    }
    return results as EvalResult[];
  }

  /**
   * Compiles sources for the jail ahead of time (stage 0 calls this as candidates are made, so the
   * compile is not charged to evaluation). Results are cached by source.
   *
   * @param sources Candidate or live sources.
   * @param count Whether the work-counting form is wanted. @default true
   */
  prepare(sources: readonly string[], count = true): void {
    for (const s of sources) this.#payload(s, count);
  }

  #payload(source: string, count: boolean): CompiledAgent {
    const key = `${count ? "c" : "p"}:${source}`;
    let compiled = this.#compiled.get(key);
    if (compiled === undefined) {
      if (this.#compiled.size >= COMPILED_CACHE_MAX) {
        this.#compiled.delete(this.#compiled.keys().next().value!);
      }
      // Unparsable source goes as a module: the jail reports the load failure like any other.
      compiled = compileAgent(source, { count }) ?? { form: "module", code: source, counted: false };
      this.#compiled.set(key, compiled);
    }
    return compiled;
  }

  #spec(): SandboxSpec {
    return {
      entry: EVAL_ENTRY,
      importMap: IMPORT_MAP,
      readDirs: [`${PROJECT_ROOT}/agent`, `${PROJECT_ROOT}/protocol`],
      tier: this.#tier,
      limits: {
        memoryMb: this.#memoryMb,
        cpuS: 0,
        files: FILES_MAX,
        processes: PROCESSES_MAX,
        tmpMb: TMP_MB,
        stderrBytesMax: STDERR_BYTES_MAX,
        wallMs: 0,
        cpu: this.#cpu,
      },
    };
  }

  /**
   * Alone jails in lock-step: every source gets its own jail; for each repetition, each jail in turn
   * runs every case once. A jail that breaks fails its own source only.
   */
  async #runInterleaved(sources: string[], live: string, run: RunShape): Promise<EvalResult[]> {
    const sessions: JailSession[] = [];
    for (const source of sources) {
      const sandbox = await this.#take();
      this.#stats.jails++;
      const start = {
        nonce: "",
        live: this.#payload(live, false),
        liveCounted: this.#payload(live, true),
        workMin: WORK_BUDGET_MIN,
        workFactor: WORK_BUDGET_FACTOR,
        regression: run.regression,
        candidates: [this.#payload(source, run.count)],
        probesMax: EVAL_PROBES_MAX,
        repeats: run.repeats,
        caseMsMax: run.caseMsMax,
        stepped: true,
      };
      sessions.push(new JailSession(sandbox, start, run.caseMsMax + BEAT_GRACE_MS));
    }
    for (let r = 0; r < run.repeats; r++) {
      for (const session of sessions) await session.step(r);
    }
    const out: EvalResult[] = [];
    for (const session of sessions) {
      const r = await session.finish();
      if (!r.ok) this.#stats.breaches++;
      out.push({ ...r, alone: true });
    }
    return out;
  }

  /** One jail: spawns it, streams the start frame, watches its beats, collects frames until it ends. */
  async #runJail(payload: CompiledAgent[], live: string, run: RunShape): Promise<JailOutcome> {
    this.#stats.jails++;
    let sandbox: SandboxProcess;
    try {
      sandbox = await this.#take();
    } catch (e) {
      return {
        results: new Map(),
        culprit: null,
        breach: `Cannot start a jail: ${e instanceof Error ? e.message : e}`,
      };
    }
    const nonce = crypto.randomUUID();
    const outcome: JailOutcome = { results: new Map(), culprit: null, breach: null };
    let running: number | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => sandbox.kill("wall"), ms);
    };
    arm(EVAL_JAIL_START_MS_MAX);
    const start = {
      nonce,
      live: this.#payload(live, false),
      liveCounted: this.#payload(live, true),
      workMin: WORK_BUDGET_MIN,
      workFactor: WORK_BUDGET_FACTOR,
      regression: run.regression,
      candidates: payload,
      probesMax: EVAL_PROBES_MAX,
      cascade: run.cascade,
      repeats: run.repeats,
      caseMsMax: run.caseMsMax,
    };
    const writer = sandbox.stdin.getWriter();
    writer.write(encodeFrame(start)).then(() => writer.close()).catch(() => {});
    let fatal: string | null = null;
    try {
      const decoder = new FrameDecoder();
      for await (const chunk of sandbox.stdout) {
        for (const raw of decoder.push(chunk)) {
          const msg = raw as Record<string, unknown>;
          if (msg?.k !== nonce) throw new Error("a frame without the nonce");
          if (msg.t === "beat") arm(run.caseMsMax + BEAT_GRACE_MS);
          else if (msg.t === "begin") running = msg.i as number;
          else if (msg.t === "result") {
            outcome.results.set(msg.i as number, toResult(msg));
            running = null;
          } else if (msg.t === "breach") {
            outcome.breach = String(msg.error);
            sandbox.kill("breach");
          } else if (msg.t === "fatal") fatal = String(msg.error);
        }
      }
    } catch (e) {
      outcome.breach = `The jail sent a malformed frame: ${e instanceof Error ? e.message : e}`;
      sandbox.kill("protocol");
    }
    const exit = await sandbox.exited;
    clearTimeout(timer);
    if (fatal !== null) throw new EvaluatorError("EVAL_LIVE_FAILED", fatal);
    if (outcome.results.size < payload.length) {
      outcome.culprit = running;
      outcome.breach ??= describeExit(exit.killedFor, exit.code, exit.signal, sandbox);
    }
    return outcome;
  }
}

/** One lock-step jail: sends `go` frames, waits for each `rep`, and collects the final result. */
class JailSession {
  readonly #sandbox: SandboxProcess;
  readonly #nonce = crypto.randomUUID();
  readonly #graceMs: number;
  readonly #frames: AsyncIterator<Record<string, unknown>>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #failure: string | null = null;
  #result: EvalResult | null = null;

  constructor(sandbox: SandboxProcess, start: Record<string, unknown>, graceMs: number) {
    this.#sandbox = sandbox;
    this.#graceMs = graceMs;
    this.#writer = sandbox.stdin.getWriter();
    this.#frames = this.#read()[Symbol.asyncIterator]();
    this.#send({ ...start, nonce: this.#nonce });
  }

  async *#read(): AsyncGenerator<Record<string, unknown>> {
    const decoder = new FrameDecoder();
    for await (const chunk of this.#sandbox.stdout) {
      for (const raw of decoder.push(chunk)) {
        const msg = raw as Record<string, unknown>;
        if (msg?.k !== this.#nonce) throw new Error("a frame without the nonce");
        yield msg;
      }
    }
  }

  #send(frame: unknown): void {
    this.#writer.write(encodeFrame(frame)).catch(() => {});
  }

  /** Reads frames until `want` (or a result, a failure, the end); the jail dies if it stays silent. */
  async #until(want: string, waitMs: number): Promise<Record<string, unknown> | null> {
    while (this.#failure === null) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const silent = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), waitMs));
      const next = await Promise.race([this.#frames.next().catch((e) => ({ error: e })), silent]);
      clearTimeout(timer);
      if (next === null) this.#fail("Killed: a call ran past the time bound", "wall");
      else if ("error" in next) this.#fail(`The jail sent a malformed frame: ${next.error}`, "protocol");
      else if (next.done) this.#fail(null, null);
      else {
        const msg = next.value;
        if (msg.t === "result") this.#result = toResult(msg);
        if (msg.t === "fatal") throw new EvaluatorError("EVAL_LIVE_FAILED", String(msg.error));
        if (msg.t === want || msg.t === "result") return msg;
        if (msg.t === "breach") this.#fail(String(msg.error), "breach");
        waitMs = msg.t === "beat" ? this.#graceMs : waitMs;
      }
    }
    return null;
  }

  #fail(why: string | null, kill: string | null): void {
    this.#failure = why ?? "The jail ended";
    if (kill !== null) this.#sandbox.kill(kill);
  }

  /** Runs repetition `r` and waits for it. */
  async step(r: number): Promise<void> {
    if (this.#failure !== null || this.#result !== null) return;
    this.#send({ t: "go", r });
    await this.#until("rep", r === 0 ? EVAL_JAIL_START_MS_MAX : this.#graceMs);
  }

  /** Waits for the result and the jail's end. */
  async finish(): Promise<EvalResult> {
    if (this.#result === null && this.#failure === null) await this.#until("result", this.#graceMs);
    await this.#writer.close().catch(() => {});
    if (this.#result === null) this.#sandbox.kill("done");
    const exit = await this.#sandbox.exited;
    // End the frame reader: a stdout never read to its end nor cancelled keeps its pipe open for good.
    await this.#frames.return?.(undefined).catch(() => {});
    if (this.#result !== null) return this.#result;
    const why = this.#failure === "The jail ended"
      ? describeExit(exit.killedFor, exit.code, exit.signal, this.#sandbox)
      : this.#failure;
    return failed(why ?? "The jail ended", true);
  }
}

/** The shape of one evaluation run, as {@link SandboxEvaluator.evaluate} resolved it. */
interface RunShape {
  cascade: boolean;
  regression: RegressionCase[];
  repeats: number;
  alone: boolean;
  count: boolean;
  caseMsMax: number;
}

/** Reads exactly the ready frame off a new jail's stdout, leaving the rest for the run. */
async function readReadyFrame(sandbox: SandboxProcess): Promise<void> {
  const reader = sandbox.stdout.getReader();
  let got = 0;
  try {
    while (got < READY_FRAME.length) {
      const { value, done } = await reader.read();
      if (done) throw new Error("Cannot use an evaluation jail: it exited before it was ready");
      // The jail writes nothing else before it has read its start frame, so a chunk never holds more.
      for (let i = 0; i < value.length; i++) {
        if (got + i >= READY_FRAME.length || value[i] !== READY_FRAME[got + i]) {
          throw new Error("Cannot use an evaluation jail: bad ready frame");
        }
      }
      got += value.length;
    }
  } finally {
    reader.releaseLock();
  }
}

function describeExit(
  killedFor: string | null,
  code: number | null,
  signal: string | null,
  sb: SandboxProcess,
): string {
  if (killedFor === "wall") return "Killed: a call ran past the time bound";
  if (killedFor !== null) return `Killed for ${killedFor}`;
  const tail = sb.stderrTail().trim().split("\n").slice(-2).join(" ").slice(0, 300);
  return `The jail ended (exit ${code ?? signal})${tail ? `: ${tail}` : ""}`;
}

function toResult(msg: Record<string, unknown>): EvalResult {
  if (msg.ok !== true) return { ok: false, error: String(msg.error ?? "failed"), cases: [], alone: false };
  const cases = (msg.cases as CaseResult[]).map((c) => ({
    pass: c.pass === true,
    score: typeof c.score === "number" ? c.score : null,
    ms: Array.isArray(c.ms) ? c.ms.map(Number) : [],
    work: Number(c.work) || 0,
    out: String(c.out),
    weight: Number(c.weight) || 0,
    critical: c.critical === true,
    regression: c.regression === true,
    ...(c.error ? { error: String(c.error) } : {}),
  }));
  return { ok: true, cases, alone: false };
}
