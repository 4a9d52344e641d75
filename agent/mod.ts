/**
 * The agent SDK, imported by agent sources as `@o/agent`: the DSL (`defineAgent`, `defineTool`, `when`),
 * the handler context type and the memory block store.
 *
 * @example
 * ```ts
 * import { defineAgent, when } from "./mod.ts";
 * import { strictEqual } from "node:assert";
 * const agent = defineAgent({
 *   name: "simple-assistant",
 *   version: "1.0.0",
 *   tools: ["echo"],
 *   handle: (ctx) => when(ctx.hasTool("echo"), () => ctx.tools.echo(ctx.arg("message"))),
 * });
 * strictEqual(agent.version, "1.0.0");
 * ```
 *
 * @module
 */
export {
  type AgentDefinition,
  type AgentSpec,
  type Context,
  defineAgent,
  defineTool,
  type EvalCase,
  type ToolDefinition,
  type ToolFunction,
  when,
} from "./dsl.ts";
export { MemoryStore, type PutOptions } from "./memory.ts";
export { HISTORY_ENTRIES_MAX } from "./limits.ts";
