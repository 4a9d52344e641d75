/**
 * CRC32C (Castagnoli), table-driven with slicing-by-8: the checksum of every WAL record and checkpoint.
 *
 * @module
 */

/** The reflected Castagnoli polynomial. */
const POLYNOMIAL = 0x82f63b78;
const SLICES = 8;

const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256 * SLICES);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    table[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = table[n];
    for (let s = 1; s < SLICES; s++) {
      c = table[c & 0xff] ^ (c >>> 8);
      table[s * 256 + n] = c >>> 0;
    }
  }
  return table;
}

/**
 * Computes the CRC32C of `bytes`, optionally continuing from an earlier result.
 *
 * @param bytes The data.
 * @param previous The CRC of the data before `bytes` (0 to start).
 * @returns The CRC as an unsigned 32-bit integer.
 * @example Check value
 * ```ts
 * import { crc32c } from "./crc32c.ts";
 * import { strictEqual } from "node:assert";
 * strictEqual(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
 * ```
 */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  const t = TABLE;
  let c = ~previous >>> 0;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  while (i < end8) {
    const lo = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^ t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^ t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]] ^ t[256 + bytes[i + 6]] ^
      t[bytes[i + 7]];
    i += 8;
  }
  while (i < bytes.length) c = t[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
