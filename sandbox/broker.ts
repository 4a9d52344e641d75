/**
 * The capability broker: the supervisor-side gatekeeper for every tool call a sandbox makes. It checks the
 * call against the agent's grant (tool allowed, argument size, path, host), runs the tool, bounds the
 * answer, and reports every call to an audit sink.
 *
 * @module
 */
import { encode, ToolError } from "../protocol/mod.ts";
import { calculate } from "./tools/calculator.ts";
import { fileRead } from "./tools/file_read.ts";
import { fetchTransport, httpRequest, type HttpTransport } from "./tools/http.ts";
import { checkStatement, NodeSqlEngine, type SqlEngine } from "./tools/sql.ts";

/** Largest encoded arguments of one tool call, in bytes. */
export const TOOL_ARGS_BYTES_MAX = 256 * 1024;
/** Largest encoded answer of one tool call, in bytes. */
export const TOOL_ANSWER_BYTES_MAX = 2 * 1024 * 1024;

/** The built-in tools a grant may name. */
export const BUILTIN_TOOLS = ["echo", "calculator", "file_read", "http", "sql"] as const;

/** What one agent (or one shadow) may do through tools. */
export interface Grant {
  /** Built-in tools the agent may call. */
  tools: readonly string[];
  /** Directory `file_read` may read. */
  fileRoot?: string;
  /** Hosts `http` may reach (`host` or `host:port`). */
  httpAllowHosts?: readonly string[];
  /** The agent's own database file for `sql`. */
  sqlPath?: string;
  /**
   * `live` runs tools for real. `shadow` never causes a side effect: side-effect-free tools run, others
   * answer from `recorded` or fail with `TOOL_SHADOW_NO_RECORD`.
   */
  mode: "live" | "shadow";
  /** Recorded answers for shadows, by `toolKey(name, args)`. */
  recorded?: ReadonlyMap<string, unknown>;
}

/** One audited call. */
export interface ToolAudit {
  agent: string;
  tool: string;
  request_id: string;
  ok: boolean;
  code?: string;
  ms: number;
  mode: "live" | "shadow";
}

/** Tools with no side effect: shadows may run them for real. */
const PURE_TOOLS = new Set(["echo", "calculator", "file_read"]);

/** The key a recorded answer is stored under. */
export function toolKey(name: string, args: unknown): string {
  return name + ":" + JSON.stringify(args);
}

/** Engines behind the side-effecting tools (pure TypeScript by default, Zig modules by configuration). */
export interface BrokerEngines {
  /** @default fetch */
  http?: HttpTransport;
  /** @default node:sqlite */
  sql?: SqlEngine;
  /** Wraps each call, e.g. in a tracing span. @default runs it as is */
  wrap?: <T>(name: string, attributes: Record<string, string>, fn: () => Promise<T>) => Promise<T>;
}

/** Runs brokered tool calls under grants. */
export class Broker {
  readonly #audit: (entry: ToolAudit) => void;
  readonly #http: HttpTransport;
  readonly #sql: SqlEngine;
  readonly #wrap: NonNullable<BrokerEngines["wrap"]>;

  /**
   * @param audit Receives one entry per call, allowed or refused.
   * @param engines The transports of `http` and `sql`.
   */
  constructor(audit: (entry: ToolAudit) => void, engines: BrokerEngines = {}) {
    this.#audit = audit;
    this.#http = engines.http ?? fetchTransport;
    this.#sql = engines.sql ?? new NodeSqlEngine();
    this.#wrap = engines.wrap ?? ((_name, _attributes, fn) => fn());
  }

  /** Closes the engines' handles. */
  async close(): Promise<void> {
    await this.#sql.close();
  }

  /**
   * Checks and runs one call.
   *
   * @returns The tool's answer.
   * @throws {ToolError} `TOOL_NOT_GRANTED`, `TOOL_UNKNOWN`, `TOOL_BAD_ARGS`, `TOOL_ARGS_TOO_LARGE`,
   *   `TOOL_ANSWER_TOO_LARGE`, `TOOL_SHADOW_NO_RECORD`, or the tool's own code.
   */
  call(agent: string, grant: Grant, name: string, args: unknown, requestId: string): Promise<unknown> {
    const attributes = { "o.agent": agent, "o.tool": name, "o.request_id": requestId, "o.mode": grant.mode };
    return this.#wrap("o.tool", attributes, () => this.#call(agent, grant, name, args, requestId));
  }

  async #call(agent: string, grant: Grant, name: string, args: unknown, requestId: string): Promise<unknown> {
    const started = performance.now();
    try {
      const answer = await this.#run(grant, name, args);
      if (encode(answer).length > TOOL_ANSWER_BYTES_MAX) {
        throw new ToolError(
          "TOOL_ANSWER_TOO_LARGE",
          `Cannot answer tool '${name}': exceeds ${TOOL_ANSWER_BYTES_MAX} bytes`,
        );
      }
      this.#audit({
        agent,
        tool: name,
        request_id: requestId,
        ok: true,
        ms: performance.now() - started,
        mode: grant.mode,
      });
      return answer;
    } catch (e) {
      const error = e instanceof ToolError ? e : new ToolError("TOOL_FAILED", `Tool '${name}' failed: ${e}`);
      this.#audit({
        agent,
        tool: name,
        request_id: requestId,
        ok: false,
        code: error.code,
        ms: performance.now() - started,
        mode: grant.mode,
      });
      throw error;
    }
  }

  #run(grant: Grant, name: string, args: unknown): Promise<unknown> | unknown {
    if (!grant.tools.includes(name)) {
      throw new ToolError("TOOL_NOT_GRANTED", `Cannot call tool '${name}': not granted`);
    }
    if (!Array.isArray(args)) {
      throw new ToolError("TOOL_BAD_ARGS", `Cannot call tool '${name}': args must be a list`);
    }
    if (encode(args).length > TOOL_ARGS_BYTES_MAX) {
      throw new ToolError(
        "TOOL_ARGS_TOO_LARGE",
        `Cannot call tool '${name}': args exceed ${TOOL_ARGS_BYTES_MAX} bytes`,
      );
    }
    if (grant.mode === "shadow" && !PURE_TOOLS.has(name)) {
      const key = toolKey(name, args);
      if (grant.recorded?.has(key)) return grant.recorded.get(key);
      throw new ToolError(
        "TOOL_SHADOW_NO_RECORD",
        `Cannot call tool '${name}' in a shadow: no recorded answer`,
      );
    }
    switch (name) {
      case "echo":
        return args[0];
      case "calculator":
        return calculate(args[0]);
      case "file_read":
        return fileRead(grant.fileRoot, args[0]);
      case "http":
        return httpRequest(grant.httpAllowHosts ?? [], args[0], args[1], this.#http);
      case "sql": {
        if (grant.sqlPath === undefined) {
          throw new ToolError("SQL_NO_DATABASE", "Cannot run SQL: this agent has no database");
        }
        const { sql, params } = checkStatement(args[0], args[1]);
        return this.#sql.run(grant.sqlPath, sql, params);
      }
      default:
        throw new ToolError("TOOL_UNKNOWN", `Cannot call tool '${name}': no such tool`);
    }
  }
}
