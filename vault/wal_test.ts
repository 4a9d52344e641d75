import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { Wal, type WalRecord } from "./wal.ts";
import { FaultyFileSystem } from "./faulty_fs.ts";
import { segmentName } from "./wal_scan.ts";
import { VaultError } from "./errors.ts";
import { seededRandom } from "./_prng.ts";

const text = new TextEncoder();

function payloadOf(i: number): Uint8Array {
  return text.encode(`record-${i}-${"x".repeat(i % 37)}`);
}

async function reopen(dir: string, fs?: FaultyFileSystem): Promise<{ wal: Wal; records: WalRecord[] }> {
  const records: WalRecord[] = [];
  const wal = await Wal.open({ dir, fs, onRecord: (r) => void records.push(r) });
  return { wal, records };
}

function decodeAll(records: WalRecord[]): string[] {
  return records.map((r) => new TextDecoder().decode(r.payload));
}

Deno.test("Wal.append() resolves with increasing seqs and a reopen replays every record", async () => {
  const dir = await Deno.makeTempDir();
  const wal = await Wal.open({ dir });
  const positions = await Promise.all(
    Array.from({ length: 100 }, (_, i) => wal.append(payloadOf(i), undefined)),
  );
  deepStrictEqual(positions.map((p) => p.seq), Array.from({ length: 100 }, (_, i) => i + 1));
  strictEqual(wal.lastSeq, 100);
  await wal.close();
  const { wal: again, records } = await reopen(dir);
  deepStrictEqual(
    decodeAll(records),
    Array.from({ length: 100 }, (_, i) => `record-${i}-${"x".repeat(i % 37)}`),
  );
  strictEqual(again.lastSeq, 100);
  strictEqual((await again.append(payloadOf(0), undefined)).seq, 101);
  deepStrictEqual(await again.readRecords([positions[5], positions[0]]), [payloadOf(5), payloadOf(0)]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal.append() group-commits concurrent appends and resolves each only after its sync", async () => {
  const dir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 1 });
  const wal = await Wal.open({ dir, fs });
  const path = `${dir}/${segmentName(1)}`;
  const appends = Array.from({ length: 500 }, (_, i) =>
    wal.append(payloadOf(i), undefined).then((p) => {
      // The faulty fs knows which bytes a crash would keep: the record must be among them already.
      ok(fs.tracked(path)!.durable.length >= p.offset + p.bytes, `record ${p.seq} resolved before its sync`);
      return p;
    }));
  await Promise.all(appends);
  const stats = wal.stats();
  strictEqual(stats.appends, 500);
  ok(stats.batches < 50, `${stats.batches} batches for 500 concurrent appends`);
  strictEqual(stats.fsyncMs.length, stats.batches);
  await wal.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal.open() with batchRecordsMax 1 syncs once per append", async () => {
  const dir = await Deno.makeTempDir();
  const wal = await Wal.open({ dir, batchRecordsMax: 1 });
  await Promise.all(Array.from({ length: 20 }, (_, i) => wal.append(payloadOf(i), undefined)));
  strictEqual(wal.stats().batches, 20);
  await wal.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal.append() rotates segments at segmentBytesMax and names each by its first seq", async () => {
  const dir = await Deno.makeTempDir();
  const wal = await Wal.open({ dir, segmentBytesMax: 4096 });
  for (let i = 0; i < 300; i++) await wal.append(payloadOf(i), undefined);
  const segments = wal.segments();
  ok(segments.length > 3, `${segments.length} segments`);
  for (const s of segments) ok(s.bytes <= 4096);
  for (let i = 1; i < segments.length; i++) strictEqual(segments[i].firstSeq, segments[i - 1].lastSeq + 1);
  const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  deepStrictEqual(names, segments.map((s) => segmentName(s.firstSeq)));
  await wal.close();
  const { wal: again, records } = await reopen(dir);
  strictEqual(records.length, 300);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal.deleteSegments() removes old segments, keeps the active one, and seqs continue", async () => {
  const dir = await Deno.makeTempDir();
  const wal = await Wal.open({ dir, segmentBytesMax: 4096 });
  for (let i = 0; i < 300; i++) await wal.append(payloadOf(i), undefined);
  const segments = wal.segments();
  const deleted = await wal.deleteSegments(segments.map((s) => s.firstSeq));
  strictEqual(deleted.length, segments.length - 1);
  strictEqual(wal.segments().length, 1);
  await wal.close();
  const { wal: again, records } = await reopen(dir);
  strictEqual(records[0].seq, segments.at(-1)!.firstSeq);
  strictEqual(records.at(-1)!.seq, 300);
  strictEqual((await again.append(payloadOf(1), undefined)).seq, 301);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal.open() cuts a torn last record and appends continue at its seq", async () => {
  const dir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 2 });
  const wal = await Wal.open({ dir, fs });
  for (let i = 0; i < 10; i++) await wal.append(payloadOf(i), undefined);
  await wal.close();
  await fs.tearTail(`${dir}/${segmentName(1)}`, 5);
  const { wal: again, records } = await reopen(dir, fs);
  strictEqual(records.length, 9);
  strictEqual(again.scanReport.problem?.kind, "torn");
  strictEqual(again.scanReport.problem?.seq, 10);
  ok(again.scanReport.repaired);
  strictEqual((await again.append(payloadOf(99), undefined)).seq, 10);
  await again.close();
  const { wal: third, records: after } = await reopen(dir);
  strictEqual(after.length, 10);
  strictEqual(third.scanReport.problem, undefined);
  await third.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal.open() stops at a flipped bit, quarantines later segments, and reuses no seq", async () => {
  const dir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 3 });
  const wal = await Wal.open({ dir, fs, segmentBytesMax: 4096 });
  for (let i = 0; i < 300; i++) await wal.append(payloadOf(i), undefined);
  const segments = wal.segments();
  await wal.close();
  const victim = segments[1];
  await fs.flipBit(`${dir}/${segmentName(victim.firstSeq)}`, 100, 3);
  const { wal: again, records } = await reopen(dir, fs);
  const problem = again.scanReport.problem!;
  strictEqual(problem.kind, "corrupt");
  strictEqual(records.length, problem.seq - 1);
  ok(problem.seq > victim.firstSeq && problem.seq <= victim.lastSeq);
  strictEqual(again.scanReport.dropped.length, segments.length - 2);
  const quarantined = (await Array.fromAsync(Deno.readDir(`${dir}/quarantine`))).length;
  strictEqual(quarantined, segments.length - 2 + 1);
  strictEqual((await again.append(payloadOf(0), undefined)).seq, problem.seq);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal.open() honours nextSeqMin when a checkpoint is newer than the WAL", async () => {
  const dir = await Deno.makeTempDir();
  const wal = await Wal.open({ dir });
  await wal.append(payloadOf(1), undefined);
  await wal.close();
  const again = await Wal.open({ dir, nextSeqMin: 50 });
  strictEqual((await again.append(payloadOf(2), undefined)).seq, 50);
  await again.close();
  const { wal: third, records } = await reopen(dir);
  deepStrictEqual(records.map((r) => r.seq), [1, 50]);
  await third.close();
  await Deno.remove(dir, { recursive: true });
});

for (const kind of ["eio", "short", "enospc"] as const) {
  Deno.test(`Wal.append() rejects a whole batch on a ${kind} write and leaves no trace of it`, async () => {
    const dir = await Deno.makeTempDir();
    const fs = new FaultyFileSystem({ seed: 4 });
    const wal = await Wal.open({ dir, fs });
    await wal.append(payloadOf(0), undefined);
    fs.failNext({ op: "write", kind });
    const failed = await Promise.allSettled([1, 2, 3].map((i) => wal.append(payloadOf(i), undefined)));
    for (const r of failed) {
      strictEqual(r.status, "rejected");
      strictEqual((r as PromiseRejectedResult).reason.code, "VAULT_IO");
    }
    strictEqual((await wal.append(payloadOf(4), undefined)).seq, 2);
    const rebooted = await fs.crash({ tear: true });
    await wal.close();
    const { wal: again, records } = await reopen(dir, rebooted);
    deepStrictEqual(decodeAll(records), [payloadOf(0), payloadOf(4)].map((p) => new TextDecoder().decode(p)));
    await again.close();
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("Wal.append() rejects on a failed fsync and the rolled-back records never come back", async () => {
  const dir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 5 });
  const wal = await Wal.open({ dir, fs });
  await wal.append(payloadOf(0), undefined);
  fs.failNext({ op: "sync" });
  await rejects(wal.append(payloadOf(1), undefined), (e: VaultError) => e.code === "VAULT_IO");
  strictEqual((await wal.append(payloadOf(2), undefined)).seq, 2);
  const rebooted = await fs.crash();
  await wal.close();
  const { wal: again, records } = await reopen(dir, rebooted);
  deepStrictEqual(records.map((r) => r.payload), [payloadOf(0), payloadOf(2)]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal.append() poisons after a failed rollback and heals on the next batch", async () => {
  const dir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 6 });
  const wal = await Wal.open({ dir, fs });
  await wal.append(payloadOf(0), undefined);
  fs.failNext({ op: "sync" });
  for (let i = 0; i < 3; i++) fs.failNext({ op: "truncate" });
  fs.failNext({ op: "open" });
  await rejects(wal.append(payloadOf(1), undefined), (e: VaultError) => e.code === "VAULT_IO");
  await rejects(wal.append(payloadOf(2), undefined), /poisoned/);
  strictEqual((await wal.append(payloadOf(3), undefined)).seq, 2);
  const rebooted = await fs.crash();
  await wal.close();
  const { wal: again, records } = await reopen(dir, rebooted);
  deepStrictEqual(records.map((r) => r.payload), [payloadOf(0), payloadOf(3)]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal survives random write and sync faults with every acked record and no other", async () => {
  // Goal: under a seeded storm of faults, acks are exactly what a crash keeps. Method: append in small
  // concurrent waves, crash with tearing, reopen, compare with the acknowledged set.
  const dir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 7, rates: { write: 0.1, sync: 0.1 } });
  const wal = await Wal.open({ dir, fs, segmentBytesMax: 8192 });
  const random = seededRandom(8);
  const acked = new Map<number, string>();
  for (let wave = 0; wave < 60; wave++) {
    const n = 1 + random.int(8);
    const results = await Promise.allSettled(
      Array.from({ length: n }, (_, i) => wal.append(payloadOf(wave * 10 + i), undefined)),
    );
    results.forEach((r, i) => {
      if (r.status === "fulfilled") acked.set(r.value.seq, `record-${wave * 10 + i}`);
      else strictEqual((r.reason as VaultError).code, "VAULT_IO");
    });
  }
  ok(fs.injected.length > 5, `${fs.injected.length} faults injected`);
  fs.setRates({});
  const rebooted = await fs.crash({ tear: true });
  await wal.close();
  const { wal: again, records } = await reopen(dir, rebooted);
  deepStrictEqual(
    records.map((r) => [r.seq, decodeAll([r])[0].replace(/-x*$/, "")]),
    [...acked].map(([seq, name]) => [seq, name]),
  );
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal.append() rejects oversized payloads and appends after close", async () => {
  const dir = await Deno.makeTempDir();
  const wal = await Wal.open({ dir });
  await rejects(
    wal.append(new Uint8Array(5 * 1024 * 1024), undefined),
    (e: VaultError) => e.code === "WAL_RECORD_TOO_LARGE",
  );
  await wal.close();
  await rejects(wal.append(payloadOf(1), undefined), (e: VaultError) => e.code === "VAULT_CLOSED");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Wal.open() ignores an empty segment left by a failed rotation and loses no record", async () => {
  const dir = await Deno.makeTempDir();
  const fs = new FaultyFileSystem({ seed: 9 });
  const wal = await Wal.open({ dir, fs, segmentBytesMax: 4096 });
  let seq = 0;
  while (wal.segments().at(-1)!.bytes < 4000) seq = (await wal.append(payloadOf(seq), undefined)).seq;
  // The rotation creates its file, then fails to sync the directory and to remove the file again.
  fs.failNext({ op: "syncDir" });
  fs.failNext({ op: "remove" });
  await rejects(wal.append(new Uint8Array(200), undefined), (e: VaultError) => e.code === "VAULT_IO");
  // A small record still fits the old segment, so it takes the seq the stray file is named after.
  strictEqual((await wal.append(new Uint8Array(1), undefined)).seq, seq + 1);
  for (let i = 0; i < 100; i++) seq = (await wal.append(payloadOf(i), undefined)).seq;
  await wal.close();
  const { wal: again, records } = await reopen(dir);
  strictEqual(again.scanReport.problem, undefined);
  deepStrictEqual(again.scanReport.strays, [
    segmentName(records.findIndex((r) => r.payload.length === 1) + 1),
  ]);
  strictEqual(records.length, seq);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});
