/**
 * The supervisor ↔ sandbox protocol: length-prefixed msgpack frames, message schemas and their
 * validation, state deltas, and the shared error and assertion helpers every folder uses.
 *
 * @example Encode and decode a frame
 * ```ts
 * import { encodeFrame, FrameDecoder } from "./mod.ts";
 * import { deepStrictEqual } from "node:assert";
 * const frames = new FrameDecoder().push(encodeFrame({ t: "ping", n: 1 }));
 * deepStrictEqual(frames, [{ t: "ping", n: 1 }]);
 * ```
 *
 * @module
 */
export { assert, AssertionError, unreachable } from "./assert.ts";
export { FrameError, OError, ToolError } from "./errors.ts";
export { decode, encode, EncodeError } from "./msgpack.ts";
export { encodeFrame, FrameDecoder } from "./frame.ts";
export { applyDelta, deepEqual, type DeltaOp, diff, type PathKey, validateDelta } from "./delta.ts";
export {
  type AgentInfo,
  type ErrorBody,
  type HistoryEntry,
  type LogLevel,
  type MemoryBlock,
  type SandboxMessage,
  type Snapshot,
  type SupervisorMessage,
  validateSandboxMessage,
  validateSupervisorMessage,
} from "./messages.ts";
export * from "./limits.ts";
