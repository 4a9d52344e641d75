/**
 * Bounds of the Zig module loader, the build and the generator. Every bound has its unit last.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";

/** The only ABI revision the loader accepts (`o_abi_version`). */
export const ABI_VERSION = 1;
/** Reload records kept per module; older ones are dropped first. */
export const RELOAD_HISTORY_MAX = 1_000;
/** Longest time a reload waits for in-flight calls to finish before it gives up (the old version stays). */
export const RELOAD_DRAIN_MS_MAX = 30_000;
/** Calls that may wait behind a reload at once; more are refused with `ZIG_QUEUE_FULL`. */
export const RELOAD_QUEUE_MAX = 100_000;
/** Largest response or state a module may hand back, bytes. */
export const RESPONSE_BYTES_MAX = 256 * 1024 * 1024;
/** Longest `o_version` string read, bytes. */
export const VERSION_BYTES_MAX = 64;
/** Longest wall time of one generated-module compile, ms. */
export const COMPILE_WALL_MS_MAX = 120_000;
/** Memory of one sandboxed compile, MiB (the Zig compiler needs a few hundred). */
export const COMPILE_MEMORY_MB_DEFAULT = 2_048;
/** Compiler diagnostics kept per compile; the rest are counted, not kept. */
export const COMPILE_DIAGNOSTICS_MAX = 50;
/** Elements of one array a generated-kernel comparison sends. */
export const KERNEL_ELEMENTS_MAX = 10_000_000;

assert(RELOAD_HISTORY_MAX > 0, "A reload history must keep at least one record");
assert(VERSION_BYTES_MAX >= 16, "A semver needs room");
assert(COMPILE_MEMORY_MB_DEFAULT >= 512, "The Zig compiler cannot run in less than 512 MiB");
