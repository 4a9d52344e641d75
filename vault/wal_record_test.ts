import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { encode } from "../protocol/mod.ts";
import { checkRecord, encodeRecord, scanRecords, writeRecord } from "./wal_record.ts";
import { WAL_RECORD_HEADER_BYTES } from "./limits.ts";
import { seededRandom } from "./_prng.ts";

function segmentOf(firstSeq: number, payloads: Uint8Array[]): Uint8Array {
  const total = payloads.reduce((n, p) => n + WAL_RECORD_HEADER_BYTES + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  payloads.forEach((p, i) => (at = writeRecord(out, at, firstSeq + i, p)));
  return out;
}

Deno.test("encodeRecord() round-trips through checkRecord()", () => {
  const payload = encode({ agent: "a", delta: [["s", ["state", "x"], 1]] });
  const bytes = encodeRecord(42, payload);
  const found = checkRecord(bytes, 0, 42);
  ok(!("kind" in found));
  strictEqual(found.seq, 42);
  strictEqual(found.bytes, bytes.length);
  deepStrictEqual(found.payload, payload);
});

Deno.test("scanRecords() reads every record of a clean segment", () => {
  const random = seededRandom(1);
  const payloads = Array.from({ length: 50 }, () => random.bytes(1 + random.int(300)));
  const scan = scanRecords(segmentOf(7, payloads), 7);
  strictEqual(scan.problem, undefined);
  deepStrictEqual(scan.records.map((r) => r.seq), payloads.map((_, i) => 7 + i));
  deepStrictEqual(scan.records.map((r) => r.payload), payloads);
});

Deno.test("scanRecords() stops at a torn tail at every cut point", () => {
  const payloads = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6, 7])];
  const whole = segmentOf(1, payloads);
  const firstEnd = WAL_RECORD_HEADER_BYTES + 3;
  for (let cut = firstEnd + 1; cut < whole.length; cut++) {
    const scan = scanRecords(whole.subarray(0, cut), 1);
    strictEqual(scan.records.length, 1);
    strictEqual(scan.end, firstEnd);
    strictEqual(scan.problem?.kind, "torn");
    strictEqual(scan.problem?.seq, 2);
  }
});

Deno.test("scanRecords() reports any flipped bit as corrupt or torn, never as a good record", () => {
  const random = seededRandom(3);
  const payloads = Array.from({ length: 5 }, () => random.bytes(20));
  const whole = segmentOf(1, payloads);
  for (let bit = 0; bit < whole.length * 8; bit++) {
    const bytes = whole.slice();
    bytes[bit >> 3] ^= 1 << (bit & 7);
    const scan = scanRecords(bytes, 1);
    ok(scan.problem !== undefined, `bit ${bit} went unnoticed`);
    const badRecord = Math.floor((bit >> 3) / (WAL_RECORD_HEADER_BYTES + 20));
    strictEqual(scan.records.length, badRecord);
  }
});

Deno.test("scanRecords() treats a wrong seq as corrupt", () => {
  const bytes = segmentOf(5, [new Uint8Array([1])]);
  const scan = scanRecords(bytes, 6);
  strictEqual(scan.problem?.kind, "corrupt");
  ok(scan.problem?.reason.includes("expected 6"));
});

Deno.test("scanRecords() treats zeroed space as a torn tail", () => {
  const bytes = new Uint8Array(64);
  bytes.set(segmentOf(1, [new Uint8Array([9, 9])]));
  const scan = scanRecords(bytes, 1);
  strictEqual(scan.records.length, 1);
  strictEqual(scan.problem?.kind, "torn");
});
