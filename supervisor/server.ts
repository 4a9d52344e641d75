/**
 * `main.ts start`: opens the vault, starts the supervisor and its agents, serves the HTTP API, and drains
 * on SIGTERM/SIGINT.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { Logger } from "../observability/mod.ts";
import { openVault } from "../vault/mod.ts";
import type { Tier } from "../sandbox/mod.ts";
import { dashboardAssets } from "../web/mod.ts";
import { setEvaluatorCpuClass } from "../evolution/cpu_class.ts";
import { Authenticator, authMarkerPath } from "./auth.ts";
import { createHandler } from "./http.ts";
import { INFLIGHT_REQUESTS_MAX, SHUTDOWN_GRACE_MS } from "./limits.ts";
import { SupervisorMetrics } from "./metrics.ts";
import { PROJECT_ROOT, Supervisor } from "./supervisor.ts";
import { JobRunner } from "./jobs.ts";
import { llmFromEnv, LlmMutator } from "../evolution/mod.ts";

/** Usage of `main.ts start`. */
export const START_USAGE = `Usage: main.ts start [options]

Starts the supervisor and serves the HTTP API.

Options:
  --port N                   port to listen on (default 8080; 0 picks a free one)
  --host ADDR                address to bind (default 127.0.0.1)
  --data DIR                 data directory: WAL, checkpoints, vault.db, logs (default ./data)
  --agents DIR               agent sources to load at start (default examples/agents)
  --vault URL                sqlite: (default) or postgres://…[?schema=NAME]
  --tier jail|process        sandbox tier of live agents (default jail)
  --tls-cert FILE            PEM certificate (with --tls-key): serve HTTPS
  --tls-key FILE             PEM private key
  --encryption-key-file FILE at-rest key (see main.ts key create)
  --require-auth             require a bearer token on /v1 even before any token exists
  --metrics-auth             require a bearer token on /metrics
  --config FILE              JSON file with any of these options (flags win)
  --log-level LEVEL          debug|info|warn|error (default info)
  --checkpoint-every-records N
                             checkpoint an agent after N logged changes (default 10000)
  --checkpoint-every-ms N    checkpoint an agent that changed after N ms (default 60000)
  --shadow-window-ms N       how long a candidate's shadow watches live traffic (default 20000)
  --invoke-timeout-ms N      an invoke running longer has its sandbox killed and answers 504 (default 10000)
  --inflight-max N           HTTP requests in flight before the next answers 503 OVERLOADED (default ${INFLIGHT_REQUESTS_MAX})
  --zig-tools                run the http and sql tools on the Zig modules (built on demand)
  --http-allow HOSTS         comma-separated hosts (host or host:port) the http tool may reach
  --cold-restarts            no warm standby sandbox per agent (slower crash recovery, less memory)
  --llm-url URL              OpenAI-compatible endpoint for the optional LLM rewrite operator
                             (default: $O_LLM_URL; none: the engine's own operators only)
  --llm-model NAME           model to ask (default: $O_LLM_MODEL)
  --llm-key-env VAR          environment variable holding the endpoint's API key (default O_LLM_API_KEY)
  -h, --help                 show this help`;

/** Parsed options of `start`. */
export interface StartOptions {
  port: number;
  host: string;
  data: string;
  agents: string;
  vault: string;
  tier: Tier;
  tlsCert?: string;
  tlsKey?: string;
  encryptionKeyFile?: string;
  requireAuth: boolean;
  metricsAuth: boolean;
  logLevel: "debug" | "info" | "warn" | "error";
  coldRestarts: boolean;
  shadowWindowMs?: number;
  checkpointEveryRecords?: number;
  checkpointEveryMs?: number;
  zigTools: boolean;
  httpAllowHosts: string[];
  invokeTimeoutMs?: number;
  /** HTTP requests in flight before the next is refused with 503. */
  inflightMax?: number;
  llmUrl?: string;
  llmModel?: string;
  llmKeyEnv?: string;
}

const FLAGS = {
  port: { type: "string" },
  host: { type: "string" },
  data: { type: "string" },
  agents: { type: "string" },
  vault: { type: "string" },
  tier: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "encryption-key-file": { type: "string" },
  "require-auth": { type: "boolean" },
  "metrics-auth": { type: "boolean" },
  config: { type: "string" },
  "log-level": { type: "string" },
  "cold-restarts": { type: "boolean" },
  "zig-tools": { type: "boolean" },
  "invoke-timeout-ms": { type: "string" },
  "inflight-max": { type: "string" },
  "http-allow": { type: "string" },
  "shadow-window-ms": { type: "string" },
  "checkpoint-every-records": { type: "string" },
  "checkpoint-every-ms": { type: "string" },
  "llm-url": { type: "string" },
  "llm-model": { type: "string" },
  "llm-key-env": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Parses `start` flags (a `--config` JSON file supplies defaults; flags win).
 *
 * @throws {TypeError} On an unknown flag or a bad value.
 */
export function parseStartOptions(args: string[]): StartOptions | "help" {
  const { values } = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) return "help";
  const config: Record<string, unknown> = values.config
    ? JSON.parse(Deno.readTextFileSync(values.config))
    : {};
  const known = new Set(Object.keys(FLAGS));
  for (const key of Object.keys(config)) {
    if (!known.has(key)) throw new TypeError(`Cannot read config ${values.config}: unknown option '${key}'`);
  }
  const pick = (k: keyof typeof FLAGS) => (values as Record<string, unknown>)[k] ?? config[k];
  const port = Number(pick("port") ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`Cannot use --port: current value is ${pick("port")}`);
  }
  const tier = String(pick("tier") ?? "jail");
  if (tier !== "jail" && tier !== "process") {
    throw new TypeError(`Cannot use --tier: must be jail or process, not ${tier}`);
  }
  const logLevel = String(pick("log-level") ?? "info");
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new TypeError(`Cannot use --log-level ${logLevel}`);
  }
  const shadowWindow = pick("shadow-window-ms");
  if (shadowWindow !== undefined && !(Number(shadowWindow) >= 0)) {
    throw new TypeError(`Cannot use --shadow-window-ms: current value is ${shadowWindow}`);
  }
  const tlsCert = pick("tls-cert") as string | undefined;
  const tlsKey = pick("tls-key") as string | undefined;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new TypeError("Cannot use TLS: give both --tls-cert and --tls-key");
  }
  return {
    port,
    host: String(pick("host") ?? "127.0.0.1"),
    data: resolve(String(pick("data") ?? "data")),
    agents: resolve(String(pick("agents") ?? join(PROJECT_ROOT, "examples", "agents"))),
    vault: String(pick("vault") ?? "sqlite:"),
    tier,
    tlsCert,
    tlsKey,
    encryptionKeyFile: pick("encryption-key-file") as string | undefined,
    requireAuth: Boolean(pick("require-auth")),
    metricsAuth: Boolean(pick("metrics-auth")),
    logLevel: logLevel as StartOptions["logLevel"],
    coldRestarts: Boolean(pick("cold-restarts")),
    shadowWindowMs: shadowWindow === undefined ? undefined : Number(shadowWindow),
    checkpointEveryRecords: positive(pick("checkpoint-every-records"), "--checkpoint-every-records"),
    checkpointEveryMs: positive(pick("checkpoint-every-ms"), "--checkpoint-every-ms"),
    zigTools: Boolean(pick("zig-tools")),
    invokeTimeoutMs: positive(pick("invoke-timeout-ms"), "--invoke-timeout-ms"),
    inflightMax: positive(pick("inflight-max"), "--inflight-max"),
    httpAllowHosts: String(pick("http-allow") ?? "").split(",").map((h) => h.trim()).filter(Boolean),
    llmUrl: pick("llm-url") as string | undefined,
    llmModel: pick("llm-model") as string | undefined,
    llmKeyEnv: pick("llm-key-env") as string | undefined,
  };
}

function positive(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new TypeError(`Cannot use ${flag}: current value is ${value}`);
  return n;
}

/** A running server, for tests and the CLI. */
export interface RunningServer {
  port: number;
  supervisor: Supervisor;
  /** Drains requests, stops agents, closes the vault. */
  shutdown(): Promise<void>;
}

/** Starts everything; resolves once agents are loaded and the server listens. */
export async function startServer(opts: StartOptions): Promise<RunningServer> {
  Deno.mkdirSync(opts.data, { recursive: true });
  // Every evaluation this process runs (candidates, co-evolution, auto-fix, jobs) runs beside live traffic.
  setEvaluatorCpuClass("batch");
  const log = new Logger({ dir: join(opts.data, "logs"), level: opts.logLevel });
  const vault = await openVault({
    dataDir: opts.data,
    url: opts.vault,
    encryptionKeyFile: opts.encryptionKeyFile,
  });
  const metrics = new SupervisorMetrics();
  const supervisor = new Supervisor({
    dataDir: opts.data,
    vault,
    log,
    metrics,
    tier: opts.tier,
    warmStandby: !opts.coldRestarts,
    shadowWindowMs: opts.shadowWindowMs,
    checkpointEveryRecords: opts.checkpointEveryRecords,
    checkpointEveryMs: opts.checkpointEveryMs,
    httpAllowHosts: opts.httpAllowHosts,
    invokeTimeoutMs: opts.invokeTimeoutMs,
    toolEngines: opts.zigTools ? await (await import("./zig_engines.ts")).openZigEngines() : undefined,
  });
  metrics.attach({
    vaultStats: () => vault.stats(),
    agentStatuses: () => [...supervisor.hosts.values()].map((h) => h.status),
    shadows: () => supervisor.splitter.count(),
  });
  if (opts.tier === "process") log.warn("live agents run in the process tier: no bubblewrap jail");
  await supervisor.loadAll(opts.agents);
  await supervisor.candidates.load();
  supervisor.startCheckpoints();
  const jobs = new JobRunner({ supervisor, vault, dataDir: opts.data, log, llm: llmOf(opts) });
  supervisor.regressionCases = (agent) => jobs.regressions.cases(agent);
  await jobs.start();
  supervisor.startMonitor();
  dashboardAssets(); // Fails at start, not at the first page load, when the chart library is missing.
  const auth = new Authenticator(vault, { requireAuth: opts.requireAuth, marker: authMarkerPath(opts.data) });
  const unwatch = auth.watchMarker();
  const handler = createHandler({
    supervisor,
    metrics,
    log,
    auth,
    metricsAuth: opts.metricsAuth,
    jobs,
    inflightMax: opts.inflightMax,
  });
  const listening = Promise.withResolvers<number>();
  const tls = opts.tlsCert
    ? { cert: Deno.readTextFileSync(opts.tlsCert), key: Deno.readTextFileSync(opts.tlsKey!) }
    : {};
  const server = Deno.serve({
    port: opts.port,
    hostname: opts.host,
    ...tls,
    onListen: ({ port }) => listening.resolve(port),
  }, handler);
  const port = await listening.promise;
  log.info("listening", { host: opts.host, port, data: opts.data, agents: [...supervisor.hosts.keys()] });
  let stopping: Promise<void> | undefined;
  return {
    port,
    supervisor,
    shutdown() {
      stopping ??= (async () => {
        await Promise.race([server.shutdown(), delay(SHUTDOWN_GRACE_MS)]);
        // Running jobs stay `running` in the vault and resume at the next start; do not wait long for them.
        await Promise.race([jobs.stop(), delay(1_000)]);
        unwatch();
        await supervisor.stop(500);
        await vault.close();
        metrics.close();
        log.info("stopped");
        log.close();
      })();
      return stopping;
    },
  };
}

/** The LLM rewrite operator the flags or the environment configure, or `null`. */
function llmOf(opts: StartOptions): LlmMutator | null {
  if (opts.llmUrl === undefined) return llmFromEnv();
  const key = Deno.env.get(opts.llmKeyEnv ?? "O_LLM_API_KEY");
  return new LlmMutator({
    url: opts.llmUrl,
    model: opts.llmModel ?? Deno.env.get("O_LLM_MODEL") ?? "default",
    apiKey: key,
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    Deno.unrefTimer(t);
  });
}

/** `main.ts start`. @returns The exit code. */
export async function startCommand(args: string[]): Promise<number> {
  let opts: StartOptions | "help";
  try {
    opts = parseStartOptions(args);
  } catch (e) {
    console.error(`start: ${e instanceof Error ? e.message : e}\n\n${START_USAGE}`);
    return 2;
  }
  if (opts === "help") {
    console.log(START_USAGE);
    return 0;
  }
  const running = await startServer(opts);
  const scheme = opts.tlsCert ? "https" : "http";
  console.error(`O listening on ${scheme}://${opts.host}:${running.port} (data ${opts.data})`);
  const done = Promise.withResolvers<void>();
  const onSignal = () => {
    // A hard deadline: whatever happens, the process is gone within 5 s of the signal.
    const hard = setTimeout(() => Deno.exit(0), 4_500);
    Deno.unrefTimer(hard);
    running.shutdown().then(() => done.resolve(), () => done.resolve());
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  await done.promise;
  return 0;
}
