/**
 * The checkpoint blob: a header, then a zstd-compressed body (AES-GCM-sealed when a key is set), covered
 * by a CRC32C. The body holds a small meta section (agent, seq, kind, base, idempotency keys, history)
 * before the payload (a full snapshot, or the delta ops against the base), so the vault can rebuild its
 * indexes at open without decoding every snapshot.
 *
 * Layout, big-endian: `"OCKP" | u8 format | u8 flags | u16 0 | u32 CRC32C | u32 body bytes | u32 raw bytes
 * | body`. The CRC covers every byte but its own four. The body is `zstd(plain)`, or with flag 1
 * `kid(4) | iv(12) | AES-GCM(zstd(plain))`; `plain` is `u32 meta bytes | msgpack(meta) | msgpack(payload)`.
 *
 * @module
 */
import * as zlib from "node:zlib";
import {
  assert,
  decode,
  type DeltaOp,
  encode,
  type HistoryEntry,
  type Snapshot,
  validateDelta,
} from "../protocol/mod.ts";
import { crc32c } from "./crc32c.ts";
import { CheckpointCorruptError, VaultError, VaultKeyError } from "./errors.ts";
import type { KeyRing } from "./key_ring.ts";
import {
  CHECKPOINT_HEADER_BYTES,
  CHECKPOINT_RAW_BYTES_MAX,
  CHECKPOINT_ZSTD_LEVEL,
  GCM_IV_BYTES,
} from "./limits.ts";

const MAGIC = [0x4f, 0x43, 0x4b, 0x50]; // "OCKP"
const FORMAT = 1;
const FLAG_ENCRYPTED = 1;
const KID_BYTES = 4;

/** A full checkpoint holds a snapshot; an incremental one holds delta ops against its full base. */
export type CheckpointKind = "full" | "incremental";

/** One remembered idempotency key: `[key, seq, version, output]`. */
export type IdempotencyTuple = [string, number, string, unknown];

/** What a checkpoint says about itself. */
export interface CheckpointMeta {
  agent: string;
  id: string;
  seq: number;
  kind: CheckpointKind;
  /** The full checkpoint an incremental one applies to; null for a full one. */
  base_id: string | null;
  /** Incrementals taken since the base, this one included (0 for a full checkpoint). */
  increments: number;
  created_ms: number;
  /** Idempotency keys of records up to `seq`, oldest first. */
  idempotency: IdempotencyTuple[];
  /** The newest transitions up to `seq`, oldest first. */
  history: HistoryEntry[];
}

/** A decoded checkpoint. `snapshot` for full ones, `delta` for incremental ones (the snapshot is absent with `skipSnapshot`). */
export interface CheckpointContent {
  meta: CheckpointMeta;
  snapshot?: Snapshot;
  delta?: DeltaOp[];
}

/** Sizes measured while encoding. */
export interface EncodedCheckpoint {
  blob: Uint8Array;
  /** Uncompressed plain bytes. */
  rawBytes: number;
}

/**
 * Encodes a checkpoint blob.
 *
 * @param meta What the checkpoint says about itself.
 * @param payload `encode(snapshot)` for a full checkpoint, `encode(delta)` for an incremental one (the
 *   caller encodes, so it can do so synchronously while the snapshot is still unchanged).
 * @param keyRing Seals the body when given.
 * @returns The blob and its raw size.
 * @throws {VaultError} `CHECKPOINT_TOO_LARGE` past `CHECKPOINT_RAW_BYTES_MAX`.
 */
export async function encodeCheckpoint(
  meta: CheckpointMeta,
  payload: Uint8Array,
  keyRing?: KeyRing,
): Promise<EncodedCheckpoint> {
  assert((meta.kind === "full") === (meta.base_id === null), "Only an incremental checkpoint has a base");
  const metaBytes = encode(meta);
  const rawBytes = 4 + metaBytes.length + payload.length;
  if (rawBytes > CHECKPOINT_RAW_BYTES_MAX) {
    throw new VaultError(
      "CHECKPOINT_TOO_LARGE",
      `Cannot checkpoint agent ${meta.agent}: ${rawBytes} bytes exceed ${CHECKPOINT_RAW_BYTES_MAX}`,
    );
  }
  const plain = new Uint8Array(rawBytes);
  new DataView(plain.buffer).setUint32(0, metaBytes.length);
  plain.set(metaBytes, 4);
  plain.set(payload, 4 + metaBytes.length);
  const compressed = await zstd(plain);
  const body = keyRing ? await sealBody(keyRing, compressed) : compressed;
  return { blob: frame(body, rawBytes, keyRing !== undefined), rawBytes };
}

/** Compresses off the event loop (the async zlib call runs on a worker thread), so live traffic keeps going. */
function zstd(plain: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    zlib.zstdCompress(
      plain,
      { params: { [zlib.constants.ZSTD_c_compressionLevel]: CHECKPOINT_ZSTD_LEVEL } },
      (e, out) => {
        if (e) reject(e);
        else resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
      },
    );
  });
}

async function sealBody(keyRing: KeyRing, compressed: Uint8Array): Promise<Uint8Array> {
  const sealed = await keyRing.seal(compressed);
  const body = new Uint8Array(KID_BYTES + GCM_IV_BYTES + sealed.ct.length);
  body.set(Uint8Array.from(sealed.kid.match(/../g)!.map((h) => parseInt(h, 16))), 0);
  body.set(sealed.iv, KID_BYTES);
  body.set(sealed.ct, KID_BYTES + GCM_IV_BYTES);
  return body;
}

function frame(body: Uint8Array, rawBytes: number, encrypted: boolean): Uint8Array {
  const blob = new Uint8Array(CHECKPOINT_HEADER_BYTES + body.length);
  const view = new DataView(blob.buffer);
  blob.set(MAGIC, 0);
  blob[4] = FORMAT;
  blob[5] = encrypted ? FLAG_ENCRYPTED : 0;
  view.setUint32(12, body.length);
  view.setUint32(16, rawBytes);
  blob.set(body, CHECKPOINT_HEADER_BYTES);
  view.setUint32(8, blobCrc(blob));
  return blob;
}

function blobCrc(blob: Uint8Array): number {
  return crc32c(blob.subarray(12), crc32c(blob.subarray(0, 8)));
}

/** What {@link verifyCheckpoint} learned from the header alone. */
export interface CheckpointHeader {
  encrypted: boolean;
  bodyBytes: number;
  rawBytes: number;
}

/**
 * Checks a blob's header and CRC (no key needed).
 *
 * @returns The header fields.
 * @throws {CheckpointCorruptError} When the magic, format, lengths or CRC are wrong.
 */
export function verifyCheckpoint(blob: Uint8Array): CheckpointHeader {
  if (blob.length < CHECKPOINT_HEADER_BYTES) throw corrupt(`${blob.length} bytes is shorter than a header`);
  if (MAGIC.some((b, i) => blob[i] !== b)) throw corrupt("bad magic");
  if (blob[4] !== FORMAT) throw corrupt(`unknown format ${blob[4]}`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const bodyBytes = view.getUint32(12);
  const rawBytes = view.getUint32(16);
  if (CHECKPOINT_HEADER_BYTES + bodyBytes !== blob.length) {
    throw corrupt(`body of ${bodyBytes} bytes in a blob of ${blob.length}`);
  }
  if (rawBytes > CHECKPOINT_RAW_BYTES_MAX) throw corrupt(`raw size ${rawBytes} out of bounds`);
  if (blobCrc(blob) !== view.getUint32(8)) throw corrupt("checksum mismatch");
  return { encrypted: (blob[5] & FLAG_ENCRYPTED) !== 0, bodyBytes, rawBytes };
}

/**
 * Verifies and decodes a blob.
 *
 * @param blob The stored bytes.
 * @param options `keyRing` opens sealed bodies; `skipSnapshot` skips decoding a full checkpoint's snapshot
 *   (the costly part; an incremental's delta is always decoded).
 * @returns The meta, plus the delta, or the snapshot unless `skipSnapshot`.
 * @throws {CheckpointCorruptError} When any check fails; {@link VaultKeyError} when the key is missing or
 *   unknown (a configuration problem, not corruption).
 */
export async function decodeCheckpoint(
  blob: Uint8Array,
  options: { keyRing?: KeyRing; skipSnapshot?: boolean } = {},
): Promise<CheckpointContent> {
  const header = verifyCheckpoint(blob);
  let compressed = blob.subarray(CHECKPOINT_HEADER_BYTES);
  if (header.encrypted) compressed = await openBody(compressed, options.keyRing);
  let plain: Uint8Array;
  try {
    const out = zlib.zstdDecompressSync(compressed, { maxOutputLength: Math.max(1, header.rawBytes) });
    plain = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw corrupt(`zstd failed: ${(e as Error).message}`, e);
  }
  if (plain.length !== header.rawBytes) {
    throw corrupt(`${plain.length} raw bytes, header says ${header.rawBytes}`);
  }
  const metaBytes = new DataView(plain.buffer, plain.byteOffset, 4).getUint32(0);
  if (4 + metaBytes > plain.length) throw corrupt("meta section overruns the body");
  const meta = checkMeta(decodeOrCorrupt(plain.subarray(4, 4 + metaBytes)));
  if (options.skipSnapshot && meta.kind === "full") return { meta };
  const payload = decodeOrCorrupt(plain.subarray(4 + metaBytes));
  if (meta.kind === "full") return { meta, snapshot: checkSnapshot(payload) };
  try {
    return { meta, delta: validateDelta(payload) };
  } catch (e) {
    throw corrupt(`delta is malformed: ${(e as Error).message}`, e);
  }
}

async function openBody(body: Uint8Array, keyRing: KeyRing | undefined): Promise<Uint8Array> {
  if (body.length < KID_BYTES + GCM_IV_BYTES) throw corrupt("sealed body too short");
  const kid = [...body.subarray(0, KID_BYTES)].map((b) => b.toString(16).padStart(2, "0")).join("");
  if (!keyRing) {
    throw new VaultKeyError(
      "VAULT_KEY_UNKNOWN",
      `Cannot open checkpoint sealed with key ${kid}: no key file is set`,
    );
  }
  return await keyRing.open({
    kid,
    iv: body.subarray(KID_BYTES, KID_BYTES + GCM_IV_BYTES),
    ct: body.subarray(KID_BYTES + GCM_IV_BYTES),
  });
}

function decodeOrCorrupt(bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch (e) {
    throw corrupt(`msgpack is malformed: ${(e as Error).message}`, e);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function checkMeta(v: unknown): CheckpointMeta {
  const ok = isRecord(v) && typeof v.agent === "string" && typeof v.id === "string" &&
    Number.isSafeInteger(v.seq) && (v.kind === "full" || v.kind === "incremental") &&
    (v.base_id === null || typeof v.base_id === "string") && Number.isSafeInteger(v.increments) &&
    typeof v.created_ms === "number" && Array.isArray(v.idempotency) && Array.isArray(v.history);
  if (!ok) throw corrupt("meta section has the wrong shape");
  return v as unknown as CheckpointMeta;
}

function checkSnapshot(v: unknown): Snapshot {
  if (!isRecord(v) || !isRecord(v.state) || !isRecord(v.memory)) {
    throw corrupt("snapshot has the wrong shape");
  }
  return v as unknown as Snapshot;
}

function corrupt(why: string, cause?: unknown): CheckpointCorruptError {
  return new CheckpointCorruptError(
    `Cannot read checkpoint: ${why}`,
    cause === undefined ? undefined : { cause },
  );
}
