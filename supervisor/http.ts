/**
 * The HTTP API of CONTRACT.md as one fetch handler: routing, request ids, body limits, JSON errors.
 *
 * @module
 */
import { OError } from "../protocol/mod.ts";
import { type Logger, withSpan } from "../observability/mod.ts";
import { httpStatusOf, SupervisorError } from "./errors.ts";
import {
  AGENT_SOURCE_CHARS_MAX,
  HEADER_ID_CHARS_MAX,
  HTTP_BODY_BYTES_MAX,
  INFLIGHT_REQUESTS_MAX,
} from "./limits.ts";
import type { SupervisorMetrics } from "./metrics.ts";
import type { Supervisor } from "./supervisor.ts";
import { dashboardResponse } from "../web/mod.ts";
import type { Authenticator, Scope } from "./auth.ts";
import type { JobRunner } from "./jobs.ts";
import { keepable, LOG_INPUT_CHARS_MAX } from "./answer_log.ts";
import { dslSource } from "./jobs_learning.ts";
import { introspectDsl } from "../evolution/mod.ts";
import { BUILTIN_TOOLS } from "../sandbox/mod.ts";

/** Options of {@link createHandler}. */
export interface HandlerOptions {
  supervisor: Supervisor;
  metrics: SupervisorMetrics;
  log: Logger;
  /** Largest request body. @default HTTP_BODY_BYTES_MAX */
  bodyBytesMax?: number;
  /** Requests in flight before 503. @default INFLIGHT_REQUESTS_MAX */
  inflightMax?: number;
  /** Bearer-token checks for `/v1` (and `/metrics` with `metricsAuth`). */
  auth?: Authenticator;
  /** Require a token with scope `read` on `/metrics`. @default false */
  metricsAuth?: boolean;
  /** Scheduled jobs (`/v1/jobs`, `/v1/agents/{name}/evolution`, `…/regressions`). */
  jobs?: JobRunner;
}

/** Invoke failures that say something about the agent's code (logged with the input for auto-fix). */
const CODE_FAILURES = new Set(["AGENT_ERROR", "OUTPUT_INVALID", "AGENT_TIMEOUT", "AGENT_CRASHED"]);
/**
 * `invoke failed` log lines per agent per second; past it they are dropped (metrics still count every
 * failure), so a flood of failures cannot turn every request into a log write.
 */
const FAILURE_LOG_LINES_PER_S_MAX = 50;

const ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
/** Where a submitted candidate may say it came from. */
const CANDIDATE_OPERATORS = [
  "submitted",
  "evolve",
  "llm",
  "autofix",
  "red-team",
  "feedback",
  "dsl",
  "memory",
];

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

async function readCounted(req: Request, bytesMax: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  if (req.body !== null) {
    for await (const chunk of req.body) {
      bytes += chunk.length;
      if (bytes > bytesMax) {
        throw new SupervisorError("BODY_TOO_LARGE", `Cannot read body: more than ${bytesMax} bytes`);
      }
      chunks.push(chunk);
    }
  }
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) (all.set(c, at), at += c.length);
  return all;
}

/** The contract's error answer. */
export function errorResponse(code: string, message: string, status = httpStatusOf(code)): Response {
  return json({ error: { code, message } }, status);
}

/**
 * Reads a JSON body, enforcing the size limit while it streams in. Content-Length is trusted for an early
 * refusal only when no Transfer-Encoding is present (RFC 9112 §6.3); otherwise bytes are counted.
 *
 * @throws {SupervisorError} `BODY_TOO_LARGE`, `INVALID_JSON`.
 */
export async function readJson(req: Request, bytesMax: number): Promise<unknown> {
  const declared = req.headers.get("content-length");
  if (declared !== null && !req.headers.has("transfer-encoding") && Number(declared) > bytesMax) {
    await req.body?.cancel().catch(() => {});
    throw new SupervisorError("BODY_TOO_LARGE", `Cannot read body: ${declared} bytes exceeds ${bytesMax}`);
  }
  // With a trusted Content-Length within the limit, the runtime reads the body in one go (no stream
  // reader per chunk); otherwise bytes are counted as they arrive.
  const trusted = declared !== null && !req.headers.has("transfer-encoding");
  const all = trusted ? new Uint8Array(await req.arrayBuffer()) : await readCounted(req, bytesMax);
  if (all.length > bytesMax) {
    throw new SupervisorError("BODY_TOO_LARGE", `Cannot read body: more than ${bytesMax} bytes`);
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(all));
  } catch (e) {
    throw new SupervisorError(
      "INVALID_JSON",
      `Cannot parse body as JSON: ${e instanceof Error ? e.message : e}`,
    );
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function headerId(req: Request, name: string): string | undefined {
  const v = req.headers.get(name);
  if (v === null) return undefined;
  if (v.length === 0 || v.length > HEADER_ID_CHARS_MAX || !ID_PATTERN.test(v)) {
    throw new SupervisorError(
      "BAD_REQUEST",
      `Cannot accept header ${name}: it must be 1..${HEADER_ID_CHARS_MAX} chars of [A-Za-z0-9._:-]`,
    );
  }
  return v;
}

type Route = (req: Request, params: string[], requestId: string) => Promise<Response> | Response;
/** A route: method, path pattern, the scope it needs (`null`: open), handler. */
type RouteSpec = [string, RegExp, Scope | null, Route];

/** What the route handlers share. */
interface RouteContext {
  options: HandlerOptions;
  supervisor: Supervisor;
  metrics: SupervisorMetrics;
  log: Logger;
  bodyBytesMax: number;
  /** Whether another failed-invoke line may be logged for `agent` this second. */
  mayLogFailure: (agent: string) => boolean;
  jobRunner: () => JobRunner;
}

/** Health, metrics, the dashboard, agents, invoke, state, checkpoints. */
function coreRoutes(ctx: RouteContext): RouteSpec[] {
  const { supervisor, metrics, log, bodyBytesMax, mayLogFailure, options } = ctx;
  return [
    ["GET", /^\/health$/, null, () => {
      const h = supervisor.health();
      return json(h, 200);
    }],
    [
      "GET",
      /^\/metrics$/,
      options.metricsAuth ? "read" : null,
      () =>
        new Response(metrics.registry.render(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        }),
    ],
    [
      "GET",
      /^\/(?:assets\/[\w.-]+)?$/,
      null,
      (req) =>
        dashboardResponse(new URL(req.url).pathname) ?? errorResponse("NOT_FOUND", "Cannot find that asset"),
    ],
    ["GET", /^\/v1\/agents$/, "read", async () => {
      const agents = await Promise.all([...supervisor.hosts.values()].map(async (h) => {
        const { snapshot, seq } = await h.durableState();
        return {
          name: h.name,
          version: h.version,
          status: h.status,
          doc: h.info.doc,
          seq,
          shadows: supervisor.splitter.count(h.name),
          restarts: h.restarts,
          state_bytes: JSON.stringify(snapshot).length,
        };
      }));
      return json({ agents });
    }],
    ["POST", /^\/v1\/agents$/, "admin", async (req) => {
      const body = await readJson(req, bodyBytesMax);
      if (!isRecord(body) || typeof body.name !== "string" || typeof body.source !== "string") {
        throw new SupervisorError(
          "INVALID_INPUT",
          "Cannot register agent: body needs 'name' and 'source' strings",
        );
      }
      if (body.source.length > AGENT_SOURCE_CHARS_MAX) {
        throw new SupervisorError(
          "BODY_TOO_LARGE",
          `Cannot register agent: source exceeds ${AGENT_SOURCE_CHARS_MAX} chars`,
        );
      }
      const host = await supervisor.register(body.source, "api", body.name);
      return json({ name: host.name, version: host.version, status: host.status }, 201);
    }],
    ["POST", /^\/v1\/agents\/([^/]+)\/invoke$/, "invoke", async (req, [name], requestId) => {
      const host = supervisor.get(name);
      const idempotencyKey = headerId(req, "idempotency-key");
      const body = await readJson(req, bodyBytesMax);
      if (!isRecord(body) || !("input" in body)) {
        throw new SupervisorError("INVALID_INPUT", "Cannot invoke: body needs an 'input' field");
      }
      const attributes = { "o.agent": name, "o.request_id": requestId };
      const started = performance.now();
      let answer;
      try {
        answer = await withSpan("o.invoke", attributes, async (span) => {
          const answer = await host.invoke(body.input, { requestId, idempotencyKey });
          span.setAttributes({ "o.version": answer.version, "o.seq": answer.seq });
          return answer;
        });
      } catch (e) {
        if (e instanceof OError && CODE_FAILURES.has(e.code)) {
          // Failures of the agent's code, with the input: auto-fix groups them by error and input shape.
          const ms = performance.now() - started;
          const entry = { request_id: requestId, seq: host.seq, version: host.version, ok: false, ms };
          supervisor.answers.record(name, { ...entry, input: body.input, code: e.code, error: e.message });
          const sample = keepable(body.input, LOG_INPUT_CHARS_MAX);
          if (mayLogFailure(name)) {
            log.warn("invoke failed", {
              agent: name,
              version: host.version,
              request_id: requestId,
              code: e.code,
              error: e.message,
              input: sample.value,
              input_kept: sample.kept,
            });
          }
        }
        throw e;
      }
      const { output, version, seq } = answer;
      const ms = performance.now() - started;
      supervisor.answers.record(name, {
        request_id: requestId,
        seq,
        version,
        input: body.input,
        output,
        ok: true,
        ms,
      });
      return json({ output, version, seq });
    }],
    ["GET", /^\/v1\/agents\/([^/]+)\/state$/, "read", async (_req, [name]) => {
      const host = supervisor.get(name);
      const { snapshot, seq } = await host.durableState();
      return json({ agent: name, version: host.version, seq, state: snapshot.state });
    }],
    [
      "POST",
      /^\/v1\/agents\/([^/]+)\/checkpoint$/,
      "admin",
      async (_req, [name]) => json(await supervisor.get(name).checkpoint()),
    ],
    ["GET", /^\/v1\/agents\/([^/]+)\/health$/, "read", (_req, [name]) => {
      const host = supervisor.get(name);
      const series = supervisor.monitor.snapshot(name);
      const comparisons = series.filter((s) => s.role === "shadow").map((s) => ({
        shadow: s.version,
        ...supervisor.monitor.compare(name, host.version, s.version),
      }));
      return json({ agent: name, live: host.version, status: host.status, series, comparisons });
    }],
  ];
}

/** Candidates, lineage, rollback, feedback: the protected path. */
function evolutionRoutes(ctx: RouteContext): RouteSpec[] {
  const { supervisor, bodyBytesMax } = ctx;
  return [
    ["POST", /^\/v1\/agents\/([^/]+)\/candidates$/, "submit", async (req, [name]) => {
      const body = await readJson(req, bodyBytesMax);
      if (!isRecord(body) || typeof body.source !== "string") {
        throw new SupervisorError("INVALID_INPUT", "Cannot queue candidate: body needs a 'source' string");
      }
      if (body.source.length > AGENT_SOURCE_CHARS_MAX) {
        throw new SupervisorError(
          "BODY_TOO_LARGE",
          `Cannot queue candidate: source exceeds ${AGENT_SOURCE_CHARS_MAX} chars`,
        );
      }
      const operator = body.operator ?? "submitted";
      if (typeof operator !== "string" || !CANDIDATE_OPERATORS.includes(operator)) {
        throw new SupervisorError(
          "INVALID_INPUT",
          `Cannot queue candidate: 'operator' must be one of ${CANDIDATE_OPERATORS.join(", ")}`,
        );
      }
      const record = await supervisor.candidates.submit(name, body.source, operator);
      return json({ id: record.id, status: record.status, version: record.version }, 202);
    }],
    ["GET", /^\/v1\/agents\/([^/]+)\/candidates$/, "read", (_req, [name]) => {
      supervisor.get(name);
      return json({ agent: name, candidates: supervisor.candidates.list(name) });
    }],
    ["GET", /^\/v1\/agents\/([^/]+)\/candidates\/([^/]+)$/, "read", (_req, [name, id]) => {
      supervisor.get(name);
      return json(supervisor.candidates.get(name, id));
    }],
    ["GET", /^\/v1\/agents\/([^/]+)\/lineage$/, "read", async (req, [name]) => {
      const host = supervisor.get(name);
      const withSource = new URL(req.url).searchParams.get("source") === "1";
      const versions = (await supervisor.lineage.list(name)).map(({ source, ...rest }) => ({
        ...rest,
        source_chars: source.length,
        ...(withSource ? { source } : {}),
        live: rest.version === host.version,
      }));
      return json({ agent: name, live: host.version, versions });
    }],
    ["POST", /^\/v1\/agents\/([^/]+)\/rollback$/, "admin", async (req, [name]) => {
      const body = await readJson(req, bodyBytesMax);
      if (!isRecord(body) || typeof body.version !== "string") {
        throw new SupervisorError("INVALID_INPUT", "Cannot roll back: body needs a 'version' string");
      }
      return json(await supervisor.rollback(name, body.version));
    }],
    ["POST", /^\/v1\/agents\/([^/]+)\/feedback$/, "submit", async (req, [name]) => {
      supervisor.get(name);
      return json(await supervisor.feedback(name, await readJson(req, bodyBytesMax)), 201);
    }],
  ];
}

/** Scheduled jobs, evolution runs, the DSL, regression sets. */
function jobRoutes(ctx: RouteContext): RouteSpec[] {
  const { supervisor, jobRunner, bodyBytesMax } = ctx;
  return [
    ["GET", /^\/v1\/jobs$/, "read", () => json({ jobs: jobRunner().list() })],
    [
      "POST",
      /^\/v1\/jobs$/,
      "admin",
      async (req) => json(await jobRunner().create(await readJson(req, bodyBytesMax)), 201),
    ],
    ["GET", /^\/v1\/jobs\/([^/]+)$/, "read", (_req, [id]) => json(jobRunner().get(id))],
    ["DELETE", /^\/v1\/jobs\/([^/]+)$/, "admin", async (_req, [id]) => json(await jobRunner().cancel(id))],
    ["GET", /^\/v1\/agents\/([^/]+)\/evolution$/, "read", async (_req, [name]) => {
      supervisor.get(name);
      return json(await jobRunner().evolutionRuns(name));
    }],
    ["GET", /^\/v1\/dsl$/, "read", async () => {
      const agents = [...supervisor.hosts.values()].map((h) => ({ name: h.name, source: h.source }));
      return json(introspectDsl(await dslSource(), BUILTIN_TOOLS, agents));
    }],
    ["GET", /^\/v1\/agents\/([^/]+)\/regressions$/, "read", async (_req, [name]) => {
      supervisor.get(name);
      return json({ agent: name, cases: await jobRunner().regressions.list(name) });
    }],
  ];
}

/**
 * Builds the server's fetch handler.
 *
 * @returns A handler for `Deno.serve`.
 */
export function createHandler(options: HandlerOptions): (req: Request) => Promise<Response> {
  const { supervisor, metrics, log } = options;
  const bodyBytesMax = options.bodyBytesMax ?? HTTP_BODY_BYTES_MAX;
  const inflightMax = options.inflightMax ?? INFLIGHT_REQUESTS_MAX;
  let inflight = 0;
  const failureLines = new Map<string, { second: number; lines: number }>();
  const mayLogFailure = (agent: string): boolean => {
    const second = Math.floor(Date.now() / 1000);
    const seen = failureLines.get(agent);
    if (seen === undefined || seen.second !== second) {
      failureLines.set(agent, { second, lines: 1 });
      return true;
    }
    return ++seen.lines <= FAILURE_LOG_LINES_PER_S_MAX;
  };

  function jobRunner(): JobRunner {
    if (options.jobs === undefined) {
      throw new SupervisorError("NOT_IMPLEMENTED", "Cannot use jobs: no job runner");
    }
    return options.jobs;
  }

  const ctx: RouteContext = { options, supervisor, metrics, log, bodyBytesMax, mayLogFailure, jobRunner };
  const routes = [...coreRoutes(ctx), ...evolutionRoutes(ctx), ...jobRoutes(ctx)];

  async function route(
    req: Request,
    url: URL,
    requestId: string,
  ): Promise<{ response: Response; route: string }> {
    let pathMatched = false;
    if (url.pathname === "/v1" || url.pathname.startsWith("/v1/")) {
      // Authenticate before routing, so an unknown path answers 401 too and leaks nothing.
      await options.auth?.check(req.headers.get("authorization"), null);
    }
    for (const [method, pattern, scope, handler] of routes) {
      const m = pattern.exec(url.pathname);
      if (m === null) continue;
      pathMatched = true;
      if (req.method !== method && !(method === "GET" && req.method === "HEAD")) continue;
      const principal = scope === null
        ? null
        : await options.auth?.check(req.headers.get("authorization"), scope);
      if (principal && scope === "admin") {
        log.info("admin action", {
          audit: true,
          token: principal.name,
          method: req.method,
          path: url.pathname,
          request_id: requestId,
        });
      }
      const params = m.slice(1).map((p) => decodeURIComponent(p));
      return { response: await handler(req, params, requestId), route: pattern.source };
    }
    if (pathMatched) {
      return {
        response: errorResponse("METHOD_NOT_ALLOWED", `Cannot ${req.method} ${url.pathname}`),
        route: "405",
      };
    }
    return { response: errorResponse("NOT_FOUND", `Cannot find ${url.pathname}`), route: "404" };
  }

  return async function handle(req: Request): Promise<Response> {
    let requestId: string;
    try {
      requestId = headerId(req, "x-request-id") ?? crypto.randomUUID();
    } catch (e) {
      return errorResponse("BAD_REQUEST", (e as Error).message);
    }
    if (inflight >= inflightMax) {
      metrics.httpRequests.inc({ route: "overload", status: "503" });
      const r = errorResponse("OVERLOADED", `Cannot serve: ${inflightMax} requests in flight`);
      r.headers.set("retry-after", "1");
      return r;
    }
    inflight++;
    const started = performance.now();
    let response: Response;
    let routeName = "error";
    let url: URL | undefined;
    try {
      url = new URL(req.url);
      ({ response, route: routeName } = await route(req, url, requestId));
    } catch (e) {
      response = toErrorResponse(e, log, requestId);
    } finally {
      inflight--;
    }
    response.headers.set("x-request-id", requestId);
    metrics.httpRequests.inc({ route: routeName, status: String(response.status) });
    if (routeName !== "^\\/metrics$" && routeName !== "^\\/health$") {
      const path = url?.pathname ?? req.url;
      const agent = /^\/v1\/agents\/([^/]+)/.exec(path)?.[1];
      log.info("request", {
        request_id: requestId,
        method: req.method,
        path,
        status: response.status,
        ms: Math.round((performance.now() - started) * 100) / 100,
        agent: agent === undefined ? undefined : decodeURIComponent(agent),
      });
    }
    return response;
  };
}

function toErrorResponse(e: unknown, log: Logger, requestId: string): Response {
  if (e instanceof OError) {
    const status = httpStatusOf(e.code);
    if (status >= 500) log.warn("request failed", { request_id: requestId, code: e.code, error: e.message });
    return errorResponse(e.code, e.message, status);
  }
  log.error("unhandled error in request", { request_id: requestId, error: e });
  return errorResponse("INTERNAL", "Internal error");
}
