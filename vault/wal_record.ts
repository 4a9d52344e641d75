/**
 * WAL record framing, pure: `u32 length | u32 CRC32C | u64 seq | payload`, big-endian. The CRC covers the
 * length, the seq and the payload, so a record whose header or body changed fails it.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";
import { crc32c } from "./crc32c.ts";
import { WAL_RECORD_BYTES_MAX, WAL_RECORD_HEADER_BYTES } from "./limits.ts";

/** Why a scan stopped early: `torn` (the bytes end mid-record) or `corrupt` (the bytes are wrong). */
export type RecordProblemKind = "torn" | "corrupt";

/** The first bad record a scan met. */
export interface RecordProblem {
  kind: RecordProblemKind;
  /** Byte offset of the bad record in the scanned bytes. */
  offset: number;
  /** The seq the record should have had. */
  seq: number;
  reason: string;
}

/** One good record, as a view into the scanned bytes. */
export interface ScannedRecord {
  seq: number;
  offset: number;
  /** Header plus payload. */
  bytes: number;
  payload: Uint8Array;
}

/** What {@link scanRecords} found. */
export interface RecordScan {
  records: ScannedRecord[];
  /** Offset just past the last good record: where a repair truncates. */
  end: number;
  problem?: RecordProblem;
}

/**
 * Writes one record into `target` at `at`.
 *
 * @param target A buffer with room for `WAL_RECORD_HEADER_BYTES + payload.length` bytes at `at`.
 * @param at Where the record starts.
 * @param seq The record's seq (a positive safe integer).
 * @param payload The body, at most `WAL_RECORD_BYTES_MAX` bytes.
 * @returns The offset just past the record.
 */
export function writeRecord(target: Uint8Array, at: number, seq: number, payload: Uint8Array): number {
  assert(Number.isSafeInteger(seq) && seq > 0, "A record seq must be a positive safe integer");
  assert(
    payload.length > 0 && payload.length <= WAL_RECORD_BYTES_MAX,
    "A record payload must fit its bounds",
  );
  const view = new DataView(target.buffer, target.byteOffset + at, WAL_RECORD_HEADER_BYTES);
  view.setUint32(0, payload.length);
  view.setBigUint64(8, BigInt(seq));
  target.set(payload, at + WAL_RECORD_HEADER_BYTES);
  view.setUint32(4, recordCrc(target, at, payload.length));
  return at + WAL_RECORD_HEADER_BYTES + payload.length;
}

/**
 * Encodes one record into a fresh buffer.
 *
 * @returns The record's bytes.
 */
export function encodeRecord(seq: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(WAL_RECORD_HEADER_BYTES + payload.length);
  writeRecord(out, 0, seq, payload);
  return out;
}

function recordCrc(bytes: Uint8Array, at: number, payloadBytes: number): number {
  const crc = crc32c(bytes.subarray(at, at + 4));
  return crc32c(bytes.subarray(at + 8, at + WAL_RECORD_HEADER_BYTES + payloadBytes), crc);
}

/**
 * Checks the record at `at` without copying it.
 *
 * @param bytes The segment bytes.
 * @param at Where the record should start.
 * @param seq The seq it must carry.
 * @returns The record, or the problem that stops a scan there.
 */
export function checkRecord(bytes: Uint8Array, at: number, seq: number): ScannedRecord | RecordProblem {
  const left = bytes.length - at;
  if (left < WAL_RECORD_HEADER_BYTES) {
    return { kind: "torn", offset: at, seq, reason: `header cut short (${left} of 16 bytes)` };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, WAL_RECORD_HEADER_BYTES);
  const length = view.getUint32(0);
  const crc = view.getUint32(4);
  if (length === 0 && crc === 0 && view.getBigUint64(8) === 0n) {
    return { kind: "torn", offset: at, seq, reason: "zeroed header (unwritten space)" };
  }
  if (length === 0 || length > WAL_RECORD_BYTES_MAX) {
    return { kind: "corrupt", offset: at, seq, reason: `length ${length} out of bounds` };
  }
  if (WAL_RECORD_HEADER_BYTES + length > left) {
    return { kind: "torn", offset: at, seq, reason: `payload cut short (${left - 16} of ${length} bytes)` };
  }
  if (recordCrc(bytes, at, length) !== crc) {
    return { kind: "corrupt", offset: at, seq, reason: "checksum mismatch" };
  }
  const found = view.getBigUint64(8);
  if (found !== BigInt(seq)) {
    return { kind: "corrupt", offset: at, seq, reason: `seq ${found}, expected ${seq}` };
  }
  const payload = bytes.subarray(at + WAL_RECORD_HEADER_BYTES, at + WAL_RECORD_HEADER_BYTES + length);
  return { seq, offset: at, bytes: WAL_RECORD_HEADER_BYTES + length, payload };
}

/**
 * Scans a segment's bytes from the start, stopping at the first torn or corrupt record.
 *
 * @param bytes The whole segment.
 * @param firstSeq The seq the first record must carry (the segment's name).
 * @returns The good records, where they end, and the problem that stopped the scan, if any.
 */
export function scanRecords(bytes: Uint8Array, firstSeq: number): RecordScan {
  const records: ScannedRecord[] = [];
  let at = 0;
  let seq = firstSeq;
  // Each record takes more than a header's bytes, so this loop ends within bytes.length / 16 turns.
  while (at < bytes.length) {
    const found = checkRecord(bytes, at, seq);
    if ("kind" in found) return { records, end: at, problem: found };
    records.push(found);
    at += found.bytes;
    seq++;
  }
  return { records, end: at };
}
