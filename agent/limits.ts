/**
 * Bounds of the agent runtime inside a sandbox.
 *
 * @module
 */
import { assert, HISTORY_ENTRIES_MAX } from "../protocol/mod.ts";

export { HISTORY_ENTRIES_MAX } from "../protocol/mod.ts";
/** Most memory blocks one agent may hold; `memory.put` past it throws `MEMORY_FULL`. */
export const MEMORY_BLOCKS_MAX = 10_000;
/** Largest memory block, in UTF-16 characters. */
export const MEMORY_BLOCK_CHARS_MAX = 1024 * 1024;
/** Most tool calls one invoke may make. */
export const TOOL_CALLS_PER_INVOKE_MAX = 1_000;
/** Most log frames one invoke may send; later ones are dropped. */
export const LOGS_PER_INVOKE_MAX = 100;

assert(HISTORY_ENTRIES_MAX > 0, "History must keep at least one entry");
