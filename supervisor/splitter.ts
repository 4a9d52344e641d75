/**
 * Shadows and the TrafficSplitter. A shadow is an AgentHost running candidate code in the jail, on a copy
 * of the live agent's durable state, with an in-memory vault (nothing it does persists) and a shadow grant
 * (no tool side effect: recorded answers or pure tools only). The splitter mirrors a share of live invokes
 * to the shadows after the live answer is sent — never on the answer's path — and records comparisons.
 *
 * Shadows live in the shadow thread (./shadow_thread.ts), an idle-class Worker: there a
 * {@link ShadowRunner} drives each one. The main thread holds a {@link Shadow} handle per shadow, fed
 * with comparisons by its {@link ShadowThread}.
 *
 * @module
 */
import { deepEqual, type HistoryEntry, type Snapshot } from "../protocol/mod.ts";
import type { Broker, Grant, SandboxProcess, SandboxSpec, ToolAudit } from "../sandbox/mod.ts";
import type { Logger } from "../observability/mod.ts";
import { AgentHost, type AnsweredInvoke } from "./agent_host.ts";
import { EphemeralVault } from "./ephemeral_vault.ts";
import { SupervisorError } from "./errors.ts";
import type { HostMetrics } from "./host_deps.ts";
import type { ShadowEvent, ToShadowThread } from "./shadow_thread.ts";

/** Most shadows of one agent at once. */
export const SHADOWS_PER_AGENT_MAX = 100;
/** Most shadows across the supervisor. */
export const SHADOWS_MAX = 200;
/** Mirrored invokes waiting or running per shadow; more are dropped (and counted), never queued. */
export const SHADOW_QUEUE_MAX = 64;
/** Longest the shadow thread may take to stop its shadows when the supervisor stops, ms. */
export const SHADOW_THREAD_CLOSE_MS = 5_000;
/** Comparisons kept per shadow (oldest dropped). */
export const COMPARISONS_MAX = 10_000;
/** Recorded tool answers kept per shadow (oldest dropped). */
export const RECORDED_ANSWERS_MAX = 10_000;

/** One mirrored invoke: live and shadow side by side. */
export interface Comparison {
  request_id: string;
  equal: boolean;
  live_ms: number;
  shadow_ms: number;
  /** The shadow's error code, when it failed. */
  error?: string;
  /** Where the input came from. */
  source: "mirror" | "replay";
  /** The input, kept only when the answers differ (to tell a fix from a regression). */
  input?: unknown;
}

/** What a shadow needs to start. */
export interface ShadowSpec {
  id: string;
  agent: string;
  source: string;
  /** The version label reported for the shadow's answers. */
  version: string;
  start: { snapshot: Snapshot; seq: number; history: HistoryEntry[] };
  tools: readonly string[];
}

/** Dependencies of a {@link ShadowRunner}. */
export interface ShadowDeps {
  spawn: () => SandboxProcess;
  broker: Broker;
  log: Logger;
  metrics: HostMetrics;
}

/** One running shadow, inside the shadow thread: its host and the tool answers recorded for it. */
export class ShadowRunner {
  readonly spec: ShadowSpec;
  readonly host: AgentHost;
  readonly #recorded: Map<string, unknown>;
  #queued = 0;
  dropped = 0;

  private constructor(spec: ShadowSpec, host: AgentHost, recorded: Map<string, unknown>) {
    this.spec = spec;
    this.host = host;
    this.#recorded = recorded;
  }

  /** Starts a shadow. @throws {SupervisorError} `AGENT_LOAD_FAILED` when its code does not load. */
  static async start(spec: ShadowSpec, deps: ShadowDeps): Promise<ShadowRunner> {
    const recorded = new Map<string, unknown>();
    const grant: Grant = { tools: spec.tools, mode: "shadow", recorded };
    const vault = new EphemeralVault(spec.start);
    const info = { name: spec.agent, version: spec.version, doc: "", tools: [...spec.tools], evals: 0 };
    const host = await AgentHost.start(spec.agent, spec.source, info, {
      spawn: deps.spawn,
      vault,
      broker: deps.broker,
      log: deps.log,
      metrics: deps.metrics,
      grant,
      warmStandby: false,
    });
    return new ShadowRunner(spec, host, recorded);
  }

  /** Adds recorded tool answers (from the live invoke being mirrored). */
  record(tools: ReadonlyMap<string, unknown>): void {
    for (const [k, v] of tools) {
      this.#recorded.delete(k);
      this.#recorded.set(k, v);
      if (this.#recorded.size > RECORDED_ANSWERS_MAX) {
        this.#recorded.delete(this.#recorded.keys().next().value!);
      }
    }
  }

  /**
   * Runs one input and compares the answer with the live one. Resolves when compared; never rejects.
   *
   * @returns The comparison, or `undefined` when the shadow's queue was full (the input is dropped).
   */
  async compare(
    requestId: string,
    input: unknown,
    live: { output: unknown; ms: number },
    source: Comparison["source"],
  ): Promise<Comparison | undefined> {
    if (this.#queued >= SHADOW_QUEUE_MAX) {
      this.dropped++;
      return undefined;
    }
    this.#queued++;
    const started = performance.now();
    let comparison: Comparison;
    try {
      const answer = await this.host.invoke(input, { requestId: `${requestId}/shadow-${this.spec.id}` });
      const ms = answer.ms ?? performance.now() - started;
      const equal = deepEqual(answer.output, live.output);
      comparison = { request_id: requestId, equal, live_ms: live.ms, shadow_ms: ms, source };
      if (!equal) comparison.input = input;
    } catch (e) {
      const code = e instanceof SupervisorError ? e.code : "INTERNAL";
      comparison = {
        request_id: requestId,
        equal: false,
        live_ms: live.ms,
        shadow_ms: performance.now() - started,
        error: code,
        source,
      };
    } finally {
      this.#queued--;
    }
    return comparison;
  }

  /** Stops the shadow's sandbox. */
  stop(): Promise<void> {
    return this.host.stop(200);
  }
}

/** A running shadow as the main thread sees it: its spec, what it has shown, and a way to stop it. */
export class Shadow {
  readonly spec: ShadowSpec;
  readonly comparisons: Comparison[] = [];
  /** Mirrored inputs dropped because the shadow's queue was full. */
  dropped = 0;
  /** The shadow's sandbox as last reported: pid (undefined while restarting) and restarts. */
  readonly host: { pid: number | undefined; restarts: number };
  readonly #thread: ShadowThread;

  constructor(spec: ShadowSpec, thread: ShadowThread, pid: number | undefined) {
    this.spec = spec;
    this.#thread = thread;
    this.host = { pid, restarts: 0 };
  }

  /** The thread hosting the shadow. */
  get thread(): ShadowThread {
    return this.#thread;
  }

  /** @internal Takes one comparison reported by the thread. */
  reported(e: Extract<ShadowEvent, { op: "compared" }>): void {
    this.comparisons.push(e.comparison);
    if (this.comparisons.length > COMPARISONS_MAX) this.comparisons.shift();
    this.dropped = e.dropped;
    this.host.pid = e.pid;
    this.host.restarts = e.restarts;
  }

  /** Stops the shadow's sandbox. */
  stop(): Promise<void> {
    return this.#thread.stop(this.spec.id);
  }
}

/** What the shadow thread reports to the main thread. */
export interface ShadowThreadSinks {
  log: Logger;
  metrics: HostMetrics;
  audit: (entry: ToolAudit) => void;
}

/**
 * The main thread's side of the shadow thread: starts it (lazily, on the first shadow), starts and stops
 * shadows in it, posts mirrored answers and routes what it reports back.
 */
export class ShadowThread {
  readonly #spawn: SandboxSpec;
  readonly #poolSize: number;
  readonly #sinks: ShadowThreadSinks;
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  readonly #shadows = new Map<string, Shadow>();
  readonly #starting = new Map<
    string,
    { spec: ShadowSpec; resolve: (s: Shadow) => void; reject: (e: Error) => void }
  >();
  readonly #stopping = new Map<string, () => void>();
  #closing: (() => void) | undefined;
  /** Whether the thread runs idle-class (known once it has started). */
  cpu: "idle" | "normal" | "unknown" = "unknown";

  /**
   * @param spawn What one shadow sandbox runs (always the jail tier, background CPU class).
   * @param poolSize Shadow sandboxes kept started in the thread, waiting for candidate code.
   * @param sinks Where the thread's log lines, metrics and tool audits go.
   */
  constructor(spawn: SandboxSpec, poolSize: number, sinks: ShadowThreadSinks) {
    this.#spawn = spawn;
    this.#poolSize = poolSize;
    this.#sinks = sinks;
  }

  /** Starts a shadow. @throws {SupervisorError} `AGENT_LOAD_FAILED` when its code does not load. */
  async start(spec: ShadowSpec): Promise<Shadow> {
    await this.#open();
    if (this.#starting.has(spec.id) || this.#shadows.has(spec.id)) {
      throw new SupervisorError("INTERNAL", `Cannot start shadow '${spec.id}': one with that id is running`);
    }
    return await new Promise<Shadow>((resolve, reject) => {
      this.#starting.set(spec.id, { spec, resolve, reject });
      this.#send({ op: "start", spec });
    });
  }

  /** Mirrors one answered live invoke to some of the thread's shadows. */
  mirror(answer: AnsweredInvoke, shadows: readonly Shadow[]): void {
    if (this.#worker === undefined || shadows.length === 0) return;
    this.#send({
      op: "mirror",
      ids: shadows.map((s) => s.spec.id),
      requestId: answer.requestId,
      input: answer.input,
      output: answer.output,
      ms: answer.ms,
      tools: [...answer.tools],
    });
  }

  /** Stops one shadow; resolves once its sandbox is gone. */
  stop(id: string): Promise<void> {
    if (this.#worker === undefined || !this.#shadows.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      this.#stopping.set(id, resolve);
      this.#send({ op: "stop", id });
    });
  }

  /** Stops every shadow and the thread. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    await this.#ready?.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#closing = resolve;
      this.#send({ op: "close" });
      // A thread that cannot stop its shadows in time is terminated; their sandboxes die with their
      // pipes (bubblewrap's --die-with-parent covers the supervisor's own exit).
      timer = setTimeout(() => {
        this.#sinks.log.warn("shadow thread did not close in time; terminating it", {
          ms: SHADOW_THREAD_CLOSE_MS,
        });
        resolve();
      }, SHADOW_THREAD_CLOSE_MS);
    });
    clearTimeout(timer);
    worker.terminate();
    this.#worker = undefined;
    this.#ready = undefined;
  }

  #send(m: ToShadowThread): void {
    this.#worker!.postMessage(m);
  }

  #open(): Promise<void> {
    if (this.#ready !== undefined) return this.#ready;
    const worker = new Worker(new URL("./shadow_thread.ts", import.meta.url), { type: "module" });
    this.#worker = worker;
    this.#ready = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<ShadowEvent[]>) => {
        for (const event of e.data) {
          if (event.op === "ready") {
            this.cpu = event.cpu;
            if (event.cpu !== "idle") {
              this.#sinks.log.warn("shadow thread runs at normal priority: shadows may slow live requests", {
                why: event.why,
              });
            }
            resolve();
          } else this.#on(event);
        }
      };
      worker.onerror = (e) => {
        e.preventDefault();
        const error = new SupervisorError("INTERNAL", `The shadow thread failed: ${e.message}`);
        this.#sinks.log.error("shadow thread failed; its shadows are gone", { error: e.message });
        reject(error);
        this.#fail(error);
      };
    });
    this.#send({ op: "init", spawn: this.#spawn, poolSize: this.#poolSize });
    return this.#ready;
  }

  /** The thread died: every waiting call fails, every shadow is gone; the next start opens a new one. */
  #fail(error: Error): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#ready = undefined;
    for (const p of this.#starting.values()) p.reject(error);
    this.#starting.clear();
    for (const resolve of this.#stopping.values()) resolve();
    this.#stopping.clear();
    this.#shadows.clear();
    this.#closing?.();
  }

  #on(event: ShadowEvent): void {
    switch (event.op) {
      case "started": {
        const pending = this.#starting.get(event.id);
        this.#starting.delete(event.id);
        if (pending === undefined) return;
        const shadow = new Shadow(pending.spec, this, event.pid);
        this.#shadows.set(event.id, shadow);
        return pending.resolve(shadow);
      }
      case "failed": {
        const pending = this.#starting.get(event.id);
        this.#starting.delete(event.id);
        return pending?.reject(new SupervisorError(event.code, event.message));
      }
      case "compared":
        return this.#shadows.get(event.id)?.reported(event);
      case "dropped": {
        const shadow = this.#shadows.get(event.id);
        if (shadow !== undefined) shadow.dropped = event.dropped;
        return;
      }
      case "stopped": {
        this.#shadows.delete(event.id);
        const resolve = this.#stopping.get(event.id);
        this.#stopping.delete(event.id);
        return resolve?.();
      }
      case "closed":
        this.#shadows.clear();
        return this.#closing?.();
      case "log":
        return this.#sinks.log.log(event.level, event.msg, event.fields);
      case "invoked":
        return this.#sinks.metrics.invoked(
          { agent: event.agent, version: event.version },
          event.outcome,
          event.seconds,
        );
      case "restarted":
        return this.#sinks.metrics.restarted({ agent: event.agent });
      case "audit":
        return this.#sinks.audit(event.entry);
      case "ready":
        return;
    }
  }
}

/** Mirrors live traffic to the shadows of each agent. */
export class TrafficSplitter {
  readonly #shadows = new Map<string, Map<string, Shadow>>();
  readonly #random: () => number;
  /** Share of live invokes mirrored, 0..1. */
  share: number;

  /**
   * @param share Share of live invokes mirrored. @default 1
   * @param random The coin, injectable for deterministic tests. @default Math.random
   */
  constructor(share = 1, random: () => number = Math.random) {
    if (!(share >= 0 && share <= 1)) {
      throw new RangeError(`Cannot mirror a share of ${share}: it must be within 0..1`);
    }
    this.share = share;
    this.#random = random;
  }

  /** Number of shadows running, of one agent or of all. */
  count(agent?: string): number {
    if (agent !== undefined) return this.#shadows.get(agent)?.size ?? 0;
    let n = 0;
    for (const m of this.#shadows.values()) n += m.size;
    return n;
  }

  /**
   * Adds a shadow. @throws {SupervisorError} `SHADOWS_FULL` past `SHADOWS_PER_AGENT_MAX` or `SHADOWS_MAX`.
   */
  add(shadow: Shadow): void {
    const agent = shadow.spec.agent;
    if (this.#shadows.get(agent)?.get(shadow.spec.id) === shadow) return;
    if (this.count(agent) >= SHADOWS_PER_AGENT_MAX || this.count() >= SHADOWS_MAX) {
      throw new SupervisorError(
        "SHADOWS_FULL",
        `Cannot add a shadow of '${agent}': the shadow limit is reached`,
      );
    }
    let set = this.#shadows.get(agent);
    if (set === undefined) this.#shadows.set(agent, set = new Map());
    set.set(shadow.spec.id, shadow);
  }

  /** Every running shadow. */
  all(): Shadow[] {
    return [...this.#shadows.values()].flatMap((m) => [...m.values()]);
  }

  /** Removes a shadow (the caller stops it). */
  remove(agent: string, id: string): Shadow | undefined {
    const set = this.#shadows.get(agent);
    const shadow = set?.get(id);
    set?.delete(id);
    return shadow;
  }

  /**
   * The tap to give the live host: mirrors the answered invoke, asynchronously. The host calls it right
   * after resolving the live answer, before that answer has travelled up its promise chain to the caller;
   * mirroring at once would queue every shadow's dispatch in between (measured: live p50 0.45 → 1.8 ms with
   * 10 shadows). A macrotask lets the live answer go out first, and keeps the mirrored inputs in order.
   */
  tap(answer: AnsweredInvoke): void {
    const set = this.#shadows.get(answer.agent);
    if (set === undefined || set.size === 0) return;
    setTimeout(() => {
      const chosen = new Map<ShadowThread, Shadow[]>();
      for (const shadow of set.values()) {
        if (this.#random() >= this.share) continue;
        const list = chosen.get(shadow.thread);
        if (list === undefined) chosen.set(shadow.thread, [shadow]);
        else list.push(shadow);
      }
      for (const [thread, shadows] of chosen) thread.mirror(answer, shadows);
    }, 0);
  }
}
