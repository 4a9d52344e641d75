/**
 * AgentHost: the supervisor-side owner of one agent. It holds the agent's durable truth (snapshot, seq,
 * history), runs the live sandbox, routes invokes to it in order, logs every state change to the vault
 * before answering, and restarts the sandbox under a restart intensity (OTP one_for_one).
 *
 * Two copies of the snapshot are kept. `#staged` mirrors the sandbox's cache: each result's delta is
 * applied to it on receipt, which also validates the delta before it is logged. `#durable` gets the
 * delta only once its WAL record is durable; it is what `/state`, checkpoints and restarts use.
 *
 * @module
 */
import {
  type AgentInfo,
  applyDelta,
  assert,
  type DeltaOp,
  HISTORY_ENTRIES_MAX,
  type HistoryEntry,
  OError,
  type SandboxMessage,
  type Snapshot,
} from "../protocol/mod.ts";
import { type Broker, type Grant, type SandboxProcess, toolKey } from "../sandbox/mod.ts";
import type { Logger } from "../observability/mod.ts";
import { httpStatusOf, SupervisorError } from "./errors.ts";
import {
  AGENT_QUEUE_MAX,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_MS,
  INVOKE_TIMEOUT_MS,
  RESTART_PERIOD_MS,
  RESTART_WAIT_MS,
  RESTARTS_MAX,
  SANDBOX_START_TIMEOUT_MS,
} from "./limits.ts";
import { RestartIntensity } from "./restart_intensity.ts";
import { type ChannelClose, SandboxChannel } from "./sandbox_channel.ts";
import type { HostMetrics, HostVault } from "./host_deps.ts";

/** Lifecycle of a host. */
export type HostStatus = "starting" | "ready" | "restarting" | "failed" | "stopped";

/** The answer of one invoke. */
export interface InvokeAnswer {
  output: unknown;
  version: string;
  seq: number;
  /** Time the handler took inside the sandbox, ms (absent for idempotent repeats). */
  ms?: number;
}

/** Options of one invoke. */
export interface InvokeOptions {
  requestId: string;
  idempotencyKey?: string;
}

/** What a host needs from the rest of the supervisor. */
export interface HostDeps {
  spawn: () => SandboxProcess;
  vault: HostVault;
  broker: Broker;
  log: Logger;
  metrics: HostMetrics;
  grant: Grant;
  /** Called once new code is live (a promotion or a rollback), so it can be made durable. */
  onCodeReplaced?: (source: string, versionLabel: string | undefined) => Promise<void>;
  /** Called after every successful answer (the traffic splitter's tap); must not throw or block. */
  onAnswered?: (answer: AnsweredInvoke) => void;
  /** Longest an invoke may run before its sandbox is killed, ms. @default INVOKE_TIMEOUT_MS */
  invokeTimeoutMs?: number;
  /** Keep a started sandbox waiting for code, so a restart takes milliseconds. @default true */
  warmStandby?: boolean;
  /** Milliseconds clock. @default Date.now */
  now?: () => number;
}

interface Inflight {
  resolve: (a: InvokeAnswer) => void;
  reject: (e: Error) => void;
  /**
   * When the invoke times out (checked by the heartbeat, so up to one interval late): set once it is the
   * oldest in flight, i.e. running, so a long queue does not time out healthy sandboxes.
   */
  deadline: number;
  requestId: string;
  input: unknown;
  idempotencyKey?: string;
  started: number;
  /** Tool answers given to this invoke, by `toolKey`, for shadows to replay. */
  tools: Map<string, unknown>;
}

/** A live answer, as the traffic splitter mirrors it to shadows. */
export interface AnsweredInvoke {
  agent: string;
  requestId: string;
  input: unknown;
  output: unknown;
  /** Time in the sandbox, ms. */
  ms: number;
  tools: ReadonlyMap<string, unknown>;
}

type ResultMsg = Extract<SandboxMessage, { t: "result" }>;

/** What a `hello` frame carries besides the secret. */
export interface HelloPayload {
  source: string;
  snapshot: Snapshot;
  seq: number;
  history: HistoryEntry[];
  tools: readonly string[];
}

/**
 * Spawns a sandbox that waits for code: its process and runtime are up, so loading code into it later
 * takes milliseconds (the warm standby). Until `helloSandbox` takes it, its death only calls `onIdleClose`.
 */
export function spawnIdle(
  spawn: () => SandboxProcess,
  onIdleClose: (channel: SandboxChannel) => void,
): SandboxChannel {
  const channel: SandboxChannel = new SandboxChannel(spawn(), crypto.randomUUID(), {
    onMessage: () => channel.kill("protocol (frame before hello)"),
    onClose: () => onIdleClose(channel),
  });
  return channel;
}

/** Loads code into an idle sandbox and resolves with its `ready` message (the channel stays open). */
export function helloSandbox(
  channel: SandboxChannel,
  hello: HelloPayload,
  onMessage: (channel: SandboxChannel, msg: SandboxMessage) => void,
  onClose: (channel: SandboxChannel, close: ChannelClose) => void,
  mode: "hello" | "reset" = "hello",
): Promise<{ channel: SandboxChannel; info: AgentInfo; delta: DeltaOp[] }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      settled = true;
      clearTimeout(timer);
      reject(new SupervisorError("AGENT_LOAD_FAILED", why));
    };
    const timer = setTimeout(() => {
      if (settled) return;
      channel.kill("start timeout");
      fail(`Cannot start agent: no ready in ${SANDBOX_START_TIMEOUT_MS} ms`);
    }, SANDBOX_START_TIMEOUT_MS);
    channel.setHandlers({
      onMessage(msg) {
        if (settled || msg.t === "log") return onMessage(channel, msg);
        if (msg.t === "ready") {
          settled = true;
          clearTimeout(timer);
          return resolve({ channel, info: msg.agent, delta: msg.delta });
        }
        channel.kill("load failed");
        fail(msg.t === "error" ? msg.message : `Cannot start agent: unexpected ${msg.t} frame before ready`);
      },
      onClose(close) {
        if (!settled) {
          const detail = close.stderr.trim().split("\n").slice(-3).join(" | ");
          fail(`Cannot start agent: sandbox ${close.reason}: ${detail}`);
        }
        onClose(channel, close);
      },
    });
    if (!channel.open) return fail("Cannot start agent: the sandbox died before its hello");
    if (mode === "reset") {
      channel.send({ t: "reset", snapshot: hello.snapshot, seq: hello.seq, history: hello.history });
    } else channel.send({ t: "hello", secret: channel.secret, ...hello, tools: [...hello.tools] });
  });
}

/** Spawns a sandbox and loads `source` into it. */
export function startSandbox(
  spawn: () => SandboxProcess,
  hello: HelloPayload,
  onMessage: (channel: SandboxChannel, msg: SandboxMessage) => void,
  onClose: (channel: SandboxChannel, close: ChannelClose) => void,
): Promise<{ channel: SandboxChannel; info: AgentInfo; delta: DeltaOp[] }> {
  return helloSandbox(spawnIdle(spawn, () => {}), hello, onMessage, onClose);
}

/** One agent's live sandbox and durable truth. */
export class AgentHost {
  readonly name: string;
  #source: string;
  #versionLabel: string | undefined;
  readonly #deps: HostDeps;
  readonly #now: () => number;
  #info: AgentInfo;
  #status: HostStatus = "starting";
  #channel: SandboxChannel | undefined;
  #durable: Snapshot;
  #staged: Snapshot;
  #seq: number;
  #history: HistoryEntry[];
  #restarts = 0;
  #intensity = new RestartIntensity(RESTARTS_MAX, RESTART_PERIOD_MS);
  #inflight = new Map<number, Inflight>();
  #nextId = 0;
  #queued = 0;
  #waiters: (() => void)[] = [];
  #pendingKeys = new Map<string, Promise<InvokeAnswer>>();
  #lastAppend: Promise<unknown> = Promise.resolve();
  #lastFrameAt = 0;
  #lastBeatAt = Date.now();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #pingN = 0;
  #recordsSinceCheckpoint = 0;
  #lastCheckpointMs = Date.now();
  /** The hot standby: a sandbox with the live code already loaded, waiting to take the current state. */
  #spare: { channel: SandboxChannel; source: string; loaded: boolean } | undefined;
  /** Set when an append failed: durable state is reloaded from the vault before the next boot. */
  #diverged = false;

  private constructor(
    name: string,
    source: string,
    info: AgentInfo,
    recovered: { snapshot: Snapshot; seq: number; history: HistoryEntry[] },
    deps: HostDeps,
  ) {
    this.name = name;
    this.#source = source;
    this.#info = info;
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#durable = recovered.snapshot;
    this.#staged = structuredClone(recovered.snapshot);
    this.#seq = recovered.seq;
    this.#history = recovered.history;
  }

  /**
   * Starts a host: recovers the agent's state from the vault, starts its live sandbox, logs the initial
   * state of a new agent.
   *
   * @throws {SupervisorError} `AGENT_LOAD_FAILED` when the code does not load or names another agent.
   */
  static async start(
    name: string,
    source: string,
    info: AgentInfo,
    deps: HostDeps,
    versionLabel?: string,
  ): Promise<AgentHost> {
    const recovered = await deps.vault.recoverAgent(name);
    const host = new AgentHost(name, source, info, recovered, deps);
    host.#versionLabel = versionLabel;
    await host.#boot();
    host.#heartbeat = setInterval(() => host.#beat(), HEARTBEAT_INTERVAL_MS);
    return host;
  }

  /** The version of the live code: the declared one, plus a suffix for evolved code. */
  get version(): string {
    return this.#versionLabel ?? this.#info.version;
  }

  /** The live code. */
  get source(): string {
    return this.#source;
  }

  /** What the live code declares. */
  get info(): AgentInfo {
    return this.#info;
  }

  get status(): HostStatus {
    return this.#status;
  }

  /** Sandbox restarts since the host started. */
  get restarts(): number {
    return this.#restarts;
  }

  /** The seq of the agent's last durable record. */
  get seq(): number {
    return this.#seq;
  }

  /** The live sandbox's pid, if one runs. */
  get pid(): number | undefined {
    return this.#channel?.open ? this.#channel.process.pid : undefined;
  }

  /** Invokes waiting or in flight. */
  get queued(): number {
    return this.#queued;
  }

  /** The durable state, after every change already received is durable. */
  async durableState(): Promise<{ snapshot: Snapshot; seq: number }> {
    await this.#lastAppend.catch(() => {});
    return { snapshot: structuredClone(this.#durable), seq: this.#seq };
  }

  /** A checkpoint of the durable state, through the vault. */
  async checkpoint(): Promise<{ checkpoint_id: string; seq: number; bytes: number }> {
    await this.#lastAppend.catch(() => {});
    const records = this.#recordsSinceCheckpoint;
    const info = await this.#deps.vault.checkpoint(this.name, this.#durable, this.#seq);
    this.#recordsSinceCheckpoint -= records;
    this.#lastCheckpointMs = this.#now();
    return info;
  }

  /** Records logged since the last checkpoint. */
  get recordsSinceCheckpoint(): number {
    return this.#recordsSinceCheckpoint;
  }

  /** When the last checkpoint was taken (the host's start when none was). */
  get lastCheckpointMs(): number {
    return this.#lastCheckpointMs;
  }

  async #boot(): Promise<void> {
    await this.#lastAppend.catch(() => {});
    if (this.#diverged) {
      const recovered = await this.#deps.vault.recoverAgent(this.name);
      this.#durable = recovered.snapshot;
      this.#seq = recovered.seq;
      this.#history = recovered.history;
      this.#diverged = false;
    }
    const { channel, info, delta } = await this.#load();
    if (info.name !== this.name) {
      channel.kill("wrong agent");
      throw new SupervisorError(
        "AGENT_LOAD_FAILED",
        `Cannot start agent '${this.name}': the code declares '${info.name}'`,
      );
    }
    this.#info = info;
    this.#staged = structuredClone(this.#durable);
    if (delta.length > 0) await this.#logInit(delta);
    this.#channel = channel;
    this.#lastFrameAt = this.#now();
    this.#status = "ready";
    if (this.#deps.warmStandby !== false) this.#refillSpare();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Loads the live code with the durable state: into the hot standby if it has this code, else fresh. */
  #load(): Promise<{ channel: SandboxChannel; info: AgentInfo; delta: DeltaOp[] }> {
    const payload = {
      source: this.#source,
      snapshot: this.#durable,
      seq: this.#seq,
      history: this.#history,
      tools: this.#deps.grant.tools,
    };
    const onMessage = (ch: SandboxChannel, msg: SandboxMessage) => this.#onMessage(ch, msg);
    const onClose = (ch: SandboxChannel, close: ChannelClose) => this.#onClose(ch, close);
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare?.loaded && spare.channel.open && spare.source === this.#source) {
      return helloSandbox(spare.channel, payload, onMessage, onClose, "reset");
    }
    spare?.channel.kill("stale standby");
    return helloSandbox(spawnIdle(this.#deps.spawn, () => {}), payload, onMessage, onClose);
  }

  /** Starts a hot standby: a sandbox with the live code loaded (its state is replaced when it takes over). */
  #refillSpare(): void {
    if (this.#spare?.channel.open || this.#status === "stopped") return;
    const source = this.#source;
    const idle = spawnIdle(this.#deps.spawn, () => {});
    const spare = { channel: idle, source, loaded: false };
    this.#spare = spare;
    const empty = {
      source,
      snapshot: { state: {}, memory: {} },
      seq: 0,
      history: [],
      tools: this.#deps.grant.tools,
    };
    const drop = () => {
      if (this.#spare === spare) this.#spare = undefined;
    };
    helloSandbox(idle, empty, () => {}, drop).then(
      () => {
        spare.loaded = true;
      },
      () => {
        drop();
        idle.kill("standby failed to load");
      },
    );
  }

  async #logInit(delta: DeltaOp[]): Promise<void> {
    applyDelta(this.#staged, delta);
    const { seq } = await this.#deps.vault.append({
      agent: this.name,
      version: this.version,
      delta,
      output: null,
      request_id: "init",
      input: null,
      time_ms: this.#now(),
    });
    applyDelta(this.#durable, structuredClone(delta));
    this.#seq = seq;
  }

  /**
   * Runs one invoke on the live sandbox; answers after its state change is durable.
   *
   * @throws {SupervisorError} `AGENT_FAILED`, `AGENT_OVERLOADED`, `AGENT_UNAVAILABLE`, `AGENT_CRASHED`,
   *   `AGENT_TIMEOUT`, `AGENT_ERROR` (the handler threw), `VAULT_IO`.
   */
  invoke(input: unknown, options: InvokeOptions): Promise<InvokeAnswer> {
    if (this.#status === "failed" || this.#status === "stopped") {
      return Promise.reject(
        new SupervisorError("AGENT_FAILED", `Cannot invoke '${this.name}': the agent is ${this.#status}`),
      );
    }
    const key = options.idempotencyKey;
    if (key !== undefined) {
      const hit = this.#deps.vault.findIdempotent(this.name, key);
      if (hit !== undefined) {
        return Promise.resolve({ output: hit.output, version: hit.version, seq: hit.seq });
      }
      const pending = this.#pendingKeys.get(key);
      if (pending !== undefined) return pending;
    }
    if (this.#queued >= AGENT_QUEUE_MAX) {
      return Promise.reject(
        new SupervisorError(
          "AGENT_OVERLOADED",
          `Cannot invoke '${this.name}': ${AGENT_QUEUE_MAX} requests already queued`,
        ),
      );
    }
    this.#queued++;
    const run = this.#run(input, options).finally(() => this.#queued--);
    if (key !== undefined) {
      this.#pendingKeys.set(key, run);
      run.then(() => this.#pendingKeys.delete(key), () => this.#pendingKeys.delete(key));
    }
    return run;
  }

  async #run(input: unknown, options: InvokeOptions): Promise<InvokeAnswer> {
    const channel = await this.#readyChannel();
    const id = ++this.#nextId;
    return await new Promise<InvokeAnswer>((resolve, reject) => {
      this.#inflight.set(id, {
        resolve,
        reject,
        // The sandbox runs invokes one at a time: the clock starts when this one reaches the head.
        deadline: this.#inflight.size === 0 ? this.#now() + this.#invokeTimeoutMs() : Infinity,
        requestId: options.requestId,
        input,
        idempotencyKey: options.idempotencyKey,
        started: performance.now(),
        tools: new Map(),
      });
      channel.send({ t: "invoke", id, input, seq: this.#seq, request_id: options.requestId });
    });
  }

  #readyChannel(): Promise<SandboxChannel> {
    if (this.#status === "ready" && this.#channel?.open) return Promise.resolve(this.#channel);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        reject(
          new SupervisorError(
            "AGENT_UNAVAILABLE",
            `Cannot invoke '${this.name}': not ready in ${RESTART_WAIT_MS} ms`,
          ),
        );
      }, RESTART_WAIT_MS);
      const wake = () => {
        clearTimeout(timer);
        if (this.#status === "ready" && this.#channel?.open) resolve(this.#channel);
        else {reject(
            new SupervisorError("AGENT_FAILED", `Cannot invoke '${this.name}': the agent is ${this.#status}`),
          );}
      };
      this.#waiters.push(wake);
    });
  }

  #invokeTimeoutMs(): number {
    return this.#deps.invokeTimeoutMs ?? INVOKE_TIMEOUT_MS;
  }

  /** Starts the clock of the invoke now at the head of the sandbox's queue. */
  #startHead(): void {
    const head = this.#inflight.values().next().value;
    if (head !== undefined && head.deadline === Infinity) {
      head.deadline = this.#now() + this.#invokeTimeoutMs();
    }
  }

  #timeout(channel: SandboxChannel, id: number): void {
    const entry = this.#inflight.get(id);
    if (entry === undefined) return;
    this.#inflight.delete(id);
    const ms = this.#deps.invokeTimeoutMs ?? INVOKE_TIMEOUT_MS;
    entry.reject(new SupervisorError("AGENT_TIMEOUT", `Cannot invoke '${this.name}': no answer in ${ms} ms`));
    this.#deps.log.warn("invoke timed out; killing sandbox", {
      agent: this.name,
      request_id: entry.requestId,
    });
    channel.kill("invoke timeout");
  }

  #onMessage(channel: SandboxChannel, msg: SandboxMessage): void {
    if (channel !== this.#channel) return;
    this.#lastFrameAt = this.#now();
    switch (msg.t) {
      case "result":
        return this.#onResult(channel, msg);
      case "tool":
        return this.#onTool(channel, msg);
      case "log":
        return this.#deps.log.log(msg.level, msg.msg, {
          ...msg.fields,
          agent: this.name,
          version: this.version,
          request_id: msg.request_id,
          source: "sandbox",
        });
      case "checkpoint":
        this.checkpoint().then(
          (info) => channel.send({ t: "checkpoint_ack", id: msg.id, checkpoint_id: info.checkpoint_id }),
          (e) => channel.send({ t: "checkpoint_ack", id: msg.id, checkpoint_id: "", error: errorBody(e) }),
        );
        return;
      case "pong":
        return;
      case "ready":
      case "error":
        this.#deps.log.warn(`unexpected ${msg.t} frame from a running sandbox; killing it`, {
          agent: this.name,
        });
        return channel.kill(`protocol (unexpected ${msg.t})`);
    }
  }

  #onResult(channel: SandboxChannel, msg: ResultMsg): void {
    const entry = this.#inflight.get(msg.id);
    if (entry === undefined) return; // Timed out already.
    this.#inflight.delete(msg.id);
    this.#startHead();
    const labels = { agent: this.name, version: this.version };
    const seconds = (performance.now() - entry.started) / 1000;
    if (msg.error !== undefined) {
      this.#deps.metrics.invoked(labels, "error", seconds);
      return entry.reject(
        new SupervisorError(
          msg.error.code === "OUTPUT_INVALID" ? "OUTPUT_INVALID" : "AGENT_ERROR",
          msg.error.message,
        ),
      );
    }
    if (msg.delta.length === 0 && entry.idempotencyKey === undefined) {
      // Nothing to log; answer once every earlier change is durable, so no answer reflects an unlogged one.
      this.#lastAppend.catch(() => {}).then(() => {
        this.#deps.metrics.invoked(labels, "ok", seconds);
        entry.resolve({ output: msg.output, version: this.version, seq: this.#seq, ms: msg.ms });
        this.#tap(entry, msg);
      });
      return;
    }
    try {
      applyDelta(this.#staged, msg.delta);
    } catch (e) {
      this.#deps.log.error("sandbox sent a delta that does not apply; restarting", {
        agent: this.name,
        error: e,
      });
      entry.reject(
        new SupervisorError("AGENT_ERROR", `Cannot apply the agent's state change: ${errorBody(e).message}`),
      );
      return channel.kill("invalid delta");
    }
    this.#append(entry, msg, labels, seconds);
  }

  #append(
    entry: Inflight,
    msg: ResultMsg,
    labels: { agent: string; version: string },
    seconds: number,
  ): void {
    const version = this.version;
    const timeMs = this.#now();
    const appended = this.#deps.vault.append({
      agent: this.name,
      version,
      delta: msg.delta,
      output: msg.output,
      idempotency_key: entry.idempotencyKey,
      request_id: entry.requestId,
      input: entry.input,
      time_ms: timeMs,
    });
    this.#lastAppend = appended;
    appended.then(
      ({ seq }) => {
        if (this.#diverged) {
          // An earlier change of this agent failed to become durable, and this one was computed on top of
          // it: it must not be answered. What the WAL holds is reloaded before the sandbox restarts.
          this.#deps.metrics.invoked(labels, "error", seconds);
          return entry.reject(
            new SupervisorError("VAULT_IO", "Cannot answer: an earlier change of this agent failed"),
          );
        }
        assert(seq > this.#seq, "WAL sequence numbers must grow");
        applyDelta(this.#durable, structuredClone(msg.delta));
        this.#seq = seq;
        this.#recordsSinceCheckpoint++;
        this.#history.push({ seq, input: entry.input, output: msg.output, time_ms: timeMs });
        if (this.#history.length > HISTORY_ENTRIES_MAX) this.#history.shift();
        this.#deps.metrics.invoked(labels, "ok", seconds);
        entry.resolve({ output: msg.output, version, seq, ms: msg.ms });
        this.#tap(entry, msg);
      },
      (e) => {
        this.#diverged = true;
        this.#deps.metrics.invoked(labels, "error", seconds);
        this.#deps.log.error("WAL append failed; reloading durable state and restarting the sandbox", {
          agent: this.name,
          request_id: entry.requestId,
          error: e,
        });
        const code = e instanceof OError && httpStatusOf(e.code) !== 500 ? e.code : "VAULT_IO";
        entry.reject(new SupervisorError(code, `Cannot make the change durable: ${errorBody(e).message}`));
        this.#channel?.kill("diverged (append failed)");
      },
    );
  }

  #tap(entry: Inflight, msg: ResultMsg): void {
    const tap = this.#deps.onAnswered;
    if (tap === undefined) return;
    try {
      tap({
        agent: this.name,
        requestId: entry.requestId,
        input: entry.input,
        output: msg.output,
        ms: msg.ms,
        tools: entry.tools,
      });
    } catch (e) {
      this.#deps.log.error("traffic tap failed", { agent: this.name, error: e });
    }
  }

  /**
   * Replaces the live code (a promotion or a rollback): new invokes wait, in-flight ones finish, every
   * change is durable, then the new code loads the durable state. If it does not load, the old code is
   * loaded back and the error is thrown.
   *
   * @param source The new code.
   * @param versionLabel The version to report (the declared one plus a suffix for evolved code).
   */
  async replaceCode(source: string, versionLabel: string | undefined): Promise<void> {
    if (this.#status !== "ready") {
      throw new SupervisorError(
        "AGENT_UNAVAILABLE",
        `Cannot replace the code of '${this.name}': it is ${this.#status}`,
      );
    }
    this.#status = "restarting";
    const deadline = this.#now() + INVOKE_TIMEOUT_MS;
    while (this.#inflight.size > 0 && this.#now() < deadline) await new Promise((r) => setTimeout(r, 2));
    const old = { source: this.#source, label: this.#versionLabel, channel: this.#channel };
    this.#channel = undefined;
    for (const [id, entry] of this.#inflight) {
      this.#inflight.delete(id);
      entry.reject(
        new SupervisorError("AGENT_CRASHED", `Cannot invoke '${this.name}': its code was replaced`),
      );
    }
    old.channel?.kill("code replaced");
    this.#source = source;
    this.#versionLabel = versionLabel;
    try {
      await this.#boot();
    } catch (e) {
      this.#source = old.source;
      this.#versionLabel = old.label;
      await this.#boot();
      throw e;
    }
    await this.#deps.onCodeReplaced?.(source, versionLabel);
    this.#deps.log.info("code replaced", { agent: this.name, version: this.version });
  }

  #onTool(channel: SandboxChannel, msg: Extract<SandboxMessage, { t: "tool" }>): void {
    const entry = this.#inflight.get(msg.id);
    const requestId = entry?.requestId ?? "unknown";
    this.#deps.broker.call(this.name, this.#deps.grant, msg.name, msg.args, requestId).then(
      (value) => {
        entry?.tools.set(toolKey(msg.name, msg.args), value);
        channel.send({ t: "tool_result", call: msg.call, ok: true, value });
      },
      (e) => channel.send({ t: "tool_result", call: msg.call, ok: false, error: errorBody(e) }),
    );
  }

  #onClose(channel: SandboxChannel, close: ChannelClose): void {
    if (channel !== this.#channel) return;
    this.#channel = undefined;
    for (const [id, entry] of this.#inflight) {
      this.#inflight.delete(id);
      entry.reject(
        new SupervisorError(
          "AGENT_CRASHED",
          `Cannot invoke '${this.name}': the sandbox died (${close.reason})`,
        ),
      );
    }
    if (this.#status === "stopped") return;
    this.#deps.log.warn("sandbox exited; restarting", {
      agent: this.name,
      version: this.version,
      reason: close.reason,
      exit_code: close.exit.code,
      signal: close.exit.signal,
      stderr: close.stderr.slice(-500),
    });
    // A resync after a failed append is the vault's trouble, not the agent's: it does not count toward
    // the restart intensity (the failed append itself is reported to its caller and logged).
    this.#restart(close.reason.startsWith("diverged"));
  }

  #restart(resync = false): void {
    if (!resync && !this.#intensity.record(this.#now())) {
      this.#status = "failed";
      this.#deps.log.error("restart intensity exceeded; agent marked failed", { agent: this.name });
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
      return;
    }
    this.#status = "restarting";
    this.#restarts++;
    this.#deps.metrics.restarted({ agent: this.name });
    const started = performance.now();
    this.#boot().then(
      () => this.#deps.log.info("sandbox restarted", { agent: this.name, ms: performance.now() - started }),
      (e) => {
        this.#deps.log.error("sandbox restart failed", { agent: this.name, error: e });
        if (this.#status !== "stopped") this.#restart();
      },
    );
  }

  #beat(): void {
    const channel = this.#channel;
    if (this.#status !== "ready" || channel === undefined) return;
    const now = this.#now();
    // This timer itself ran late: the supervisor's event loop was starved, so a pong may sit unread in
    // the pipe. Judge the sandbox only on rounds where the supervisor kept time.
    const starved = now - this.#lastBeatAt > HEARTBEAT_INTERVAL_MS * 2;
    this.#lastBeatAt = now;
    if (starved) this.#lastFrameAt = now;
    if (this.#inflight.size > 0) {
      // A busy sandbox is bounded by the invoke timeout instead of the heartbeat. One timer for all
      // invokes, not one each: a deadline is checked here, at most an interval late.
      this.#lastFrameAt = now;
      for (const [id, entry] of this.#inflight) if (entry.deadline <= now) this.#timeout(channel, id);
      return;
    }
    if (now - this.#lastFrameAt > HEARTBEAT_TIMEOUT_MS) {
      this.#deps.log.warn("heartbeat missed; killing sandbox", { agent: this.name });
      channel.kill("heartbeat timeout");
      return;
    }
    channel.send({ t: "ping", n: ++this.#pingN });
  }

  /** Kills the live sandbox as a test or an operator would (it restarts like after any crash). */
  killSandbox(reason: string): void {
    this.#channel?.kill(reason);
  }

  /** Stops the host: waits for durable appends, asks the sandbox to exit, then kills it. */
  async stop(graceMs: number): Promise<void> {
    this.#status = "stopped";
    clearInterval(this.#heartbeat);
    for (const wake of this.#waiters.splice(0)) wake();
    const spare = this.#spare?.channel;
    this.#spare = undefined;
    spare?.kill("shutdown");
    const channel = this.#channel;
    await race(this.#lastAppend.catch(() => {}), graceMs);
    if (channel !== undefined) {
      channel.send({ t: "shutdown" });
      await race(channel.closed, Math.min(graceMs, 500));
      channel.kill("shutdown");
      await channel.closed;
    }
    if (spare !== undefined) await spare.closed;
  }
}

/** Waits for `p` or `ms`, whichever comes first, leaving no timer behind. */
async function race(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function errorBody(e: unknown): { code: string; message: string } {
  if (e instanceof OError) return { code: e.code, message: e.message };
  return { code: "INTERNAL", message: e instanceof Error ? e.message : String(e) };
}
