/**
 * Invoke latency and throughput through HTTP → sandbox → WAL → answer, against a bare `Deno.serve` that
 * parses the same JSON, both driven by wrk in the same run.
 *
 * @module
 */
import { join } from "node:path";
import type { Figure } from "./_util.ts";
import { treeRssBytes } from "./_util.ts";
import { cmdline, descendants, startServer } from "../tests/_server.ts";

const ROOT = new URL("..", import.meta.url).pathname;

interface WrkResult {
  p50Ms: number;
  p99Ms: number;
  rps: number;
  errors: number;
}

function toMs(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

async function wrk(url: string, connections: number, seconds: number, reads = false): Promise<WrkResult> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  const input = reads
    ? `{"get":"k' .. (counter % 1000) .. '"}`
    : `{"set":"k' .. (counter % 1000) .. '","value":' .. counter .. '}`;
  // Every request changes durable state (a new value for one of the keys): each answer waits for its WAL
  // record to be fsync'd, as a real write does. The bare server parses the same bodies.
  await Deno.writeTextFile(
    script,
    `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  local body = '{"input":${input}}'
  return wrk.format("POST", nil, nil, body)
end
`,
  );
  const out = await new Deno.Command("wrk", {
    args: ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(script);
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  const p50 = /50%\s+(\S+)/.exec(text)?.[1] ?? "";
  const p99 = /99%\s+(\S+)/.exec(text)?.[1] ?? "";
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)/.exec(text);
  const errors = non2xx + (socket ? socket.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0);
  return { p50Ms: toMs(p50), p99Ms: toMs(p99), rps, errors };
}

async function bare(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", join(ROOT, "bench", "_bare_server.ts")],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/listening (\d+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("bare server exited");
    text += value;
  }
  const port = Number(/listening (\d+)/.exec(text)![1]);
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: async () => {
      child.kill("SIGKILL");
      await child.status;
      reader.releaseLock();
      await child.stderr.cancel().catch(() => {});
    },
  };
}

/** Runs the section. */
export async function benchHttp(quick: boolean): Promise<Figure[]> {
  const seconds = quick ? 3 : 10;
  const base = await bare();
  const baseLatency = await wrk(base.url, 1, seconds);
  const baseThroughput = await wrk(base.url, 32, seconds);
  const baseReads = await wrk(base.url, 32, seconds, true);
  await base.stop();

  const server = await startServer({ agents: join(ROOT, "bench", "agents") });
  const url = `${server.url}/v1/agents/kv/invoke`;
  await wrk(url, 4, 1); // Warm up the sandbox and the JIT.
  const oLatency = await wrk(url, 1, seconds);
  const oThroughput = await wrk(url, 32, seconds);
  const oReads = await wrk(url, 32, seconds, true);
  const sandboxes = descendants(server.process.pid).filter((p) => cmdline(p).includes("sandbox_main.ts"));
  const sandboxRss = treeRssBytes(sandboxes) / Math.max(1, sandboxes.length);
  await server.stop();
  const section = "invoke (HTTP → sandbox → WAL)";
  return [
    {
      section,
      name: "latency p50 (1 connection)",
      value: oLatency.p50Ms,
      unit: "ms",
      baseline: baseLatency.p50Ms,
      baselineName: "bare Deno.serve",
      goal: "≤ 3× bare",
      met: oLatency.p50Ms <= 3 * baseLatency.p50Ms,
    },
    {
      section,
      name: "latency p99 (1 connection)",
      value: oLatency.p99Ms,
      unit: "ms",
      baseline: baseLatency.p99Ms,
      baselineName: "bare Deno.serve",
      goal: "≤ 3× bare",
      met: oLatency.p99Ms <= 3 * baseLatency.p99Ms,
    },
    {
      section,
      name: "throughput, durable writes (32 connections)",
      value: oThroughput.rps,
      unit: "req/s",
      baseline: baseThroughput.rps,
      baselineName: "bare Deno.serve",
      goal: "≥ 35 % of bare",
      met: oThroughput.rps >= 0.35 * baseThroughput.rps,
    },
    {
      section,
      name: "throughput, read-only invokes (no WAL record)",
      value: oReads.rps,
      unit: "req/s",
      baseline: baseReads.rps,
      baselineName: "bare Deno.serve",
      goal: "≥ 35 % of bare",
      met: oReads.rps >= 0.35 * baseReads.rps,
    },
    {
      section,
      name: "errors under load",
      value: oLatency.errors + oThroughput.errors + oReads.errors,
      unit: "",
      goal: "0",
      met: oLatency.errors + oThroughput.errors + oReads.errors === 0,
    },
    {
      section: "memory",
      name: "RSS per agent sandbox",
      value: sandboxRss / 2 ** 20,
      unit: "MiB",
      goal: "< 60 MiB",
      met: sandboxRss / 2 ** 20 < 60,
    },
  ];
}
