/**
 * Every bound of the vault, in one place. Each names its unit and says what happens at the bound.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

/** Bytes of one WAL record's header: u32 payload length, u32 CRC32C, u64 seq. */
export const WAL_RECORD_HEADER_BYTES = 16;
/** Largest WAL record payload; a larger append rejects with `WAL_RECORD_TOO_LARGE`. */
export const WAL_RECORD_BYTES_MAX = 4 * MIB;
/** A segment rotates once the next batch would take it past this size, so one segment replays fast. */
export const WAL_SEGMENT_BYTES_MAX = 64 * MIB;
/** The smallest segment size a caller may configure (tests use tiny segments to exercise rotation). */
export const WAL_SEGMENT_BYTES_MIN = 4 * KIB;
/** Most records written and synced together in one group commit. */
export const WAL_BATCH_RECORDS_MAX = 1024;
/** Most payload bytes in one group commit; a single larger record still goes alone. */
export const WAL_BATCH_BYTES_MAX = 8 * MIB;
/** Longest a batch leader may wait for more appends before writing (0, the default, waits for none). */
export const WAL_BATCH_WAIT_MS_MAX = 10;
/** Most appends queued and not yet durable; past it, appends reject with `VAULT_OVERLOADED`. */
export const WAL_QUEUE_RECORDS_MAX = 65_536;
/** Attempts to truncate back to the last durable offset after a failed write or sync, before poisoning. */
export const WAL_ROLLBACK_ATTEMPTS_MAX = 3;
/** Digits in a segment's file name (its first seq, zero-padded); 20 hold any u64. */
export const WAL_SEGMENT_NAME_DIGITS = 20;
/** Most segment files one WAL directory may hold; opening more fails with `VAULT_LIMIT`. */
export const WAL_SEGMENTS_MAX = 100_000;
/**
 * A segment is deleted only once, for every agent with records in it, the older of that agent's two newest
 * checkpoints covers those records, so a restore can always fall back one checkpoint.
 */
export const WAL_KEEP_CHECKPOINTS = 2;

/** Idempotency keys remembered per agent; the oldest is dropped past it. */
export const IDEMPOTENCY_KEYS_MAX = 10_000;
/** Longest idempotency key; a longer one rejects the append with `VAULT_ENTRY_INVALID`. */
export const IDEMPOTENCY_KEY_CHARS_MAX = 256;
/** Transitions kept per agent for `ctx.history`; the oldest is dropped past it. */
export const HISTORY_ENTRIES_MAX = 32;
/** Agents one vault tracks; an append for one more rejects with `VAULT_LIMIT`. */
export const AGENTS_MAX = 100_000;
/** Longest agent name or version string in a WAL entry. */
export const ENTRY_NAME_CHARS_MAX = 128;

/** Bytes of a checkpoint blob's header (magic, version, flags, CRC32C, lengths). */
export const CHECKPOINT_HEADER_BYTES = 20;
/** Largest uncompressed checkpoint body; a larger snapshot rejects with `CHECKPOINT_TOO_LARGE`. */
export const CHECKPOINT_RAW_BYTES_MAX = 512 * MIB;
/** Incremental checkpoints taken against one full checkpoint before the next is full again. */
export const CHECKPOINT_INCREMENTS_MAX = 8;
/** Newest checkpoints kept per agent (plus the full checkpoints they are based on); older ones are deleted. */
export const CHECKPOINTS_KEPT_MAX = 3;
/** An incremental checkpoint is written only while its delta is smaller than this share of its base. */
export const CHECKPOINT_DELTA_RATIO_MAX = 0.5;
/** zstd level for checkpoint bodies: fast, since checkpoints sit on the request path's neighbourhood. */
export const CHECKPOINT_ZSTD_LEVEL = 3;
/** Checkpoints considered per agent on restore, newest first. */
export const CHECKPOINTS_LISTED_MAX = 64;

/** Recent latency and size samples kept for `stats()`; the oldest is dropped past it. */
export const STATS_SAMPLES_MAX = 1024;

/** Longest key-value namespace. */
export const KV_NS_CHARS_MAX = 128;
/** Longest key-value key. */
export const KV_KEY_CHARS_MAX = 512;
/** Largest encoded key-value value; a larger one rejects with `VAULT_LIMIT`. */
export const KV_VALUE_BYTES_MAX = 16 * MIB;
/** Most rows one `kvList` returns. */
export const KV_LIST_ROWS_MAX = 10_000;

/** Bytes of an AES-256 key. */
export const KEY_BYTES = 32;
/** Most keys one key file may hold (newest first). */
export const KEYS_PER_FILE_MAX = 16;
/** Largest key file read. */
export const KEY_FILE_BYTES_MAX = 16 * KIB;
/** Bytes of an AES-GCM nonce. */
export const GCM_IV_BYTES = 12;

assert(WAL_RECORD_BYTES_MAX * 16 <= WAL_SEGMENT_BYTES_MAX, "A segment must hold many records");
assert(WAL_BATCH_BYTES_MAX <= WAL_SEGMENT_BYTES_MAX, "A batch must fit in one segment");
assert(WAL_RECORD_BYTES_MAX <= WAL_BATCH_BYTES_MAX, "A batch must hold the largest record");
assert(WAL_SEGMENT_BYTES_MIN <= WAL_SEGMENT_BYTES_MAX, "The segment size range must not be empty");
assert(WAL_SEGMENT_BYTES_MAX < 2 ** 32, "Offsets inside a segment must fit a u32");
assert(WAL_QUEUE_RECORDS_MAX >= WAL_BATCH_RECORDS_MAX, "The queue must hold a whole batch");
assert(WAL_KEEP_CHECKPOINTS <= CHECKPOINTS_KEPT_MAX, "The WAL cannot outlive the checkpoints that need it");
assert(CHECKPOINTS_KEPT_MAX <= CHECKPOINTS_LISTED_MAX, "Restore must see every kept checkpoint");
assert(KEY_BYTES === 32, "AES-256 takes 32-byte keys");
