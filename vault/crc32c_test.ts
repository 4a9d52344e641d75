import { strictEqual } from "node:assert";
import { crc32c } from "./crc32c.ts";
import { seededRandom } from "./_prng.ts";

function crc32cBitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

Deno.test("crc32c() matches the standard check values", () => {
  strictEqual(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  strictEqual(crc32c(new Uint8Array(0)), 0);
  strictEqual(crc32c(new Uint8Array(32)), 0x8a9136aa);
  strictEqual(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
});

Deno.test("crc32c() agrees with a bitwise reference on random data of every tail length", () => {
  const random = seededRandom(7);
  for (let n = 0; n < 100; n++) {
    const bytes = random.bytes(n * 7);
    strictEqual(crc32c(bytes), crc32cBitwise(bytes));
  }
});

Deno.test("crc32c() continues from an earlier result", () => {
  const random = seededRandom(11);
  const bytes = random.bytes(1000);
  strictEqual(crc32c(bytes.subarray(333), crc32c(bytes.subarray(0, 333))), crc32c(bytes));
});
