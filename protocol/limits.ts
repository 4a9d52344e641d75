/**
 * Bounds of the supervisor ↔ sandbox protocol. Every frame on the wire is checked against these.
 *
 * @module
 */
import { assert } from "./assert.ts";

/** Largest frame body either side accepts. Larger frames end the channel. */
export const FRAME_BYTES_MAX = 32 * 1024 * 1024;
/** Bytes of the big-endian length prefix before each frame body. */
export const FRAME_HEADER_BYTES = 4;
/** Deepest nesting of arrays and maps a msgpack decoder accepts; deeper input is refused, not recursed. */
export const MSGPACK_DEPTH_MAX = 256;
/** Longest string kept in one frame field that names something (agent, tool, code). */
export const NAME_CHARS_MAX = 128;
/** Most entries `ctx.history` keeps (oldest dropped), in the sandbox and in the supervisor. */
export const HISTORY_ENTRIES_MAX = 32;
/** Most operations in one state delta. */
export const DELTA_OPS_MAX = 100_000;

assert(FRAME_BYTES_MAX < 2 ** 32, "A frame length must fit the u32 prefix");
assert(FRAME_BYTES_MAX >= 1024 * 1024, "A frame must hold a 1 MiB HTTP body and its envelope");
