/**
 * The Supervisor: the registry of AgentHosts. It loads agents from a directory and from the vault,
 * registers new ones from source, answers health, and stops everything in order.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { type AgentInfo, OError } from "../protocol/mod.ts";
import {
  AGENT_LIMITS_DEFAULT,
  Broker,
  type BrokerEngines,
  BUILTIN_TOOLS,
  type Grant,
  prefilter,
  type SandboxLimits,
  type SandboxProcess,
  type SandboxSpec,
  spawnSandbox,
  type Tier,
  type ToolAudit,
} from "../sandbox/mod.ts";
import { type Logger, processTreeRss, withSpan } from "../observability/mod.ts";
import type { AgentRecord } from "../vault/types.ts";
import type { KvStore } from "../evolution/regressions.ts";
import { AgentHost, startSandbox } from "./agent_host.ts";
import { SupervisorError } from "./errors.ts";
import type { HostVault } from "./host_deps.ts";
import {
  CHECKPOINT_CHECK_MS,
  CHECKPOINT_EVERY_MS,
  CHECKPOINT_EVERY_RECORDS,
  SHUTDOWN_GRACE_MS,
} from "./limits.ts";
import type { SupervisorMetrics } from "./metrics.ts";
import { ShadowThread, TrafficSplitter } from "./splitter.ts";
import { CandidateManager } from "./candidates.ts";
import { Lineage } from "./lineage.ts";
import { HEALTH_SAMPLE_MS, HealthMonitor } from "./health_monitor.ts";
import type { Evaluator, RegressionCase, TypeDiagnostic } from "../evolution/mod.ts";
import { AnswerLog } from "./answer_log.ts";

/** Shadow sandboxes kept started, waiting for candidate code. */
export const SHADOW_POOL_SIZE = 4;
/** Scheduling niceness of shadow sandboxes: the live agents win a busy core. */
export const SHADOW_NICE = 10;
/** The kv namespace of each agent's live code when it is not the code it was registered with. */
export const LIVE_CODE_NAMESPACE = "live";

/** What is kept of promoted (or rolled-back-to) code, so it survives a restart. */
interface LiveCode {
  version: string | undefined;
  source: string;
  /** SHA-256 of the registered source it evolved from: a changed file starts over from the file. */
  base_sha256: string;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The kv namespace of feedback records (key `AGENT/SEQ/TIME`). */
export const FEEDBACK_NAMESPACE = "feedback";
/** Longest feedback comment, in characters. */
export const FEEDBACK_COMMENT_CHARS_MAX = 4096;

/** The project root, where `agent/` and `protocol/` live (read-only inside every sandbox). */
export const PROJECT_ROOT: string = dirname(dirname(fileURLToPath(import.meta.url)));

/** What the supervisor needs of the vault. */
export interface SupervisorVault extends HostVault, KvStore {
  saveAgent(rec: AgentRecord): Promise<void>;
  listAgents(): Promise<AgentRecord[]>;
}

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  dataDir: string;
  vault: SupervisorVault;
  log: Logger;
  metrics: SupervisorMetrics;
  /** The tier live agents run in. @default "jail" where available */
  tier: Tier;
  /** Sandbox limits of live agents. @default AGENT_LIMITS_DEFAULT */
  limits?: SandboxLimits;
  /** Keep a started sandbox per agent waiting, so a crash recovers in milliseconds. @default true */
  warmStandby?: boolean;
  /** Records of an agent after which the supervisor checkpoints it. @default CHECKPOINT_EVERY_RECORDS */
  checkpointEveryRecords?: number;
  /** Time after which an agent that changed is checkpointed, ms. @default CHECKPOINT_EVERY_MS */
  checkpointEveryMs?: number;
  /** How long a candidate's shadow watches live traffic, ms. @default SHADOW_WINDOW_MS */
  shadowWindowMs?: number;
  /** Longest an invoke may run before its sandbox is killed, ms. @default INVOKE_TIMEOUT_MS */
  invokeTimeoutMs?: number;
  /** Engines of the `http` and `sql` tools (e.g. the Zig modules). @default fetch and node:sqlite */
  toolEngines?: BrokerEngines;
  /** Hosts the `http` tool may reach. @default [] */
  httpAllowHosts?: readonly string[];
}

/** Health of one agent, as `/health` shows it. */
export interface AgentHealth {
  status: string;
  version: string;
  restarts: number;
  shadows: number;
  /** Live version's latency over its recent invokes, ms. */
  p50_ms: number;
  p99_ms: number;
  error_rate: number;
  /** RSS of the live sandbox tree at the last sample, bytes. */
  memory_bytes: number | null;
}

/** Owns every agent host. */
export class Supervisor {
  readonly #opts: SupervisorOptions;
  readonly #hosts = new Map<string, AgentHost>();
  readonly #broker: Broker;
  /** Mirrors live traffic to shadows. */
  readonly splitter: TrafficSplitter = new TrafficSplitter();
  /** The idle-class thread every shadow runs in (started with the first shadow). */
  readonly shadows: ShadowThread;
  readonly startedAt = Date.now();
  /** Every version of every agent, with decisions. */
  readonly lineage: Lineage;
  /** Candidates on the protected path. */
  readonly candidates: CandidateManager;
  /** Per-agent, per-version health figures, live and shadow. */
  readonly monitor: HealthMonitor = new HealthMonitor();
  /** Recent answers and failures with their inputs (feedback names them; learning jobs read them). */
  readonly answers: AnswerLog = new AnswerLog();
  /**
   * The regression set an agent's candidates are also evaluated on (set by the JobRunner: red-team finds,
   * auto-fix reproductions, feedback hypotheses). @default none
   */
  regressionCases: ((agent: string) => Promise<RegressionCase[]>) | null = null;
  #memoryTimer: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  #checkpointTimer: ReturnType<typeof setInterval> | undefined;
  #checkpointing = new Set<string>();
  #evaluator: Evaluator & { close(): Promise<void> } | undefined;
  #typeChecker: { check(source: string): TypeDiagnostic[] } | undefined;

  constructor(options: SupervisorOptions) {
    this.#opts = options;
    const audit = (entry: ToolAudit) => {
      options.log.info("tool call", { ...entry, source: "broker" });
      options.metrics.toolCalled(entry.tool, entry.ok);
    };
    this.#broker = new Broker(audit, { wrap: withSpan, ...options.toolEngines });
    this.shadows = new ShadowThread(this.sandboxSpec("shadow"), SHADOW_POOL_SIZE, {
      log: options.log,
      metrics: this.monitor.recorder("shadow"),
      audit,
    });
    this.lineage = new Lineage(options.vault);
    this.candidates = new CandidateManager({
      hosts: () => this.#hosts,
      splitter: this.splitter,
      startShadow: (spec) => this.shadows.start(spec),
      evaluator: {
        // The jailed evaluator and the type checker are heavy: made on the first candidate.
        // The agent's regression set always applies; a call's own cases come after it.
        evaluate: async (sources, evalsFrom, opts) =>
          (await this.#lazyEvaluator()).evaluate(sources, evalsFrom, {
            ...opts,
            regression: [...(await this.#regressionFor(evalsFrom) ?? []), ...(opts?.regression ?? [])],
          }),
      },
      exactEvaluator: {
        evaluate: async (sources, evalsFrom, opts) =>
          (await this.#lazyEvaluator()).evaluate(sources, evalsFrom, {
            ...opts,
            regression: opts?.regression ?? [],
          }),
      },
      typeCheck: async (source) => {
        if (this.#typeChecker === undefined) {
          const { TypeChecker } = await import("../evolution/mod.ts");
          this.#typeChecker = new TypeChecker();
        }
        return this.#typeChecker.check(source);
      },
      lineage: this.lineage,
      store: options.vault,
      log: options.log,
      metrics: options.metrics,
      shadowWindowMs: options.shadowWindowMs,
      judgedInputs: async (agent) => ((await this.regressionCases?.(agent)) ?? []).map((c) => c.input),
    });
  }

  /** Starts sampling the memory of every live and shadow sandbox into the monitor. */
  startMonitor(): void {
    this.#memoryTimer = setInterval(() => {
      const hosts = [...this.#hosts.values()];
      const shadows = this.splitter.all();
      const pids = [...hosts.map((h) => h.pid), ...shadows.map((s) => s.host.pid)].filter((p) =>
        p !== undefined
      );
      const rss = processTreeRss(pids as number[]);
      for (const h of hosts) {
        this.monitor.memory(h.name, h.version, "live", h.pid ? rss.get(h.pid) ?? null : null);
      }
      for (const s of shadows) {
        this.monitor.memory(
          s.spec.agent,
          s.spec.version,
          "shadow",
          s.host.pid ? rss.get(s.host.pid) ?? null : null,
        );
      }
    }, HEALTH_SAMPLE_MS);
    Deno.unrefTimer(this.#memoryTimer);
  }

  /** Starts the periodic checkpoints (every N records or T ms of an agent that changed). */
  startCheckpoints(): void {
    const records = this.#opts.checkpointEveryRecords ?? CHECKPOINT_EVERY_RECORDS;
    const periodMs = this.#opts.checkpointEveryMs ?? CHECKPOINT_EVERY_MS;
    this.#checkpointTimer = setInterval(() => {
      const now = Date.now();
      for (const host of this.#hosts.values()) {
        const due = host.recordsSinceCheckpoint >= records ||
          (host.recordsSinceCheckpoint > 0 && now - host.lastCheckpointMs >= periodMs);
        if (!due || host.status !== "ready" || this.#checkpointing.has(host.name)) continue;
        this.#checkpointing.add(host.name);
        host.checkpoint().then(
          (info) => this.#opts.log.debug("checkpoint", { agent: host.name, ...info }),
          (e) => this.#opts.log.error("checkpoint failed", { agent: host.name, error: e }),
        ).finally(() => this.#checkpointing.delete(host.name));
      }
    }, Math.min(CHECKPOINT_CHECK_MS, periodMs));
  }

  /** The regression set of the agent whose live source is `liveSource` (candidates are scored against it). */
  async #regressionFor(liveSource: string): Promise<RegressionCase[] | undefined> {
    const host = [...this.#hosts.values()].find((h) => h.source === liveSource);
    if (host === undefined || this.regressionCases === null) return undefined;
    return await this.regressionCases(host.name);
  }

  async #lazyEvaluator(): Promise<Evaluator> {
    if (this.#evaluator === undefined) {
      const { SandboxEvaluator } = await import("../evolution/mod.ts");
      this.#evaluator = new SandboxEvaluator({ tier: "jail" });
    }
    return this.#evaluator;
  }

  /**
   * Spawns one sandbox for agent code. Live agents run in the configured tier at the supervisor's
   * priority; shadows always run jailed, niced and in the background CPU class, so they run only on cycles
   * live traffic leaves.
   */
  spawn(role: "live" | "shadow" = "live"): SandboxProcess {
    return spawnSandbox(this.sandboxSpec(role));
  }

  /** What {@link spawn} runs for a role. */
  sandboxSpec(role: "live" | "shadow"): SandboxSpec {
    const limits = this.#opts.limits ?? AGENT_LIMITS_DEFAULT;
    return {
      entry: join(PROJECT_ROOT, "agent", "sandbox_main.ts"),
      importMap: join(PROJECT_ROOT, "agent", "import_map.json"),
      readDirs: [join(PROJECT_ROOT, "agent"), join(PROJECT_ROOT, "protocol")],
      tier: role === "live" ? this.#opts.tier : "jail",
      limits: role === "live" ? { ...limits, nice: 0 } : { ...limits, nice: SHADOW_NICE, cpu: "background" },
    };
  }

  /**
   * Loads the code in a throwaway sandbox to learn what it declares. The source is pre-filtered first
   * (a first filter, not the wall: the sandbox is).
   *
   * @throws {SupervisorError} `AGENT_SOURCE_INVALID` naming each rule broken, with line:column.
   */
  async describe(source: string): Promise<AgentInfo> {
    const checked = prefilter(source);
    if (!checked.ok) {
      const list = checked.violations.slice(0, 10).map((v) =>
        `${v.line}:${v.column} ${v.rule}: ${v.message}`
      );
      throw new SupervisorError("AGENT_SOURCE_INVALID", `Cannot accept agent source: ${list.join("; ")}`);
    }
    const { channel, info } = await startSandbox(
      () => this.spawn(),
      { source, snapshot: { state: {}, memory: {} }, seq: 0, history: [], tools: [] },
      () => {},
      () => {},
    );
    channel.kill("probe done");
    await channel.closed;
    return info;
  }

  #grant(name: string, info: AgentInfo): Grant {
    const fileRoot = join(this.#opts.dataDir, "agents", name, "files");
    Deno.mkdirSync(fileRoot, { recursive: true });
    const builtins: readonly string[] = BUILTIN_TOOLS;
    return {
      tools: info.tools.filter((t) => builtins.includes(t)),
      fileRoot,
      httpAllowHosts: this.#opts.httpAllowHosts ?? [],
      sqlPath: join(this.#opts.dataDir, "agents", name, "agent.db"),
      mode: "live",
    };
  }

  /**
   * Starts an agent from source.
   *
   * @param expectedName When given, the code must declare this name.
   * @throws {SupervisorError} `AGENT_LOAD_FAILED`, `AGENT_EXISTS`, `SHUTTING_DOWN`.
   */
  async register(source: string, origin: "dir" | "api", expectedName?: string): Promise<AgentHost> {
    if (this.#stopping) throw new SupervisorError("SHUTTING_DOWN", "Cannot register agent: shutting down");
    const info = await this.describe(source);
    if (expectedName !== undefined && info.name !== expectedName) {
      throw new SupervisorError(
        "AGENT_LOAD_FAILED",
        `Cannot register agent '${expectedName}': the code declares '${info.name}'`,
      );
    }
    if (this.#hosts.has(info.name)) {
      throw new SupervisorError(
        "AGENT_EXISTS",
        `Cannot register agent '${info.name}': it exists (submit a candidate)`,
      );
    }
    const o = this.#opts;
    const monitor = this.monitor;
    const baseSha256 = await sha256Hex(source);
    const live = await o.vault.kvGet(LIVE_CODE_NAMESPACE, info.name) as LiveCode | undefined;
    const resume = live?.base_sha256 === baseSha256 ? live : undefined;
    if (live && !resume) o.log.warn("registered code changed: evolved code dropped", { agent: info.name });
    const host = await AgentHost.start(info.name, resume?.source ?? source, info, {
      spawn: () => this.spawn(),
      vault: o.vault,
      broker: this.#broker,
      log: o.log,
      metrics: {
        invoked(labels, outcome, seconds) {
          o.metrics.invoked(labels, outcome, seconds);
          monitor.record(labels.agent, labels.version, "live", seconds * 1000, outcome === "ok");
        },
        restarted(labels) {
          o.metrics.restarted(labels);
          monitor.restarted(labels.agent, host.version, "live");
        },
      },
      grant: this.#grant(info.name, info),
      warmStandby: o.warmStandby,
      invokeTimeoutMs: o.invokeTimeoutMs,
      onCodeReplaced: async (code, version) => {
        const record: LiveCode = { version, source: code, base_sha256: baseSha256 };
        await o.vault.kvPut(LIVE_CODE_NAMESPACE, info.name, record);
      },
      onAnswered: (answer) => this.splitter.tap(answer),
    }, resume?.version);
    if (this.#hosts.has(info.name)) {
      await host.stop(0);
      throw new SupervisorError("AGENT_EXISTS", `Cannot register agent '${info.name}': it exists`);
    }
    this.#hosts.set(info.name, host);
    if (origin === "api") {
      await o.vault.saveAgent({
        name: info.name,
        version: info.version,
        source,
        origin,
        created_ms: Date.now(),
      });
    }
    await this.lineage.ensureVersion(info.name, host.version, host.source);
    o.log.info("agent started", { agent: info.name, version: info.version, origin, pid: host.pid });
    return host;
  }

  /** Loads every `*.ts` agent in `dir`, then the agents registered over the API earlier. */
  async loadAll(dir: string | undefined): Promise<void> {
    const sources: { source: string; origin: "dir" | "api"; from: string }[] = [];
    if (dir !== undefined) {
      const names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".ts")).map((e) =>
        e.name
      );
      for (const file of names.sort()) {
        sources.push({
          source: Deno.readTextFileSync(join(dir, file)),
          origin: "dir",
          from: join(dir, file),
        });
      }
    }
    for (const rec of await this.#opts.vault.listAgents()) {
      if (rec.origin === "api") {
        sources.push({ source: rec.source, origin: "api", from: `vault:${rec.name}` });
      }
    }
    await Promise.all(sources.map(async ({ source, origin, from }) => {
      try {
        await this.register(source, origin === "api" ? "dir" : origin);
      } catch (e) {
        this.#opts.log.error("agent did not load", {
          from,
          error: e instanceof OError ? e.message : String(e),
        });
      }
    }));
  }

  /** The broker every host's tool calls go through. */
  get broker(): Broker {
    return this.#broker;
  }

  /** The host of `name`. @throws {SupervisorError} `AGENT_NOT_FOUND`. */
  get(name: string): AgentHost {
    const host = this.#hosts.get(name);
    if (host === undefined) throw new SupervisorError("AGENT_NOT_FOUND", `Cannot find agent '${name}'`);
    return host;
  }

  /** Every host, by name. */
  get hosts(): ReadonlyMap<string, AgentHost> {
    return this.#hosts;
  }

  /** `/health`: degraded when any agent is failed or restarting. */
  health(): { status: "ok" | "degraded"; agents: Record<string, AgentHealth>; uptime_s: number } {
    const agents: Record<string, AgentHealth> = {};
    let degraded = false;
    for (const [name, host] of this.#hosts) {
      if (host.status !== "ready") degraded = true;
      const live = this.monitor.snapshot(name).find((x) => x.role === "live" && x.version === host.version);
      agents[name] = {
        status: host.status,
        version: host.version,
        restarts: host.restarts,
        shadows: this.splitter.count(name),
        p50_ms: live?.p50_ms ?? 0,
        p99_ms: live?.p99_ms ?? 0,
        error_rate: live?.error_rate ?? 0,
        memory_bytes: live?.memory_bytes ?? null,
      };
    }
    return {
      status: degraded ? "degraded" : "ok",
      agents,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }

  /**
   * Makes an earlier version live again (one call): its code loads the current durable state.
   *
   * @throws {SupervisorError} `AGENT_NOT_FOUND`, `NOT_FOUND` (no such version), `AGENT_LOAD_FAILED`.
   */
  async rollback(agent: string, version: string): Promise<{ agent: string; version: string }> {
    const host = this.get(agent);
    const entry = await this.lineage.get(agent, version);
    await host.replaceCode(entry.source, entry.version);
    this.#opts.log.info("rolled back", { agent, version, audit: true });
    return { agent, version: host.version };
  }

  /**
   * Stores feedback on an answer.
   *
   * @throws {SupervisorError} `INVALID_INPUT` for a bad seq, score or comment.
   */
  async feedback(agent: string, body: unknown): Promise<{ agent: string; seq: number; score: number }> {
    const host = this.get(agent);
    const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const { seq, score, comment, request_id: requestId } = b;
    if (typeof seq !== "number" || !Number.isInteger(seq) || seq < 0 || seq > host.seq) {
      throw new SupervisorError(
        "INVALID_INPUT",
        `Cannot take feedback: 'seq' must be an answered seq (0..${host.seq})`,
      );
    }
    if (typeof score !== "number" || !(score >= -1 && score <= 1)) {
      throw new SupervisorError(
        "INVALID_INPUT",
        "Cannot take feedback: 'score' must be a number within -1..1",
      );
    }
    if (
      comment !== undefined && (typeof comment !== "string" || comment.length > FEEDBACK_COMMENT_CHARS_MAX)
    ) {
      throw new SupervisorError(
        "INVALID_INPUT",
        `Cannot take feedback: 'comment' must be a string of at most ${FEEDBACK_COMMENT_CHARS_MAX} chars`,
      );
    }
    if (requestId !== undefined && (typeof requestId !== "string" || requestId.length > 256)) {
      throw new SupervisorError("INVALID_INPUT", "Cannot take feedback: 'request_id' must be a string");
    }
    const now = Date.now();
    const key = `${agent}/${String(seq).padStart(12, "0")}/${now}`;
    // The answer judged, when it is still in the answer log: feedback learning needs its input and output.
    const answer = this.answers.find(agent, { requestId: requestId as string | undefined, seq });
    await this.#opts.vault.kvPut(FEEDBACK_NAMESPACE, key, {
      agent,
      seq,
      score,
      comment,
      version: answer?.version ?? host.version,
      time_ms: now,
      ...(requestId !== undefined ? { request_id: requestId } : {}),
      ...(answer !== undefined
        ? { input: answer.input, output: answer.output ?? null, answer_ms: answer.ms }
        : {}),
    });
    return { agent, seq, score };
  }

  /** Stops every host, last started first. */
  async stop(graceMs: number = SHUTDOWN_GRACE_MS): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#checkpointTimer);
    clearInterval(this.#memoryTimer);
    this.candidates.stop();
    await this.#evaluator?.close();
    await this.shadows.close();
    const hosts = [...this.#hosts.values()].reverse();
    await Promise.all(hosts.map((h) => h.stop(graceMs)));
    await this.#broker.close();
  }
}
