/**
 * Goal: driven past saturation, the server answers every request — 200, or 429 when an agent's queue is
 * full (AGENT_QUEUE_MAX), or 503 when too many requests are in flight (INFLIGHT_REQUESTS_MAX) — and never
 * hangs, resets a connection or crashes; no sandbox is restarted; other agents keep answering meanwhile;
 * afterwards it is healthy, its queues drain, and it still stops cleanly on SIGTERM.
 * Method: ten slow agents (1 ms of CPU per call) and one fast one; wrk with a Lua script that counts
 * statuses (a 503 that is not OVERLOADED counts apart). First the real server (`main.ts start`, default
 * bounds): 1,000 connections on one slow agent, then 4,600 over the ten, while a probe calls the fast
 * agent. Then the same handler in process with a small in-flight bound, so the 503 path is taken for sure
 * (on 2 cores the real server's accept loop rarely lets 4,096 requests be in flight at once).
 * Why 1 ms: a full queue must be worked off within the invoke timeout, or the timeout kills a healthy
 * sandbox (10 agents × 512 queued × 5 ms on 2 cores does: reported on issue 10).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { post, startServer } from "./_server.ts";
import { Logger } from "../observability/mod.ts";
import { openVault } from "../vault/mod.ts";
import {
  AGENT_QUEUE_MAX,
  createHandler,
  INFLIGHT_REQUESTS_MAX,
  Supervisor,
  SupervisorMetrics,
} from "../supervisor/mod.ts";

const SLOW_AGENTS = 10;
const SLOW_CALL_MS = 1;
const WIDE_CONNECTIONS = 4_600;
/** The in-process handler's in-flight bound (well under what 1,000 connections offer). */
const INFLIGHT_SMALL_MAX = 256;
const PHASE_S = 4;
/** An answer slower than this counts as a hang. */
const ANSWER_MS_MAX = 15_000;

const WRK_SCRIPT = `
local counter = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {}; agents = tonumber(args[1]) end
request = function()
  counter = counter + 1
  local path = "/v1/agents/slow_" .. (counter % agents) .. "/invoke"
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, '{"input":{"n":1}}')
end
response = function(status, headers, body)
  local key = tostring(status)
  if status == 503 and not body:find("OVERLOADED") then key = "503-other" end
  statuses[key] = (statuses[key] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, '"' .. k .. '":' .. v) end
  io.write("STATUSES {" .. table.concat(parts, ",") .. "}\\n")
  local e = summary.errors
  io.write(string.format('ERRORS {"connect":%d,"read":%d,"write":%d,"timeout":%d}\\n', e.connect, e.read, e.write, e.timeout))
  io.write(string.format('LATENCY {"p50_ms":%.1f,"p99_ms":%.1f,"max_ms":%.1f}\\n', latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
`;

function slowAgent(i: number): string {
  return `import { defineAgent } from "@o/agent";
export default defineAgent({
  name: "slow_${i}",
  version: "1.0.0",
  handle: (ctx) => {
    const until = performance.now() + ${SLOW_CALL_MS};
    let spins = 0;
    while (performance.now() < until) spins++;
    return { n: ctx.arg("n") ?? null, spun: spins > 0 };
  },
});
`;
}

const FAST_AGENT = `import { defineAgent } from "@o/agent";
export default defineAgent({ name: "fast", version: "1.0.0", handle: (ctx) => ({ n: ctx.arg("n") ?? null }) });
`;

interface WrkReport {
  statuses: Record<string, number>;
  errors: { connect: number; read: number; write: number; timeout: number };
  latency: { p50_ms: number; p99_ms: number; max_ms: number };
}

async function wrk(
  server: { url: string },
  script: string,
  connections: number,
  agents: number,
): Promise<WrkReport> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t2",
      `-c${connections}`,
      `-d${PHASE_S}s`,
      `--timeout`,
      `${ANSWER_MS_MAX / 1000}s`,
      "-s",
      script,
      server.url,
      "--",
      String(agents),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  ok(out.success, `wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  const field = (name: string) => JSON.parse(new RegExp(`${name} (\\{.*\\})`).exec(text)![1]);
  return { statuses: field("STATUSES"), errors: field("ERRORS"), latency: field("LATENCY") };
}

/**
 * Calls the fast agent every 100 ms until stopped, each time on a new connection (a pooled keep-alive
 * connection may be closed by the server between two calls, which is no fault); records each status and
 * time, 0 for a call that failed at the socket.
 */
function probe(
  server: { url: string },
): { stop(): Promise<{ status: number; ms: number; error?: string }[]> } {
  let running = true;
  const seen: { status: number; ms: number; error?: string }[] = [];
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const started = performance.now();
      try {
        const res = await fetch(`${server.url}/v1/agents/fast/invoke`, {
          method: "POST",
          body: JSON.stringify({ input: { n } }),
          headers: { "content-type": "application/json" },
          client,
        });
        await res.body?.cancel();
        seen.push({ status: res.status, ms: performance.now() - started });
      } catch (e) {
        seen.push({ status: 0, ms: performance.now() - started, error: String(e) });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      client.close();
      return seen;
    },
  };
}

function checkPhase(name: string, r: WrkReport, allowed: string[]): void {
  console.log(`${name}: ${JSON.stringify(r)}`);
  deepStrictEqual(r.errors, { connect: 0, read: 0, write: 0, timeout: 0 }, `${name}: socket errors or hangs`);
  for (const status of Object.keys(r.statuses)) ok(allowed.includes(status), `${name}: status ${status}`);
  ok((r.statuses["200"] ?? 0) > 0, `${name}: some requests were served`);
  ok(r.latency.max_ms < ANSWER_MS_MAX, `${name}: slowest answer ${r.latency.max_ms} ms`);
}

async function writeAgents(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "o-sat-agents-" });
  for (let i = 0; i < SLOW_AGENTS; i++) await Deno.writeTextFile(join(dir, `slow_${i}.ts`), slowAgent(i));
  await Deno.writeTextFile(join(dir, "fast.ts"), FAST_AGENT);
  return dir;
}

async function writeScript(): Promise<string> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(script, WRK_SCRIPT);
  return script;
}

/** Every agent ready and never restarted, per `/health`. */
async function checkHealth(url: string): Promise<void> {
  const health = await (await fetch(`${url}/health`)).json();
  strictEqual(health.status, "ok");
  const agents = health.agents as Record<string, { status: string; restarts: number }>;
  strictEqual(Object.keys(agents).length, SLOW_AGENTS + 1);
  for (const [name, a] of Object.entries(agents)) {
    strictEqual(a.status, "ready", `${name} is ready`);
    strictEqual(a.restarts, 0, `${name} was not restarted`);
  }
}

/** Waits until every slow agent answers at once again (the storm's leftovers have run). */
async function drain(url: string): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < SLOW_AGENTS; i++) {
    while (true) {
      const t = performance.now();
      const { status, body } = await post(`${url}/v1/agents/slow_${i}/invoke`, { input: { n: 2 } });
      // While the leftovers still run, the server may answer 503 OVERLOADED: bounded, not hung.
      const overloaded = status === 503 && JSON.stringify(body).includes("OVERLOADED");
      ok(status === 200 || overloaded, `slow_${i} answered ${status} ${JSON.stringify(body)}`);
      if (status === 200 && performance.now() - t < 200) break;
      ok(performance.now() - started < 20_000, "the queues drain");
      if (overloaded) await new Promise((r) => setTimeout(r, 50));
    }
  }
  return performance.now() - started;
}

Deno.test("past saturation the real server answers 200/429/503, never hangs or crashes, stays healthy and drains", async () => {
  const agents = await writeAgents();
  const script = await writeScript();
  const server = await startServer({ agents, args: ["--log-level", "error"] });
  try {
    ok(1_000 > AGENT_QUEUE_MAX, "phase 1 must overflow one agent's queue");
    ok(WIDE_CONNECTIONS > INFLIGHT_REQUESTS_MAX, "phase 2 offers more than the server's in-flight bound");
    ok(
      WIDE_CONNECTIONS < SLOW_AGENTS * AGENT_QUEUE_MAX,
      "phase 2 does not overflow the agents' queues alone",
    );

    const probing = probe(server);
    const narrow = await wrk(server, script, 1_000, 1);
    checkPhase("1,000 connections on one agent", narrow, ["200", "429"]);
    ok((narrow.statuses["429"] ?? 0) > 0, "a full agent queue answers 429");
    const wide = await wrk(server, script, WIDE_CONNECTIONS, SLOW_AGENTS);
    checkPhase(`${WIDE_CONNECTIONS} connections on ${SLOW_AGENTS} agents`, wide, ["200", "429", "503"]);
    const probes = await probing.stop();
    ok(probes.length > 0, "the probe ran");
    for (const p of probes) {
      ok(p.status === 200 || p.status === 503, `fast agent answered ${JSON.stringify(p)}`);
    }
    ok(probes.every((p) => p.ms < ANSWER_MS_MAX), "the fast agent never hung");
    ok(
      probes.filter((p) => p.status === 200).length > probes.length / 2,
      "the fast agent mostly got through",
    );
    console.log(
      `fast agent meanwhile: ${probes.length} calls, slowest ${
        Math.round(Math.max(...probes.map((p) => p.ms)))
      } ms`,
    );

    await checkHealth(server.url);
    const started = performance.now();
    strictEqual((await post(`${server.url}/v1/agents/fast/invoke`, { input: { n: 1 } })).status, 200);
    ok(performance.now() - started < 1_000, "the fast agent answers at once after the storm");
    console.log(`queues drained in ${Math.round(await drain(server.url))} ms`);
    await checkHealth(server.url);
    const rss = Number(
      /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${server.process.pid}/status`))![1],
    );
    console.log(`server RSS after the storm: ${Math.round(rss / 1024)} MiB`);
  } finally {
    const stopped = await server.stop();
    strictEqual(stopped.code, 0, "the server stops cleanly on SIGTERM");
    ok(stopped.ms < 5_000, `SIGTERM to exit: ${Math.round(stopped.ms)} ms`);
    await Deno.remove(agents, { recursive: true });
    await Deno.remove(script);
    await Deno.remove(server.data, { recursive: true }).catch(() => {});
  }
});

Deno.test("past its in-flight bound the HTTP handler answers 503 OVERLOADED at once and keeps serving", async () => {
  const agentsDir = await writeAgents();
  const script = await writeScript();
  const dataDir = await Deno.makeTempDir({ prefix: "o-sat-" });
  const vault = await openVault({ dataDir });
  const log = new Logger({ console: false, level: "error" });
  const metrics = new SupervisorMetrics();
  const supervisor = new Supervisor({ dataDir, vault, log, metrics, tier: "jail" });
  await supervisor.loadAll(agentsDir);
  const handler = createHandler({ supervisor, metrics, log, inflightMax: INFLIGHT_SMALL_MAX });
  const listening = Promise.withResolvers<number>();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: (a) => listening.resolve(a.port) },
    handler,
  );
  const url = `http://127.0.0.1:${await listening.promise}`;
  try {
    const r = await wrk({ url }, script, 1_000, SLOW_AGENTS);
    checkPhase(`1,000 connections, in-flight bound ${INFLIGHT_SMALL_MAX}`, r, ["200", "429", "503"]);
    ok((r.statuses["503"] ?? 0) > 0, "past the in-flight bound the server answers 503 OVERLOADED");
    await drain(url);
    await checkHealth(url);
  } finally {
    await server.shutdown();
    await supervisor.stop(200);
    await vault.close();
    metrics.close();
    await Deno.remove(dataDir, { recursive: true });
    await Deno.remove(agentsDir, { recursive: true });
    await Deno.remove(script);
  }
});
