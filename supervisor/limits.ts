/**
 * Bounds of the supervisor: timeouts, restart intensity, queues and HTTP limits.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";

/** Longest an invoke may run in its sandbox before the sandbox is killed and the caller gets 504. */
export const INVOKE_TIMEOUT_MS = 10_000;
/** Interval between pings to an idle sandbox. */
export const HEARTBEAT_INTERVAL_MS = 1_000;
/** An idle sandbox that has not answered a ping for this long is declared crashed. */
export const HEARTBEAT_TIMEOUT_MS = 3_000;
/** Longest a sandbox may take from spawn to `ready`. */
export const SANDBOX_START_TIMEOUT_MS = 10_000;
/** At most this many restarts of one agent within `RESTART_PERIOD_MS`; one more marks it failed. */
export const RESTARTS_MAX = 5;
/** The window of the restart intensity. */
export const RESTART_PERIOD_MS = 10_000;
/** Invokes of one agent waiting or in flight; one more is refused with 429. */
export const AGENT_QUEUE_MAX = 512;
/** Longest a request waits for a restarting sandbox before it gets 503. */
export const RESTART_WAIT_MS = 5_000;
/** HTTP requests in flight across the server; one more is refused with 503. */
export const INFLIGHT_REQUESTS_MAX = 4_096;
/** Largest HTTP request body, bytes (413 above). */
export const HTTP_BODY_BYTES_MAX = 1024 * 1024;
/** Largest agent source accepted over HTTP, in characters. */
export const AGENT_SOURCE_CHARS_MAX = 512 * 1024;
/** After SIGTERM: time allowed for draining before sandboxes are killed and the process exits. */
export const SHUTDOWN_GRACE_MS = 3_000;
/** Longest `X-Request-Id` / `Idempotency-Key` header accepted, in characters. */
export const HEADER_ID_CHARS_MAX = 128;
/** Records of one agent between automatic checkpoints. */
export const CHECKPOINT_EVERY_RECORDS = 10_000;
/** Time between automatic checkpoints of an agent that changed. */
export const CHECKPOINT_EVERY_MS = 60_000;
/** How often the supervisor looks for agents due a checkpoint. */
export const CHECKPOINT_CHECK_MS = 1_000;

assert(HEARTBEAT_TIMEOUT_MS > HEARTBEAT_INTERVAL_MS * 2, "A heartbeat deadline must allow a missed ping");
assert(SHUTDOWN_GRACE_MS < 5_000, "SIGTERM must end the process within 5 s");
assert(RESTART_WAIT_MS < INVOKE_TIMEOUT_MS, "Waiting for a restart must not outlast an invoke");
