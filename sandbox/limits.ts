/**
 * Bounds of the sandbox layer: defaults of `sandbox run`, the jail's resources, the watchdog's sampling,
 * the warm pool and the admission controller. Every bound has its unit last (`_MS`, `_MB`, `_BYTES`).
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";

/** `sandbox run --timeout-ms` default: wall time for loading, top level and default export together. */
export const RUN_TIMEOUT_MS_DEFAULT = 5_000;
/** Longest `--timeout-ms` accepted; longer work belongs in a long-lived agent sandbox. */
export const RUN_TIMEOUT_MS_MAX = 10 * 60 * 1000;
/** `sandbox run --memory-mb` default: the code's whole process tree. */
export const RUN_MEMORY_MB_DEFAULT = 256;
/** Smallest memory bound accepted: Deno itself needs ~30 MiB resident to start. */
export const MEMORY_MB_MIN = 48;
/** Largest memory bound accepted for one sandbox. */
export const MEMORY_MB_MAX = 16 * 1024;
/** stdout and stderr bytes together that `sandbox run` reads before it kills for `output`. */
export const RUN_OUTPUT_BYTES_MAX = 1024 * 1024;
/** Private temp disk of one sandbox (a size-capped tmpfs in the jail), MiB. */
export const TMP_MB_DEFAULT = 64;
/** Open file descriptors of one sandbox (RLIMIT_NOFILE). */
export const FILES_MAX_DEFAULT = 256;
/**
 * Tasks (processes and threads) of one sandbox. Deno itself runs ~10–20 threads (tokio, V8 platform);
 * every Worker adds more, so this bound is what stops a worker bomb before memory does.
 */
export const PROCESSES_MAX_DEFAULT = 64;
/**
 * Threads the runtime itself may start per CPU core (V8's platform pool, tokio's blocking pool), added to
 * the tasks bound so a many-core host does not kill Deno at start; the code's own workers count against
 * `processes`.
 */
export const RUNTIME_TASKS_PER_CORE = 2;
/** Bytes of stderr a sandbox keeps for `stderrTail()`. */
export const STDERR_TAIL_BYTES_MAX = 64 * 1024;
/**
 * CPU seconds granted per second of wall time in `sandbox run`: two cores can burn two CPU seconds per
 * wall second, so the wall limit fires first and the CPU limit is the backstop.
 */
export const RUN_CPU_S_PER_WALL_S = 2;

/**
 * Scheduling niceness of every sandbox: sandboxed code shares the CPU with the supervisor, whose timers
 * (wall kills, heartbeats) and live requests must win when cores are scarce.
 */
export const SANDBOX_NICE = 10;
/** How often the RSS watchdog samples a sandbox's process tree when no memory cgroup is writable. */
export const WATCHDOG_SAMPLE_MS = 5;
/** How long a kill may take before the sandbox layer reports a leftover process (a bug). */
export const KILL_REAP_MS_MAX = 2_000;
/** How often the cgroup is polled for stragglers after the main process is reaped. */
export const REAP_POLL_MS = 2;

/** Largest warm pool for one spec shape. */
export const WARM_POOL_SIZE_MAX = 32;
/**
 * How long a take waits before the pool spawns its replacement: a spawn blocks the supervisor's event loop
 * for a few ms and its start burns CPU, so it waits until the taker's first exchange is done.
 */
export const WARM_POOL_REFILL_DELAY_MS = 25;
/** Sandboxes the admission controller lets run at once, by default. */
export const QUOTA_CONCURRENT_DEFAULT = 16;
/** Largest number of sandboxes the admission controller can be configured to run at once. */
export const QUOTA_CONCURRENT_MAX = 256;
/** Callers waiting for a sandbox slot, by default; one more is refused with `SANDBOX_QUEUE_FULL`. */
export const QUOTA_QUEUE_DEFAULT = 64;
/** Total memory of all admitted sandboxes together, MiB, by default. */
export const QUOTA_MEMORY_TOTAL_MB_DEFAULT = 4096;

/** Largest source the pre-filter parses. */
export const PREFILTER_SOURCE_BYTES_MAX = 1024 * 1024;
/** Most violations the pre-filter reports for one source (the rest are dropped). */
export const PREFILTER_VIOLATIONS_MAX = 100;

assert(RUN_TIMEOUT_MS_DEFAULT <= RUN_TIMEOUT_MS_MAX, "The default timeout must be allowed");
assert(MEMORY_MB_MIN <= RUN_MEMORY_MB_DEFAULT, "The default memory bound must be allowed");
assert(RUN_MEMORY_MB_DEFAULT <= MEMORY_MB_MAX, "The default memory bound must be allowed");
assert(TMP_MB_DEFAULT * 2 <= RUN_MEMORY_MB_DEFAULT, "The tmpfs is charged to the memory bound");
assert(WATCHDOG_SAMPLE_MS * 10 <= 100, "The watchdog must sample many times within a 100 ms margin");
assert(QUOTA_CONCURRENT_DEFAULT <= QUOTA_CONCURRENT_MAX, "The default concurrency must be allowed");

/** How far past its wall limit an audit case may end and still count as contained. */
export const AUDIT_WALL_MARGIN_MS = 100;
/**
 * How far past its memory bound an audit case may peak under the RSS watchdog (a cgroup allows none):
 * the watchdog samples every few ms, and a fast bomb touches memory in between.
 */
export const AUDIT_WATCHDOG_MEMORY_MARGIN_MB = 128;
/** Audit cases run at once (each runs sandboxes; two cores run two busy cases without skewing walls). */
export const AUDIT_CONCURRENCY_DEFAULT = 2;
