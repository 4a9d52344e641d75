/**
 * The agent DSL: `defineAgent`, `defineTool`, `when`, and the types an agent author sees.
 *
 * @module
 */
import type { HistoryEntry } from "../protocol/mod.ts";
import type { MemoryStore } from "./memory.ts";

/** A tool the agent can call as `ctx.tools.NAME(...args)`. */
export type ToolFunction = (...args: unknown[]) => Promise<unknown>;

/** What a handler sees of one invoke. */
export interface Context<S extends Record<string, unknown> = Record<string, unknown>> {
  /** The invoke's `input`, as sent. */
  readonly input: unknown;
  /** A field of the input when it is an object (`undefined` otherwise). */
  arg(name: string): unknown;
  /** Durable state: mutate it freely; the changes are logged before the answer is sent. */
  state: S;
  /** Durable memory blocks. */
  readonly memory: MemoryStore;
  /** Recent transitions, oldest first (bounded). */
  readonly history: readonly HistoryEntry[];
  /** Whether the agent may call the tool `name`. */
  hasTool(name: string): boolean;
  /** The agent's tools: built-ins are brokered by the supervisor, `defineTool` ones run here. */
  readonly tools: Record<string, ToolFunction>;
  /** Logs a line in the supervisor's log, tagged with the request id. */
  log(msg: string, fields?: Record<string, unknown>): void;
  /** The request id of this invoke. */
  readonly requestId: string;
}

/** An eval case: deep equality with `expect`, or a `score` function (higher is better). */
export interface EvalCase {
  input: unknown;
  expect?: unknown;
  score?: (output: unknown, input: unknown) => number;
  /** Relative weight in the mean score. @default 1 */
  weight?: number;
  /** A failing critical case rejects a candidate outright. @default false */
  critical?: boolean;
}

/** A tool defined in the agent's own code; it runs inside the sandbox with no capability. */
export interface ToolDefinition {
  readonly kind: "tool";
  readonly name: string;
  readonly doc: string;
  readonly run: (...args: unknown[]) => unknown;
}

/** What an agent module declares. */
export interface AgentSpec<S extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  version: string;
  doc?: string;
  /** Built-in tool names (brokered) and `defineTool` tools. @default [] */
  tools?: (string | ToolDefinition)[];
  /** The initial state of a new agent. @default () => ({}) */
  init?: () => S;
  handle: (ctx: Context<S>) => unknown;
  evals?: EvalCase[];
  /** What the evolution engine may change. */
  evolve?: { targets?: string[] };
}

/** A validated agent definition, as `defineAgent` returns it. */
export interface AgentDefinition<S extends Record<string, unknown> = Record<string, unknown>>
  extends AgentSpec<S> {
  readonly kind: "agent";
  readonly doc: string;
  readonly tools: (string | ToolDefinition)[];
  readonly evals: EvalCase[];
}

const NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
const VERSION_PATTERN = /^[0-9A-Za-z.+_-]{1,64}$/;

/**
 * Declares an agent. Checks the declaration up front so a bad module fails at load, not at its first call.
 *
 * @param spec The agent's declaration.
 * @returns The definition; `export default` it.
 * @throws {TypeError} When a field has the wrong type or a name is malformed.
 * @example A one-line echo agent
 * ```ts
 * import { defineAgent } from "./dsl.ts";
 * import { strictEqual } from "node:assert";
 * const agent = defineAgent({ name: "echoer", version: "1.0.0", handle: (ctx) => ctx.input });
 * strictEqual(agent.name, "echoer");
 * ```
 */
export function defineAgent<S extends Record<string, unknown> = Record<string, unknown>>(
  spec: AgentSpec<S>,
): AgentDefinition<S> {
  if (typeof spec !== "object" || spec === null) {
    throw new TypeError("Cannot define agent: spec must be an object");
  }
  if (typeof spec.name !== "string" || !NAME_PATTERN.test(spec.name)) {
    throw new TypeError(
      `Cannot define agent: name must match ${NAME_PATTERN}: current value is ${spec.name}`,
    );
  }
  if (typeof spec.version !== "string" || !VERSION_PATTERN.test(spec.version)) {
    throw new TypeError(
      `Cannot define agent '${spec.name}': version is malformed: current value is ${spec.version}`,
    );
  }
  if (typeof spec.handle !== "function") {
    throw new TypeError(`Cannot define agent '${spec.name}': handle must be a function`);
  }
  if (spec.init !== undefined && typeof spec.init !== "function") {
    throw new TypeError(`Cannot define agent '${spec.name}': init must be a function`);
  }
  const tools = spec.tools ?? [];
  if (!Array.isArray(tools)) throw new TypeError(`Cannot define agent '${spec.name}': tools must be a list`);
  for (const tool of tools) {
    if (typeof tool !== "string" && tool?.kind !== "tool") {
      throw new TypeError(
        `Cannot define agent '${spec.name}': each tool must be a name or a defineTool() result`,
      );
    }
  }
  const evals = spec.evals ?? [];
  if (!Array.isArray(evals)) throw new TypeError(`Cannot define agent '${spec.name}': evals must be a list`);
  evals.forEach((c, i) => checkEvalCase(spec.name, c, i));
  return Object.freeze({ ...spec, kind: "agent" as const, doc: spec.doc ?? "", tools, evals });
}

function checkEvalCase(agent: string, c: EvalCase, i: number): void {
  if (typeof c !== "object" || c === null || !("input" in c)) {
    throw new TypeError(`Cannot define agent '${agent}': eval ${i} needs an input`);
  }
  if (!("expect" in c) && typeof c.score !== "function") {
    throw new TypeError(`Cannot define agent '${agent}': eval ${i} needs 'expect' or a 'score' function`);
  }
}

/**
 * Declares a tool written in the agent's own code. It runs inside the sandbox, so it has no capability
 * beyond computing; side effects go through built-in tools.
 *
 * @param spec The tool's name, doc and function.
 * @returns The tool definition, to list in an agent's `tools`.
 */
export function defineTool(
  spec: { name: string; doc?: string; run: (...args: unknown[]) => unknown },
): ToolDefinition {
  if (typeof spec?.name !== "string" || !NAME_PATTERN.test(spec.name)) {
    throw new TypeError(`Cannot define tool: name must match ${NAME_PATTERN}`);
  }
  if (typeof spec.run !== "function") {
    throw new TypeError(`Cannot define tool '${spec.name}': run must be a function`);
  }
  return Object.freeze({ kind: "tool" as const, name: spec.name, doc: spec.doc ?? "", run: spec.run });
}

/**
 * A conditional combinator: `then()` when `condition` holds, else `otherwise()` (or `undefined`).
 *
 * @returns What the chosen branch returns.
 */
export function when<T, U = undefined>(
  condition: unknown,
  then: () => T,
  otherwise?: () => U,
): T | U | undefined {
  return condition ? then() : otherwise?.();
}
