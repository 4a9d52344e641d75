/**
 * The shadow thread: a Worker inside the supervisor that hosts every shadow (its AgentHost, its jailed
 * sandbox, its warm pool, the comparisons) and runs idle-class, so shadow work only ever uses cycles the
 * live path leaves. The main thread posts one message per mirrored live answer; the thread posts back
 * comparisons, log lines, metrics and tool audits in batches.
 *
 * Why a thread: the shadow sandboxes already run idle-class (sandbox/cgroup.ts), but every mirrored
 * invoke also costs the supervisor frames, promises and garbage, and on the live path's own event loop
 * that cost lands in live requests (measured on 2 cores: live p99 0.8 → 4.3 ms with 10 shadows, also in a
 * Worker at normal priority; ≈ unchanged with the Worker made idle-class).
 *
 * This module is the Worker's entry; the main thread's side is `ShadowThread` in ./splitter.ts.
 *
 * @module
 */
import { Logger } from "../observability/mod.ts";
import type { LogLevel } from "../protocol/mod.ts";
import { Broker, type SandboxSpec, setThreadCpuClass, spawnSandbox, WarmPool } from "../sandbox/mod.ts";
import { type Comparison, ShadowRunner, type ShadowSpec } from "./splitter.ts";
import { SupervisorError } from "./errors.ts";
import type { ToolAudit } from "../sandbox/mod.ts";

/** How often the thread posts what it has gathered (comparisons, logs, metrics), ms. */
export const SHADOW_THREAD_FLUSH_MS = 20;
/** Events gathered before the thread posts them without waiting for the timer. */
export const SHADOW_THREAD_BATCH_MAX = 256;

/** Messages from the main thread. */
export type ToShadowThread =
  | { op: "init"; spawn: SandboxSpec; poolSize: number }
  | { op: "start"; spec: ShadowSpec }
  | {
    op: "mirror";
    ids: string[];
    requestId: string;
    input: unknown;
    output: unknown;
    ms: number;
    tools: [string, unknown][];
  }
  | { op: "stop"; id: string }
  | { op: "close" };

/** One event the thread reports. */
export type ShadowEvent =
  | { op: "ready"; cpu: "idle" | "normal"; why?: string }
  | { op: "started"; id: string; pid: number | undefined }
  | { op: "failed"; id: string; code: string; message: string }
  | { op: "compared"; id: string; comparison: Comparison; dropped: number; pid?: number; restarts: number }
  | { op: "dropped"; id: string; dropped: number }
  | { op: "stopped"; id: string }
  | { op: "closed" }
  | { op: "log"; level: LogLevel; msg: string; fields: Record<string, unknown> }
  | { op: "invoked"; agent: string; version: string; outcome: "ok" | "error"; seconds: number }
  | { op: "restarted"; agent: string }
  | { op: "audit"; entry: ToolAudit };

/** A logger whose lines go to the main thread's logger. */
class ForwardingLogger extends Logger {
  readonly #post: (event: ShadowEvent) => void;
  constructor(post: (event: ShadowEvent) => void) {
    super({ console: false, level: "debug" });
    this.#post = post;
  }
  override log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    this.#post({ op: "log", level, msg, fields: cloneable(fields) });
  }
}

/** Fields as structured clone takes them (errors as their message and stack, anything odd as text). */
function cloneable(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) out[k] = { name: v.name, message: v.message };
    else if (typeof v === "function" || typeof v === "symbol") out[k] = String(v);
    else out[k] = v;
  }
  return out;
}

/** The thread's state; exported for the Worker entry below. */
class ShadowThreadMain {
  readonly #runners = new Map<string, ShadowRunner>();
  readonly #events: ShadowEvent[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pool: WarmPool | undefined;
  #spawnSpec: SandboxSpec | undefined;
  readonly #log = new ForwardingLogger((e) => this.post(e));
  readonly #broker = new Broker((entry) => this.post({ op: "audit", entry }));
  readonly #metrics = {
    invoked: (labels: { agent: string; version: string }, outcome: "ok" | "error", seconds: number) =>
      this.post({ op: "invoked", ...labels, outcome, seconds }),
    restarted: (labels: { agent: string }) => this.post({ op: "restarted", agent: labels.agent }),
  };

  /** Queues an event; posts the batch when full or on the next timer. */
  post(event: ShadowEvent): void {
    this.#events.push(event);
    if (this.#events.length >= SHADOW_THREAD_BATCH_MAX) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), SHADOW_THREAD_FLUSH_MS);
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#events.length === 0) return;
    (self as unknown as Worker).postMessage(this.#events.splice(0));
  }

  async handle(m: ToShadowThread): Promise<void> {
    switch (m.op) {
      case "init": {
        const idle = setThreadCpuClass("background");
        this.#spawnSpec = m.spawn;
        if (m.poolSize > 0) this.#pool = new WarmPool({ spawn: () => this.#spawn(), size: m.poolSize });
        this.post({ op: "ready", cpu: idle.ok ? "idle" : "normal", why: idle.why });
        return this.flush();
      }
      case "start":
        return await this.#start(m.spec);
      case "mirror": {
        const tools = new Map(m.tools);
        for (const id of m.ids) {
          const runner = this.#runners.get(id);
          if (runner === undefined) continue;
          runner.record(tools);
          void runner.compare(m.requestId, m.input, { output: m.output, ms: m.ms }, "mirror").then((c) => {
            if (c === undefined) return this.post({ op: "dropped", id, dropped: runner.dropped });
            const host = runner.host;
            this.post({
              op: "compared",
              id,
              comparison: c,
              dropped: runner.dropped,
              pid: host.pid,
              restarts: host.restarts,
            });
          });
        }
        return;
      }
      case "stop": {
        const runner = this.#runners.get(m.id);
        this.#runners.delete(m.id);
        await runner?.stop();
        this.post({ op: "stopped", id: m.id });
        return this.flush();
      }
      case "close": {
        await Promise.all([...this.#runners.values()].map((r) => r.stop()));
        this.#runners.clear();
        await this.#pool?.close();
        await this.#broker.close();
        this.post({ op: "closed" });
        return this.flush();
      }
    }
  }

  #spawn() {
    return spawnSandbox(this.#spawnSpec!);
  }

  async #start(spec: ShadowSpec): Promise<void> {
    try {
      const runner = await ShadowRunner.start(spec, {
        spawn: () => this.#pool?.takeReady() ?? this.#spawn(),
        broker: this.#broker,
        log: this.#log,
        metrics: this.#metrics,
      });
      this.#runners.set(spec.id, runner);
      this.post({ op: "started", id: spec.id, pid: runner.host.pid });
    } catch (e) {
      const code = e instanceof SupervisorError ? e.code : "AGENT_LOAD_FAILED";
      this.post({ op: "failed", id: spec.id, code, message: e instanceof Error ? e.message : String(e) });
    }
    this.flush();
  }
}

// The Worker entry: only when loaded as a Worker (the module is also imported for its types).
if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
  const main = new ShadowThreadMain();
  self.addEventListener("message", (e) => {
    main.handle((e as MessageEvent<ToShadowThread>).data).catch((err) => {
      main.post({
        op: "log",
        level: "error",
        msg: "shadow thread: message failed",
        fields: { error: String(err) },
      });
      main.flush();
    });
  });
}
