/**
 * Test helper: starts the real server (`main.ts start`) as a subprocess on a free port with a fresh data
 * directory, and finds the processes it spawned.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const ROOT: string = dirname(dirname(fileURLToPath(import.meta.url)));
const LISTEN_PATTERN = /O listening on https?:\/\/[^:]+:(\d+)/;
const START_TIMEOUT_MS = 60_000;

export interface TestServer {
  url: string;
  port: number;
  data: string;
  process: Deno.ChildProcess;
  /** Everything the server wrote on stderr so far. */
  stderr(): string;
  /** Sends a signal and waits for the exit; resolves with the exit code and how long it took. */
  stop(signal?: Deno.Signal): Promise<{ code: number; ms: number }>;
}

export interface StartOptions {
  data?: string;
  agents?: string;
  args?: string[];
  /** Extra environment variables for the server process. */
  env?: Record<string, string>;
}

/** Starts `main.ts start --port 0` and resolves once it listens. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const data = options.data ?? await Deno.makeTempDir({ prefix: "o-test-" });
  const args = ["run", "-A", join(ROOT, "main.ts"), "start", "--port", "0", "--data", data];
  if (options.agents !== undefined) args.push("--agents", options.agents);
  args.push(...(options.args ?? []));
  const process = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "null",
    stderr: "piped",
    cwd: ROOT,
    env: options.env,
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const port = Promise.withResolvers<number>();
  const reading = (async () => {
    for await (const chunk of process.stderr) {
      text += decoder.decode(chunk, { stream: true });
      const m = LISTEN_PATTERN.exec(text);
      if (m) port.resolve(Number(m[1]));
    }
    port.reject(new Error(`server exited before listening:\n${text.slice(-3000)}`));
  })();
  const timer = setTimeout(
    () => port.reject(new Error(`server did not listen in ${START_TIMEOUT_MS} ms`)),
    START_TIMEOUT_MS,
  );
  let p: number;
  try {
    p = await port.promise;
  } catch (e) {
    try {
      process.kill("SIGKILL");
    } catch { /* gone */ }
    await process.status;
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    data,
    process,
    stderr: () => text,
    async stop(signal: Deno.Signal = "SIGTERM") {
      const started = performance.now();
      try {
        process.kill(signal);
      } catch { /* gone */ }
      const status = await process.status;
      await reading;
      return { code: status.code, ms: performance.now() - started };
    },
  };
}

export { descendants } from "../observability/mod.ts";

/** The command line of a process, or "" if it is gone. */
export function cmdline(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** POSTs JSON and returns status, parsed body and headers. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json as Record<string, unknown>, headers: res.headers };
}

/** A job as `GET /v1/jobs/ID` answers it. */
// deno-lint-ignore no-explicit-any
export type JobView = Record<string, any>;

/** Whether a job has ended (done or failed). */
export const jobFinished = (j: JobView): boolean => j.status === "done" || j.status === "failed";

/**
 * Polls `GET /v1/jobs/ID` until `until` holds.
 *
 * @throws {Error} When it does not within `ms`, with the job's last view.
 */
export async function waitJob(
  server: { url: string },
  id: string,
  until: (j: JobView) => boolean,
  ms: number,
): Promise<JobView> {
  const deadline = Date.now() + ms;
  let j: JobView = {};
  while (Date.now() < deadline) {
    j = await (await fetch(`${server.url}/v1/jobs/${id}`)).json();
    if (until(j)) return j;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not get there in ${ms} ms: ${JSON.stringify(j).slice(0, 2000)}`);
}
