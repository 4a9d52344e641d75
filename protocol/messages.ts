/**
 * The messages exchanged between the supervisor and a sandbox, and the validation of every incoming one.
 *
 * Supervisor → sandbox: `hello` (code + snapshot), `reset` (a loaded standby takes the current snapshot),
 * `invoke`, `tool_result`, `ping`, `checkpoint_ack`,
 * `shutdown`. Sandbox → supervisor: `ready`, `result`, `tool`, `pong`, `checkpoint`, `log`, `error`.
 * Every sandbox frame carries `k`, the per-spawn secret handed over in `hello`: a frame without it is
 * refused and the sandbox is killed.
 *
 * @module
 */
import { type DeltaOp, validateDelta } from "./delta.ts";
import { FrameError } from "./errors.ts";
import { NAME_CHARS_MAX } from "./limits.ts";

/** An error as carried in frames and HTTP answers. */
export interface ErrorBody {
  code: string;
  message: string;
}

/** One memory block of an agent (see agent/memory.ts). */
export interface MemoryBlock {
  id: string;
  content: string;
  tags: string[];
  created_ms: number;
  accessed_ms: number;
  bytes: number;
}

/** An agent's durable data: its state object and its memory blocks by id. */
export interface Snapshot {
  state: Record<string, unknown>;
  memory: Record<string, MemoryBlock>;
}

/** One past transition, as `ctx.history` shows it. */
export interface HistoryEntry {
  seq: number;
  input: unknown;
  output: unknown;
  time_ms: number;
}

/** What a loaded agent declares about itself. */
export interface AgentInfo {
  name: string;
  version: string;
  doc: string;
  tools: string[];
  evals: number;
}

/** Messages the supervisor sends. */
export type SupervisorMessage =
  | {
    t: "hello";
    secret: string;
    source: string;
    snapshot: Snapshot;
    seq: number;
    history: HistoryEntry[];
    tools: string[];
  }
  | { t: "reset"; snapshot: Snapshot; seq: number; history: HistoryEntry[] }
  | { t: "invoke"; id: number; input: unknown; seq: number; request_id: string }
  | { t: "tool_result"; call: number; ok: boolean; value?: unknown; error?: ErrorBody }
  | { t: "ping"; n: number }
  | { t: "checkpoint_ack"; id: number; checkpoint_id: string; error?: ErrorBody }
  | { t: "shutdown" };

/** Messages a sandbox sends; each carries the spawn secret `k`. */
export type SandboxMessage =
  | { t: "ready"; k: string; agent: AgentInfo; delta: DeltaOp[] }
  | { t: "result"; k: string; id: number; output?: unknown; delta: DeltaOp[]; error?: ErrorBody; ms: number }
  | { t: "tool"; k: string; id: number; call: number; name: string; args: unknown }
  | { t: "pong"; k: string; n: number }
  | { t: "checkpoint"; k: string; id: number }
  | {
    t: "log";
    k: string;
    level: LogLevel;
    msg: string;
    request_id?: string;
    fields?: Record<string, unknown>;
  }
  | { t: "error"; k: string; code: string; message: string };

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const LOG_LEVELS = new Set(["debug", "info", "warn", "error"]);
const MESSAGE_CHARS_MAX = 64 * 1024;

function bad(kind: string, why: string): FrameError {
  return new FrameError("FRAME_INVALID", `Cannot accept ${kind} frame: ${why}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function str(m: Record<string, unknown>, key: string, kind: string, charsMax = NAME_CHARS_MAX): string {
  const v = m[key];
  if (typeof v !== "string") throw bad(kind, `'${key}' must be a string`);
  if (v.length > charsMax) throw bad(kind, `'${key}' has ${v.length} chars, more than ${charsMax}`);
  return v;
}

function uint(m: Record<string, unknown>, key: string, kind: string): number {
  const v = m[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw bad(kind, `'${key}' must be a non-negative integer`);
  }
  return v;
}

function errorBody(v: unknown, kind: string): ErrorBody | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw bad(kind, "'error' must be a map");
  return { code: str(v, "code", kind), message: str(v, "message", kind, MESSAGE_CHARS_MAX) };
}

function agentInfo(v: unknown): AgentInfo {
  if (!isRecord(v)) throw bad("ready", "'agent' must be a map");
  const tools = v.tools;
  if (!Array.isArray(tools) || !tools.every((t) => typeof t === "string" && t.length <= NAME_CHARS_MAX)) {
    throw bad("ready", "'agent.tools' must be a list of names");
  }
  return {
    name: str(v, "name", "ready"),
    version: str(v, "version", "ready"),
    doc: str(v, "doc", "ready", MESSAGE_CHARS_MAX),
    tools: tools as string[],
    evals: uint(v, "evals", "ready"),
  };
}

/**
 * Validates a decoded frame from a sandbox: its shape, field types, sizes and secret.
 *
 * @param value The decoded frame body.
 * @param secret The secret this sandbox was spawned with.
 * @returns The message, typed.
 * @throws {FrameError} `FRAME_INVALID` for a wrong shape, `FRAME_UNAUTHENTICATED` for a wrong secret.
 */
export function validateSandboxMessage(value: unknown, secret: string): SandboxMessage {
  if (!isRecord(value)) throw bad("sandbox", "not a map");
  const t = value.t;
  if (typeof t !== "string") throw bad("sandbox", "'t' must be a string");
  if (value.k !== secret) {
    throw new FrameError(
      "FRAME_UNAUTHENTICATED",
      `Cannot accept ${t.slice(0, 32)} frame: wrong or missing secret`,
    );
  }
  const k = secret;
  switch (t) {
    case "ready":
      return { t, k, agent: agentInfo(value.agent), delta: validateDelta(value.delta ?? []) };
    case "result": {
      const error = errorBody(value.error, t);
      const ms = value.ms;
      if (typeof ms !== "number" || !(ms >= 0)) throw bad(t, "'ms' must be a non-negative number");
      return {
        t,
        k,
        id: uint(value, "id", t),
        output: value.output,
        delta: validateDelta(value.delta),
        error,
        ms,
      };
    }
    case "tool":
      return {
        t,
        k,
        id: uint(value, "id", t),
        call: uint(value, "call", t),
        name: str(value, "name", t),
        args: value.args,
      };
    case "pong":
      return { t, k, n: uint(value, "n", t) };
    case "checkpoint":
      return { t, k, id: uint(value, "id", t) };
    case "log": {
      const level = value.level;
      if (typeof level !== "string" || !LOG_LEVELS.has(level)) throw bad(t, "'level' is not a log level");
      const fields = value.fields;
      if (fields !== undefined && fields !== null && !isRecord(fields)) {
        throw bad(t, "'fields' must be a map");
      }
      const request_id = value.request_id === undefined || value.request_id === null
        ? undefined
        : str(value, "request_id", t);
      return {
        t,
        k,
        level: level as LogLevel,
        msg: str(value, "msg", t, MESSAGE_CHARS_MAX),
        request_id,
        fields: (fields ?? undefined) as Record<string, unknown> | undefined,
      };
    }
    case "error":
      return { t, k, code: str(value, "code", t), message: str(value, "message", t, MESSAGE_CHARS_MAX) };
    default:
      throw bad("sandbox", `unknown type '${t.slice(0, 32)}'`);
  }
}

function snapshot(v: unknown): Snapshot {
  if (!isRecord(v) || !isRecord(v.state) || !isRecord(v.memory)) {
    throw bad("hello", "'snapshot' is malformed");
  }
  return { state: v.state, memory: v.memory as Record<string, MemoryBlock> };
}

/**
 * Validates a decoded frame from the supervisor (the sandbox side's check).
 *
 * @returns The message, typed.
 * @throws {FrameError} `FRAME_INVALID` for a wrong shape.
 */
export function validateSupervisorMessage(value: unknown): SupervisorMessage {
  if (!isRecord(value)) throw bad("supervisor", "not a map");
  const t = value.t;
  switch (t) {
    case "hello": {
      const history = value.history;
      const tools = value.tools;
      if (!Array.isArray(history)) throw bad(t, "'history' must be a list");
      if (!Array.isArray(tools) || !tools.every((x) => typeof x === "string")) {
        throw bad(t, "'tools' must be names");
      }
      return {
        t,
        secret: str(value, "secret", t),
        source: str(value, "source", t, Number.MAX_SAFE_INTEGER),
        snapshot: snapshot(value.snapshot),
        seq: uint(value, "seq", t),
        history: history as HistoryEntry[],
        tools: tools as string[],
      };
    }
    case "reset": {
      if (!Array.isArray(value.history)) throw bad(t, "'history' must be a list");
      return {
        t,
        snapshot: snapshot(value.snapshot),
        seq: uint(value, "seq", t),
        history: value.history as HistoryEntry[],
      };
    }
    case "invoke":
      return {
        t,
        id: uint(value, "id", t),
        input: value.input,
        seq: uint(value, "seq", t),
        request_id: str(value, "request_id", t),
      };
    case "tool_result": {
      if (typeof value.ok !== "boolean") throw bad(t, "'ok' must be a boolean");
      return {
        t,
        call: uint(value, "call", t),
        ok: value.ok,
        value: value.value,
        error: errorBody(value.error, t),
      };
    }
    case "ping":
      return { t, n: uint(value, "n", t) };
    case "checkpoint_ack":
      return {
        t,
        id: uint(value, "id", t),
        checkpoint_id: str(value, "checkpoint_id", t),
        error: errorBody(value.error, t),
      };
    case "shutdown":
      return { t };
    default:
      throw bad("supervisor", `unknown type '${String(t).slice(0, 32)}'`);
  }
}
