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
  BUILTIN_TOOLS,
  type Grant,
  type SandboxLimits,
  prefilter,
  type SandboxProcess,
  spawnSandbox,
  type Tier,
} from "../sandbox/mod.ts";
import type { Logger } from "../observability/mod.ts";
import type { AgentRecord } from "../vault/types.ts";
import { AgentHost, startSandbox } from "./agent_host.ts";
import { SupervisorError } from "./errors.ts";
import type { HostVault } from "./host_deps.ts";
import { SHUTDOWN_GRACE_MS } from "./limits.ts";
import type { SupervisorMetrics } from "./metrics.ts";
import { TrafficSplitter } from "./splitter.ts";

/** The project root, where `agent/` and `protocol/` live (read-only inside every sandbox). */
export const PROJECT_ROOT: string = dirname(dirname(fileURLToPath(import.meta.url)));

/** What the supervisor needs of the vault. */
export interface SupervisorVault extends HostVault {
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
  /** Hosts the `http` tool may reach. @default [] */
  httpAllowHosts?: readonly string[];
}

/** Health of one agent, as `/health` shows it. */
export interface AgentHealth {
  status: string;
  version: string;
  restarts: number;
  shadows: number;
}

/** Owns every agent host. */
export class Supervisor {
  readonly #opts: SupervisorOptions;
  readonly #hosts = new Map<string, AgentHost>();
  readonly #broker: Broker;
  /** Mirrors live traffic to shadows. */
  readonly splitter: TrafficSplitter = new TrafficSplitter();
  readonly startedAt = Date.now();
  #stopping = false;

  constructor(options: SupervisorOptions) {
    this.#opts = options;
    this.#broker = new Broker((entry) => {
      options.log.info("tool call", { ...entry, source: "broker" });
      options.metrics.toolCalled(entry.tool, entry.ok);
    });
  }

  /** Spawns one sandbox for live agent code. */
  spawn(): SandboxProcess {
    return spawnSandbox({
      entry: join(PROJECT_ROOT, "agent", "sandbox_main.ts"),
      importMap: join(PROJECT_ROOT, "agent", "import_map.json"),
      readDirs: [join(PROJECT_ROOT, "agent"), join(PROJECT_ROOT, "protocol")],
      tier: this.#opts.tier,
      limits: this.#opts.limits ?? AGENT_LIMITS_DEFAULT,
    });
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
      const list = checked.violations.slice(0, 10).map((v) => `${v.line}:${v.column} ${v.rule}: ${v.message}`);
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
    const host = await AgentHost.start(info.name, source, info, {
      spawn: () => this.spawn(),
      vault: o.vault,
      broker: this.#broker,
      log: o.log,
      metrics: o.metrics,
      grant: this.#grant(info.name, info),
      warmStandby: o.warmStandby,
      onAnswered: (answer) => this.splitter.tap(answer),
    });
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
      agents[name] = {
        status: host.status,
        version: host.version,
        restarts: host.restarts,
        shadows: this.splitter.count(name),
      };
    }
    return {
      status: degraded ? "degraded" : "ok",
      agents,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }

  /** Stops every host, last started first. */
  async stop(graceMs: number = SHUTDOWN_GRACE_MS): Promise<void> {
    this.#stopping = true;
    const hosts = [...this.#hosts.values()].reverse();
    await Promise.all(hosts.map((h) => h.stop(graceMs)));
  }
}
