/**
 * The agent runtime inside a sandbox: loads the agent's code from a `hello` frame, runs invokes one at a
 * time, turns state changes into deltas, and brokers tool calls through the supervisor.
 *
 * @module
 */
import {
  applyDelta,
  type DeltaOp,
  diff,
  type ErrorBody,
  type HistoryEntry,
  type SandboxMessage,
  type Snapshot,
  type SupervisorMessage,
  ToolError,
} from "../protocol/mod.ts";
import type { AgentDefinition, Context, ToolDefinition, ToolFunction } from "./dsl.ts";
import { HISTORY_ENTRIES_MAX, LOGS_PER_INVOKE_MAX, TOOL_CALLS_PER_INVOKE_MAX } from "./limits.ts";
import { MemoryStore } from "./memory.ts";

/** Anything a sandbox sends, minus the secret the runtime adds. */
type Outgoing = SandboxMessage extends infer M ? M extends SandboxMessage ? Omit<M, "k"> : never : never;

/** How the runtime loads an agent's source into a module. */
export type ModuleLoader = (source: string) => Promise<{ default?: unknown }>;

/** Loads TypeScript source through a `data:` URL, the only import a permission-less sandbox may make. */
export function dataUrlLoader(source: string): Promise<{ default?: unknown }> {
  return import("data:application/typescript;charset=utf-8," + encodeURIComponent(source));
}

interface PendingTool {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** One agent's runtime. Feed it supervisor messages with {@link AgentRuntime.receive}. */
export class AgentRuntime {
  readonly #send: (msg: SandboxMessage) => void;
  readonly #load: ModuleLoader;
  #secret = "";
  #agent: AgentDefinition | undefined;
  #snapshot: Snapshot = { state: {}, memory: {} };
  /**
   * A private deep copy of the snapshot as of the last answered invoke. A change is found by comparing
   * against it (no copy of the whole state per invoke), it is kept current by applying each delta, and a
   * failed invoke restores the snapshot from it.
   */
  #mirror: Snapshot = { state: {}, memory: {} };
  #history: HistoryEntry[] = [];
  #granted = new Set<string>();
  #queue: Promise<void> = Promise.resolve();
  #tools = new Map<number, PendingTool>();
  #toolCounter = 0;

  /**
   * @param send Writes one message to the supervisor.
   * @param load Turns source into a module. @default dataUrlLoader
   */
  constructor(send: (msg: SandboxMessage) => void, load: ModuleLoader = dataUrlLoader) {
    this.#send = send;
    this.#load = load;
  }

  #emit(msg: Outgoing): void {
    this.#send({ ...msg, k: this.#secret } as SandboxMessage);
  }

  /** Handles one message from the supervisor. Invokes are queued and run in order. */
  receive(msg: SupervisorMessage): Promise<void> {
    switch (msg.t) {
      case "hello":
        return this.#hello(msg);
      case "reset":
        return this.#reset(msg);
      case "invoke":
        this.#queue = this.#queue.then(() => this.#invoke(msg));
        return Promise.resolve();
      case "tool_result":
        this.#toolResult(msg);
        return Promise.resolve();
      case "ping":
        this.#emit({ t: "pong", n: msg.n });
        return Promise.resolve();
      case "checkpoint_ack":
      case "shutdown":
        return Promise.resolve();
    }
  }

  async #hello(msg: Extract<SupervisorMessage, { t: "hello" }>): Promise<void> {
    this.#secret = msg.secret;
    if (this.#agent !== undefined) {
      return this.#emit({
        t: "error",
        code: "ALREADY_LOADED",
        message: "Cannot load agent: this sandbox has code",
      });
    }
    let agent: AgentDefinition;
    try {
      const mod = await this.#load(msg.source);
      const candidate = mod.default as AgentDefinition | undefined;
      if (candidate?.kind !== "agent") {
        throw new TypeError("the module's default export is not a defineAgent() result");
      }
      agent = candidate;
    } catch (e) {
      return this.#emit({ t: "error", code: "LOAD_FAILED", message: `Cannot load agent: ${errorText(e)}` });
    }
    this.#agent = agent;
    this.#snapshot = msg.snapshot;
    this.#history = msg.history.slice(-HISTORY_ENTRIES_MAX);
    this.#granted = new Set(msg.tools);
    let delta: DeltaOp[] = [];
    if (msg.seq === 0 && Object.keys(msg.snapshot.state).length === 0 && agent.init !== undefined) {
      const before = structuredClone(this.#snapshot);
      this.#snapshot.state = agent.init();
      delta = diff(before, this.#snapshot);
    }
    this.#mirror = structuredClone(this.#snapshot);
    this.#emit({ t: "ready", agent: this.#info(agent), delta });
  }

  /** A standby takes over: the current durable state replaces whatever it was loaded with. */
  #reset(msg: Extract<SupervisorMessage, { t: "reset" }>): Promise<void> {
    const agent = this.#agent;
    if (agent === undefined) {
      this.#emit({ t: "error", code: "NOT_LOADED", message: "Cannot reset: no agent loaded" });
      return Promise.resolve();
    }
    this.#queue = this.#queue.then(() => {
      this.#snapshot = msg.snapshot;
      this.#mirror = structuredClone(msg.snapshot);
      this.#history = msg.history.slice(-HISTORY_ENTRIES_MAX);
      this.#emit({ t: "ready", agent: this.#info(agent), delta: [] });
    });
    return Promise.resolve();
  }

  #info(agent: AgentDefinition) {
    const tools = agent.tools.map((t) => typeof t === "string" ? t : t.name);
    return { name: agent.name, version: agent.version, doc: agent.doc, tools, evals: agent.evals.length };
  }

  async #invoke(msg: Extract<SupervisorMessage, { t: "invoke" }>): Promise<void> {
    const agent = this.#agent;
    if (agent === undefined) {
      const error = { code: "NOT_LOADED", message: "Cannot invoke: no agent loaded" };
      return this.#emit({ t: "result", id: msg.id, delta: [], error, ms: 0 });
    }
    const started = performance.now();
    const budget = { tools: TOOL_CALLS_PER_INVOKE_MAX, logs: LOGS_PER_INVOKE_MAX };
    const ctx = this.#context(agent, msg, budget);
    let output: unknown;
    let error: ErrorBody | undefined;
    try {
      output = await agent.handle(ctx);
      if (isRecord(ctx.state)) this.#snapshot.state = ctx.state;
      else throw new TypeError("ctx.state must stay a plain object");
    } catch (e) {
      error = { code: e instanceof ToolError ? e.code : "AGENT_ERROR", message: errorText(e) };
    }
    const ms = performance.now() - started;
    if (error !== undefined) {
      this.#snapshot = structuredClone(this.#mirror);
      return this.#emit({ t: "result", id: msg.id, delta: [], error, ms });
    }
    const delta = diff(this.#mirror, this.#snapshot);
    try {
      this.#emit({ t: "result", id: msg.id, output, delta, ms });
    } catch (e) {
      // The output could not be encoded (a function, a class instance, a cycle): the change is dropped.
      this.#snapshot = structuredClone(this.#mirror);
      const error = { code: "OUTPUT_INVALID", message: `Cannot send the handler's output: ${errorText(e)}` };
      return this.#emit({ t: "result", id: msg.id, delta: [], error, ms });
    }
    // The mirror takes copies of the delta's values: it must never share an object with the live state.
    applyDelta(this.#mirror, structuredClone(delta));
    this.#history.push({ seq: msg.seq + 1, input: msg.input, output, time_ms: Date.now() });
    if (this.#history.length > HISTORY_ENTRIES_MAX) this.#history.shift();
  }

  #context(
    agent: AgentDefinition,
    msg: Extract<SupervisorMessage, { t: "invoke" }>,
    budget: { tools: number; logs: number },
  ): Context {
    const declared = new Map<string, string | ToolDefinition>();
    for (const t of agent.tools) declared.set(typeof t === "string" ? t : t.name, t);
    const tools: Record<string, ToolFunction> = {};
    for (const [name, tool] of declared) {
      tools[name] = (...args: unknown[]) => {
        if (budget.tools-- <= 0) {
          return Promise.reject(
            new ToolError(
              "TOOL_BUDGET",
              `Cannot call tool '${name}': ${TOOL_CALLS_PER_INVOKE_MAX} calls made`,
            ),
          );
        }
        if (typeof tool !== "string") return Promise.resolve().then(() => tool.run(...args));
        return this.#callBroker(msg.id, name, args);
      };
    }
    const input = msg.input;
    return {
      input,
      arg: (name: string) => isRecord(input) ? input[name] : undefined,
      state: this.#snapshot.state,
      memory: new MemoryStore(this.#snapshot.memory),
      history: this.#history.map((h) => ({ ...h })),
      hasTool: (name: string) => {
        const tool = declared.get(name);
        return tool !== undefined && (typeof tool !== "string" || this.#granted.has(name));
      },
      tools,
      log: (text: string, fields?: Record<string, unknown>) => {
        if (budget.logs-- <= 0) return;
        this.#emit({ t: "log", level: "info", msg: String(text), request_id: msg.request_id, fields });
      },
      requestId: msg.request_id,
    };
  }

  #callBroker(invokeId: number, name: string, args: unknown[]): Promise<unknown> {
    if (!this.#granted.has(name)) {
      return Promise.reject(new ToolError("TOOL_NOT_GRANTED", `Cannot call tool '${name}': not granted`));
    }
    const call = ++this.#toolCounter;
    return new Promise((resolve, reject) => {
      this.#tools.set(call, { resolve, reject });
      this.#emit({ t: "tool", id: invokeId, call, name, args });
    });
  }

  #toolResult(msg: Extract<SupervisorMessage, { t: "tool_result" }>): void {
    const pending = this.#tools.get(msg.call);
    if (pending === undefined) return;
    this.#tools.delete(msg.call);
    if (msg.ok) pending.resolve(msg.value);
    else {pending.reject(
        new ToolError(msg.error?.code ?? "TOOL_FAILED", msg.error?.message ?? "Tool call failed"),
      );}
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
