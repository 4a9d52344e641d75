/**
 * A small, strict MessagePack codec for O's frames and stored records.
 *
 * Why our own: it runs inside every sandbox, so it must load with no npm package and no permission, and
 * it must treat its input as hostile — bounded depth, bounds-checked reads, no extension types, and no
 * prototype pollution through a `__proto__` key.
 *
 * Values: `null`/`undefined` ↔ nil (`undefined` object fields are dropped, as JSON does), booleans,
 * numbers (integers in the safe range as msgpack ints, others as float64), bigints (int64/uint64),
 * strings, `Uint8Array` ↔ bin, arrays, and plain objects with string keys ↔ maps.
 *
 * @module
 */
import { FrameError } from "./errors.ts";
import { MSGPACK_DEPTH_MAX } from "./limits.ts";

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });
const ENCODE_BUFFER_BYTES_INITIAL = 256;
/** Strings up to this many bytes take the hand-written ASCII path when they are ASCII. */
const SHORT_STRING_BYTES_MAX = 64;
/**
 * Longest string the decoder builds by hand; longer ones go through TextDecoder, which wins past this
 * (measured on a 10 MB state of short records: 16 → 80 ms, 64 → 105 ms).
 */
const DECODE_BY_HAND_BYTES_MAX = 16;
/** Longest map key kept in the decoder's key cache, bytes (fixstr keys only). */
const KEY_CACHE_LENGTH_MAX = 24;
/** Slots of the key cache (a power of two); a slot holds the last key that hashed to it. */
const KEY_CACHE_SIZE = 4096;
const keyCache: ({ bytes: Uint8Array; text: string } | undefined)[] = new Array(KEY_CACHE_SIZE);

/** Thrown when a value cannot be represented in msgpack (functions, symbols, class instances, cycles). */
export class EncodeError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = "EncodeError";
  }
}

class Writer {
  bytes = new Uint8Array(ENCODE_BUFFER_BYTES_INITIAL);
  view = new DataView(this.bytes.buffer);
  length = 0;

  reserve(n: number): void {
    const needed = this.length + n;
    if (needed <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  u8(b: number): void {
    this.reserve(1);
    this.bytes[this.length++] = b;
  }

  u8u8(tag: number, b: number): void {
    this.reserve(2);
    this.bytes[this.length++] = tag;
    this.bytes[this.length++] = b;
  }

  u8u16(tag: number, v: number): void {
    this.reserve(3);
    this.bytes[this.length] = tag;
    this.view.setUint16(this.length + 1, v);
    this.length += 3;
  }

  u8u32(tag: number, v: number): void {
    this.reserve(5);
    this.bytes[this.length] = tag;
    this.view.setUint32(this.length + 1, v);
    this.length += 5;
  }

  raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }
}

/**
 * Encodes a value as msgpack.
 *
 * @param value A JSON-like value, possibly with `Uint8Array` and `bigint` leaves.
 * @returns The encoded bytes (a fresh array).
 * @throws {EncodeError} When the value holds something msgpack cannot carry, or is nested too deeply.
 * @example Round trip
 * ```ts
 * import { decode, encode } from "./msgpack.ts";
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(decode(encode({ a: [1, "x", null] })), { a: [1, "x", null] });
 * ```
 */
export function encode(value: unknown): Uint8Array {
  const w = new Writer();
  encodeValue(w, value, 0);
  return w.bytes.slice(0, w.length);
}

function encodeValue(w: Writer, value: unknown, depth: number): void {
  if (depth > MSGPACK_DEPTH_MAX) {
    throw new EncodeError(`Cannot encode value: nesting exceeds ${MSGPACK_DEPTH_MAX}`);
  }
  switch (typeof value) {
    case "undefined":
      return w.u8(0xc0);
    case "boolean":
      return w.u8(value ? 0xc3 : 0xc2);
    case "number":
      return encodeNumber(w, value);
    case "bigint":
      return encodeBigInt(w, value);
    case "string":
      return encodeString(w, value);
    case "object":
      if (value === null) return w.u8(0xc0);
      if (value instanceof Uint8Array) return encodeBin(w, value);
      if (Array.isArray(value)) return encodeArray(w, value, depth);
      return encodeMap(w, value as Record<string, unknown>, depth);
    default:
      throw new EncodeError(`Cannot encode value of type ${typeof value}`);
  }
}

function encodeNumber(w: Writer, n: number): void {
  if (Number.isSafeInteger(n) && !Object.is(n, -0)) {
    if (n >= 0) {
      if (n < 0x80) return w.u8(n);
      if (n < 0x100) return w.u8u8(0xcc, n);
      if (n < 0x10000) return w.u8u16(0xcd, n);
      if (n < 0x100000000) return w.u8u32(0xce, n);
      w.reserve(9);
      w.bytes[w.length] = 0xcf;
      w.view.setBigUint64(w.length + 1, BigInt(n));
      w.length += 9;
      return;
    }
    if (n >= -32) return w.u8(n & 0xff);
    if (n >= -0x80) return w.u8u8(0xd0, n & 0xff);
    if (n >= -0x8000) {
      w.reserve(3);
      w.bytes[w.length] = 0xd1;
      w.view.setInt16(w.length + 1, n);
      w.length += 3;
      return;
    }
    if (n >= -0x80000000) {
      w.reserve(5);
      w.bytes[w.length] = 0xd2;
      w.view.setInt32(w.length + 1, n);
      w.length += 5;
      return;
    }
    w.reserve(9);
    w.bytes[w.length] = 0xd3;
    w.view.setBigInt64(w.length + 1, BigInt(n));
    w.length += 9;
    return;
  }
  w.reserve(9);
  w.bytes[w.length] = 0xcb;
  w.view.setFloat64(w.length + 1, n);
  w.length += 9;
}

function encodeBigInt(w: Writer, n: bigint): void {
  w.reserve(9);
  if (n >= 0n) {
    if (n > 0xffffffffffffffffn) throw new EncodeError(`Cannot encode bigint ${n}: exceeds uint64`);
    w.bytes[w.length] = 0xcf;
    w.view.setBigUint64(w.length + 1, n);
  } else {
    if (n < -0x8000000000000000n) throw new EncodeError(`Cannot encode bigint ${n}: below int64`);
    w.bytes[w.length] = 0xd3;
    w.view.setBigInt64(w.length + 1, n);
  }
  w.length += 9;
}

function encodeString(w: Writer, s: string): void {
  if (s.length <= SHORT_STRING_BYTES_MAX && encodeShortAscii(w, s)) return;
  // A UTF-8 encoding takes at most 3 bytes per UTF-16 unit: reserve the worst case, write in place.
  const bytesMax = s.length * 3;
  w.reserve(5 + bytesMax);
  const headerBytes = bytesMax < 32 ? 1 : bytesMax < 0x100 ? 2 : bytesMax < 0x10000 ? 3 : 5;
  const start = w.length + headerBytes;
  const { written } = textEncoder.encodeInto(s, w.bytes.subarray(start));
  const at = w.length;
  if (headerBytes === 1) w.bytes[at] = 0xa0 | written;
  else if (headerBytes === 2) (w.bytes[at] = 0xd9, w.bytes[at + 1] = written);
  else if (headerBytes === 3) (w.bytes[at] = 0xda, w.view.setUint16(at + 1, written));
  else (w.bytes[at] = 0xdb, w.view.setUint32(at + 1, written));
  w.length = start + written;
}

/** Writes a short string byte by byte when it is ASCII; returns false (writing nothing) otherwise. */
function encodeShortAscii(w: Writer, s: string): boolean {
  const n = s.length;
  w.reserve(2 + n);
  const header = n < 32 ? 1 : 2;
  const at = w.length + header;
  const b = w.bytes;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return false;
    b[at + i] = c;
  }
  if (header === 1) b[w.length] = 0xa0 | n;
  else (b[w.length] = 0xd9, b[w.length + 1] = n);
  w.length = at + n;
  return true;
}

function encodeBin(w: Writer, b: Uint8Array): void {
  if (b.length < 0x100) w.u8u8(0xc4, b.length);
  else if (b.length < 0x10000) w.u8u16(0xc5, b.length);
  else w.u8u32(0xc6, b.length);
  w.raw(b);
}

function encodeArray(w: Writer, a: unknown[], depth: number): void {
  if (a.length < 16) w.u8(0x90 | a.length);
  else if (a.length < 0x10000) w.u8u16(0xdc, a.length);
  else w.u8u32(0xdd, a.length);
  for (const item of a) encodeValue(w, item, depth + 1);
}

function encodeMap(w: Writer, o: Record<string, unknown>, depth: number): void {
  const proto = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) {
    throw new EncodeError(`Cannot encode object of class ${proto?.constructor?.name ?? "unknown"}`);
  }
  const keys = Object.keys(o);
  let count = 0;
  for (const k of keys) if (o[k] !== undefined) count++;
  if (count < 16) w.u8(0x80 | count);
  else if (count < 0x10000) w.u8u16(0xde, count);
  else w.u8u32(0xdf, count);
  for (const k of keys) {
    const v = o[k];
    if (v === undefined) continue;
    encodeString(w, k);
    encodeValue(w, v, depth + 1);
  }
}

/**
 * Decodes one msgpack value that must fill `bytes` exactly.
 *
 * @param bytes The encoded value.
 * @returns The decoded value.
 * @throws {FrameError} `MSGPACK_MALFORMED` on truncated input, trailing bytes, invalid UTF-8, an
 *   extension or reserved type, a non-string map key, or nesting deeper than `MSGPACK_DEPTH_MAX`.
 */
export function decode(bytes: Uint8Array): unknown {
  const r = new Reader(bytes);
  const value = r.value(0);
  if (r.pos !== bytes.length) r.fail(`${bytes.length - r.pos} trailing bytes`);
  return value;
}

class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(why: string): never {
    throw new FrameError("MSGPACK_MALFORMED", `Cannot decode msgpack at byte ${this.pos}: ${why}`);
  }

  need(n: number): number {
    const at = this.pos;
    if (at + n > this.bytes.length) this.fail(`needs ${n} more bytes, has ${this.bytes.length - at}`);
    this.pos = at + n;
    return at;
  }

  value(depth: number): unknown {
    if (depth > MSGPACK_DEPTH_MAX) this.fail(`nesting exceeds ${MSGPACK_DEPTH_MAX}`);
    const b = this.bytes[this.need(1)];
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b < 0x90) return this.map(b & 0x0f, depth);
    if (b < 0xa0) return this.array(b & 0x0f, depth);
    if (b < 0xc0) return this.str(b & 0x1f);
    const v = this.view;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.bytes[this.need(1)]);
      case 0xc5:
        return this.bin(v.getUint16(this.need(2)));
      case 0xc6:
        return this.bin(v.getUint32(this.need(4)));
      case 0xca:
        return v.getFloat32(this.need(4));
      case 0xcb:
        return v.getFloat64(this.need(8));
      case 0xcc:
        return this.bytes[this.need(1)];
      case 0xcd:
        return v.getUint16(this.need(2));
      case 0xce:
        return v.getUint32(this.need(4));
      case 0xcf:
        return narrow(v.getBigUint64(this.need(8)));
      case 0xd0:
        return v.getInt8(this.need(1));
      case 0xd1:
        return v.getInt16(this.need(2));
      case 0xd2:
        return v.getInt32(this.need(4));
      case 0xd3:
        return narrow(v.getBigInt64(this.need(8)));
      case 0xd9:
        return this.str(this.bytes[this.need(1)]);
      case 0xda:
        return this.str(v.getUint16(this.need(2)));
      case 0xdb:
        return this.str(v.getUint32(this.need(4)));
      case 0xdc:
        return this.array(v.getUint16(this.need(2)), depth);
      case 0xdd:
        return this.array(v.getUint32(this.need(4)), depth);
      case 0xde:
        return this.map(v.getUint16(this.need(2)), depth);
      case 0xdf:
        return this.map(v.getUint32(this.need(4)), depth);
      default:
        return this.fail(`type byte 0x${b.toString(16)} is not accepted`);
    }
  }

  str(n: number): string {
    const at = this.need(n);
    const b = this.bytes;
    if (n <= DECODE_BY_HAND_BYTES_MAX) {
      // Short ASCII strings (map keys, most small values) decode faster by hand than through
      // TextDecoder; in chunks of 8 code units, so no array is made per string.
      let out = "";
      let i = at;
      const end = at + n;
      for (; i + 8 <= end; i += 8) {
        const c0 = b[i], c1 = b[i + 1], c2 = b[i + 2], c3 = b[i + 3];
        const c4 = b[i + 4], c5 = b[i + 5], c6 = b[i + 6], c7 = b[i + 7];
        if ((c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7) & 0x80) break;
        out += String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7);
      }
      for (; i < end; i++) {
        const c = b[i];
        if (c & 0x80) break;
        out += String.fromCharCode(c);
      }
      if (i === end) return out;
    }
    try {
      return textDecoder.decode(b.subarray(at, at + n));
    } catch {
      return this.fail("string is not valid UTF-8");
    }
  }

  /** A map key: short ones come from a cache of the keys seen, so a key repeated in every record is made once. */
  key(depth: number): string {
    const b = this.bytes;
    const n = this.pos < b.length ? b[this.pos] - 0xa0 : -1;
    if (n < 0 || n > KEY_CACHE_LENGTH_MAX || this.pos + 1 + n > b.length) {
      const key = this.value(depth);
      if (typeof key !== "string") this.fail("map key is not a string");
      return key;
    }
    const at = this.pos + 1;
    let h = n;
    for (let i = at; i < at + n; i++) h = Math.imul(h ^ b[i], 0x01000193);
    const slot = (h >>> 0) & (KEY_CACHE_SIZE - 1);
    const cached = keyCache[slot];
    if (cached !== undefined && cached.bytes.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (cached.bytes[i] !== b[at + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.pos = at + n;
        return cached.text;
      }
    }
    this.pos = at;
    const text = this.str(n);
    keyCache[slot] = { bytes: b.slice(at, at + n), text };
    return text;
  }

  bin(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.slice(at, at + n);
  }

  array(n: number, depth: number): unknown[] {
    // Each element takes at least one byte: refuse counts the input cannot hold before allocating.
    if (n > this.bytes.length - this.pos) this.fail(`array of ${n} items exceeds the input`);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  map(n: number, depth: number): Record<string, unknown> {
    if (n * 2 > this.bytes.length - this.pos) this.fail(`map of ${n} entries exceeds the input`);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.key(depth + 1);
      const value = this.value(depth + 1);
      // Plain assignment of "__proto__" would replace the object's prototype.
      if (key === "__proto__") {
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      } else out[key] = value;
    }
    return out;
  }
}

function narrow(n: bigint): number | bigint {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n;
}
