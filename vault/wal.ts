/**
 * The write-ahead log: segment files `wal/<first-seq>.wal` of framed records (see `wal_record.ts`), with
 * group commit. Appends queue up; one flusher writes each batch with one write and one `fdatasync`, and an
 * append resolves only once its batch is durable. When a write or sync fails, every append of the batch
 * rejects with `VAULT_IO` and the active segment is truncated back to its last durable offset (then synced),
 * so records that were never acknowledged cannot reappear after a restart. If even that truncation fails,
 * the WAL is poisoned: each later batch first retries the truncation on a fresh handle, and rejects while
 * it keeps failing.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";
import { ioError, VaultError, VaultIoError } from "./errors.ts";
import { DenoFileSystem, type FileSystem, type SegmentFile } from "./file_system.ts";
import {
  WAL_BATCH_BYTES_MAX,
  WAL_BATCH_RECORDS_MAX,
  WAL_BATCH_WAIT_MS_MAX,
  WAL_QUEUE_RECORDS_MAX,
  WAL_RECORD_BYTES_MAX,
  WAL_RECORD_HEADER_BYTES,
  WAL_ROLLBACK_ATTEMPTS_MAX,
  WAL_SEGMENT_BYTES_MAX,
  WAL_SEGMENT_BYTES_MIN,
} from "./limits.ts";
import { checkRecord, scanRecords, writeRecord } from "./wal_record.ts";
import { scanWal, segmentName, type WalScanRecord, type WalScanReport } from "./wal_scan.ts";
import { SampleRing } from "./_samples.ts";

/** Where a record lives. */
export interface WalPosition {
  seq: number;
  /** The first seq of its segment (the segment's name). */
  segment: number;
  offset: number;
  /** Header plus payload. */
  bytes: number;
}

/** A durable record handed to `onCommit`, with the caller's `meta`. */
export interface WalCommitted<M> extends WalPosition {
  meta: M;
}

/** A record read back, with its payload. */
export interface WalRecord extends WalPosition {
  payload: Uint8Array;
}

/** Options of {@link Wal.open}. */
export interface WalOptions<M> {
  /** The WAL directory, created if missing. */
  dir: string;
  /** @default a {@link DenoFileSystem} */
  fs?: FileSystem;
  /** @default WAL_SEGMENT_BYTES_MAX */
  segmentBytesMax?: number;
  /** Records per group commit; 1 gives one `fdatasync` per append. @default WAL_BATCH_RECORDS_MAX */
  batchRecordsMax?: number;
  /** @default WAL_BATCH_BYTES_MAX */
  batchBytesMax?: number;
  /** How long a batch leader waits for company; 0 writes as soon as the current task ends. @default 0 */
  batchWaitMs?: number;
  /** The lowest seq the next append may get (a checkpoint may be newer than the WAL). @default 1 */
  nextSeqMin?: number;
  /** Called for every good record while opening, in seq order. */
  onRecord?: (record: WalRecord) => void | Promise<void>;
  /** Called synchronously once a batch is durable, before its appends resolve. Must not throw. */
  onCommit?: (records: WalCommitted<M>[]) => void;
}

/** Counters of a WAL since it was opened. */
export interface WalStats {
  appends: number;
  batches: number;
  bytes: number;
  failedBatches: number;
  rotations: number;
  segments: number;
  /** Recent `fdatasync` latencies, oldest first. */
  fsyncMs: number[];
  /** Recent batch sizes in records, oldest first. */
  batchRecords: number[];
}

/** A segment's span. */
export interface SegmentInfo {
  firstSeq: number;
  /** `firstSeq - 1` when empty. */
  lastSeq: number;
  /** Durable bytes. */
  bytes: number;
}

interface Pending<M> {
  payload: Uint8Array | Promise<Uint8Array>;
  meta: M;
  resolve: (position: WalPosition) => void;
  reject: (error: Error) => void;
}

interface Ready<M> extends Pending<M> {
  payload: Uint8Array;
}

interface Settings {
  segmentBytesMax: number;
  batchRecordsMax: number;
  batchBytesMax: number;
  batchWaitMs: number;
}

/** The write-ahead log; see the module doc. */
export class Wal<M = undefined> {
  #fs: FileSystem;
  #dir: string;
  #settings: Settings;
  #onCommit?: (records: WalCommitted<M>[]) => void;
  #report: WalScanReport;
  #segments: SegmentInfo[];
  #active: SegmentFile;
  #nextSeq: number;
  #queue: Pending<M>[] = [];
  #flushing = false;
  #closed = false;
  #poison: VaultIoError | undefined;
  #idle: (() => void)[] = [];
  #counts = { appends: 0, batches: 0, bytes: 0, failedBatches: 0, rotations: 0 };
  #fsyncMs = new SampleRing();
  #batchRecords = new SampleRing();

  /** Use {@link Wal.open}; the constructor only stores what `open` prepared. */
  constructor(
    options: WalOptions<M>,
    fs: FileSystem,
    settings: Settings,
    state: { report: WalScanReport; segments: SegmentInfo[]; active: SegmentFile; nextSeq: number },
  ) {
    this.#fs = fs;
    this.#dir = options.dir;
    this.#settings = settings;
    this.#onCommit = options.onCommit;
    this.#report = state.report;
    this.#segments = state.segments;
    this.#active = state.active;
    this.#nextSeq = state.nextSeq;
  }

  /**
   * Opens (or creates) the WAL in `options.dir`: scans every segment, cuts it back at the first torn or
   * corrupt record, replays the good records through `onRecord`, and opens the newest segment for appends.
   *
   * @returns The open WAL.
   * @throws {VaultError} `VAULT_CONFIG_INVALID` for a bad option; {@link VaultIoError} when the disk fails;
   *   whatever `onRecord` throws (then nothing is cut).
   */
  static async open<M = undefined>(options: WalOptions<M>): Promise<Wal<M>> {
    const settings = checkSettings(options);
    const fs = options.fs ?? new DenoFileSystem();
    try {
      await fs.mkdirp(options.dir);
    } catch (e) {
      throw ioError(`Cannot create WAL directory ${options.dir}`, e);
    }
    const onRecord = options.onRecord;
    const report = await scanWal(fs, options.dir, {
      repair: true,
      onRecord: onRecord && ((r: WalScanRecord) => onRecord({ ...r, payload: r.payload.slice() })),
    });
    const segments = report.segments.map((s) => ({
      firstSeq: s.firstSeq,
      lastSeq: s.lastSeq,
      bytes: s.validBytes,
    }));
    const nextSeq = Math.max(report.nextSeq, options.nextSeqMin ?? 1);
    const last = segments.at(-1);
    let active: SegmentFile;
    if (last !== undefined && last.lastSeq + 1 === nextSeq) {
      active = await openSegment(fs, `${options.dir}/${segmentName(last.firstSeq)}`, false);
    } else {
      active = await createSegment(fs, options.dir, nextSeq);
      segments.push({ firstSeq: nextSeq, lastSeq: nextSeq - 1, bytes: 0 });
    }
    return new Wal<M>(options, fs, settings, { report, segments, active, nextSeq });
  }

  /** What the scan at open found and cut. */
  get scanReport(): WalScanReport {
    return this.#report;
  }

  /** The seq of the newest durable record (0 when there is none). */
  get lastSeq(): number {
    return this.#nextSeq - 1;
  }

  /** The segments, oldest first; the last one takes appends. */
  segments(): SegmentInfo[] {
    return this.#segments.map((s) => ({ ...s }));
  }

  /**
   * Appends one record. The promise resolves once the record is durable, with its position.
   *
   * @param payload The record body, or a promise of it (order is kept either way).
   * @param meta Handed to `onCommit` with the position.
   * @returns The durable position.
   * @throws {VaultError} `VAULT_CLOSED`, `VAULT_OVERLOADED`, `WAL_RECORD_TOO_LARGE`; {@link VaultIoError}
   *   when the batch's write or sync failed (the record is then not in the WAL).
   */
  append(payload: Uint8Array | Promise<Uint8Array>, meta: M): Promise<WalPosition> {
    if (this.#closed) {
      return Promise.reject(new VaultError("VAULT_CLOSED", "Cannot append to the WAL: it is closed"));
    }
    if (this.#queue.length >= WAL_QUEUE_RECORDS_MAX) {
      return Promise.reject(
        new VaultError(
          "VAULT_OVERLOADED",
          `Cannot append to the WAL: ${WAL_QUEUE_RECORDS_MAX} appends are queued`,
        ),
      );
    }
    if (payload instanceof Uint8Array) {
      const tooLarge = checkPayload(payload);
      if (tooLarge) return Promise.reject(tooLarge);
    } else payload.catch(() => {}); // Rejections are handled when the batch awaits it.
    return new Promise((resolve, reject) => {
      this.#queue.push({ payload, meta, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    const run = () => void this.#flushLoop();
    if (this.#settings.batchWaitMs > 0) setTimeout(run, this.#settings.batchWaitMs);
    else queueMicrotask(run);
  }

  async #flushLoop(): Promise<void> {
    try {
      // Each turn removes at least one queued append, so the loop ends once the queue is drained.
      while (this.#queue.length > 0) {
        const batch = await this.#takeBatch();
        if (batch.length > 0) await this.#commit(batch);
      }
    } finally {
      this.#flushing = false;
      for (const wake of this.#idle.splice(0)) wake();
    }
  }

  async #takeBatch(): Promise<Ready<M>[]> {
    const taken = this.#queue.splice(0, this.#settings.batchRecordsMax);
    const payloads = await Promise.allSettled(taken.map((p) => p.payload));
    const batch: Ready<M>[] = [];
    let bytes = 0;
    for (let i = 0; i < taken.length; i++) {
      const settled = payloads[i];
      if (settled.status === "rejected") {
        taken[i].reject(settled.reason instanceof Error ? settled.reason : new Error(String(settled.reason)));
        continue;
      }
      const payload = settled.value;
      const tooLarge = checkPayload(payload);
      if (tooLarge) {
        taken[i].reject(tooLarge);
        continue;
      }
      if (batch.length > 0 && bytes + payload.length > this.#settings.batchBytesMax) {
        // The rest go back to the head of the queue, in order; their payloads are settled already.
        this.#queue.unshift(...taken.slice(i));
        break;
      }
      bytes += payload.length;
      batch.push({ ...taken[i], payload });
    }
    return batch;
  }

  async #commit(batch: Ready<M>[]): Promise<void> {
    const bytes = batch.reduce((n, p) => n + WAL_RECORD_HEADER_BYTES + p.payload.length, 0);
    try {
      if (this.#poison) await this.#heal();
      const active = this.#segments.at(-1)!;
      if (active.bytes > 0 && active.bytes + bytes > this.#settings.segmentBytesMax) await this.#rotate();
    } catch (e) {
      return this.#fail(batch, e instanceof VaultIoError ? e : ioError("Cannot prepare the WAL segment", e));
    }
    const segment = this.#segments.at(-1)!;
    const buffer = new Uint8Array(bytes);
    const committed: WalCommitted<M>[] = [];
    let at = 0;
    for (let i = 0; i < batch.length; i++) {
      const seq = this.#nextSeq + i;
      const next = writeRecord(buffer, at, seq, batch[i].payload);
      committed.push({
        seq,
        segment: segment.firstSeq,
        offset: segment.bytes + at,
        bytes: next - at,
        meta: batch[i].meta,
      });
      at = next;
    }
    try {
      await this.#active.writeAt(buffer, segment.bytes);
      const started = performance.now();
      await this.#active.syncData();
      this.#fsyncMs.push(performance.now() - started);
    } catch (e) {
      const error = ioError(`Cannot write WAL segment ${segmentName(segment.firstSeq)}`, e);
      await this.#rollback(segment);
      return this.#fail(batch, error);
    }
    this.#succeed(batch, committed, segment, bytes);
  }

  #succeed(batch: Ready<M>[], committed: WalCommitted<M>[], segment: SegmentInfo, bytes: number): void {
    segment.bytes += bytes;
    segment.lastSeq += batch.length;
    this.#nextSeq += batch.length;
    assert(segment.lastSeq === this.#nextSeq - 1, "The active segment must end at the newest seq");
    this.#counts.appends += batch.length;
    this.#counts.batches++;
    this.#counts.bytes += bytes;
    this.#batchRecords.push(batch.length);
    try {
      this.#onCommit?.(committed);
    } catch (e) {
      // A throwing onCommit is a bug in the caller: stop taking appends rather than run on in a wrong state.
      this.#closed = true;
      for (const p of batch) p.reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const { meta: _meta, ...position } = committed[i];
      batch[i].resolve(position);
    }
  }

  #fail(batch: Pending<M>[], error: VaultIoError): void {
    this.#counts.failedBatches++;
    for (const p of batch) p.reject(error);
  }

  async #rollback(segment: SegmentInfo): Promise<void> {
    let last: unknown;
    for (let attempt = 0; attempt < WAL_ROLLBACK_ATTEMPTS_MAX; attempt++) {
      try {
        await this.#active.truncate(segment.bytes);
        await this.#active.syncData();
        return;
      } catch (e) {
        last = e;
      }
    }
    this.#poison = ioError(
      `Cannot roll WAL segment ${segmentName(segment.firstSeq)} back to ${segment.bytes}`,
      last,
    );
  }

  async #heal(): Promise<void> {
    const segment = this.#segments.at(-1)!;
    const path = `${this.#dir}/${segmentName(segment.firstSeq)}`;
    this.#active.close();
    try {
      this.#active = await openSegment(this.#fs, path, false);
      await this.#active.truncate(segment.bytes);
      await this.#active.syncData();
    } catch (e) {
      throw ioError(`Cannot append: the WAL is poisoned (${this.#poison?.message})`, e);
    }
    this.#poison = undefined;
  }

  async #rotate(): Promise<void> {
    const file = await createSegment(this.#fs, this.#dir, this.#nextSeq);
    this.#active.close();
    this.#active = file;
    this.#segments.push({ firstSeq: this.#nextSeq, lastSeq: this.#nextSeq - 1, bytes: 0 });
    this.#counts.rotations++;
  }

  /**
   * Reads records back by position, checking each one's CRC and seq again.
   *
   * @param positions Positions from appends or the open scan, in any order.
   * @returns Their payloads, in the order asked.
   * @throws {VaultError} `WAL_CORRUPT` when a record no longer verifies; {@link VaultIoError} on read errors.
   */
  async readRecords(positions: WalPosition[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = new Array(positions.length);
    const bySegment = new Map<number, number[]>();
    positions.forEach((p, i) => {
      const list = bySegment.get(p.segment);
      if (list) list.push(i);
      else bySegment.set(p.segment, [i]);
    });
    for (const [segment, indexes] of bySegment) {
      const path = `${this.#dir}/${segmentName(segment)}`;
      const file = await openSegment(this.#fs, path, false);
      try {
        for (const i of indexes) out[i] = await readOne(file, positions[i]);
      } catch (e) {
        throw e instanceof VaultError ? e : ioError(`Cannot read WAL segment ${path}`, e);
      } finally {
        file.close();
      }
    }
    return out;
  }

  /**
   * Visits every retained record with `seq >= fromSeq`, in order (a slow path: it reads whole segments).
   *
   * @throws {VaultError} `WAL_CORRUPT` when a durable record no longer verifies.
   */
  async replay(fromSeq: number, visit: (record: WalRecord) => void | Promise<void>): Promise<void> {
    for (const segment of this.segments()) {
      if (segment.lastSeq < fromSeq) continue;
      const path = `${this.#dir}/${segmentName(segment.firstSeq)}`;
      let bytes: Uint8Array;
      try {
        bytes = (await this.#fs.readFile(path)).subarray(0, segment.bytes);
      } catch (e) {
        throw ioError(`Cannot read WAL segment ${path}`, e);
      }
      const scan = scanRecords(bytes, segment.firstSeq);
      if (scan.problem) throw corrupt(path, scan.problem.offset, scan.problem.reason);
      for (const r of scan.records) {
        if (r.seq >= fromSeq) await visit({ ...r, segment: segment.firstSeq, payload: r.payload.slice() });
      }
    }
  }

  /**
   * Deletes whole segments (never the active one).
   *
   * @param firstSeqs The segments to delete, by first seq.
   * @returns The first seqs actually deleted.
   * @throws {VaultIoError} When a removal or the directory sync fails (earlier removals stand).
   */
  async deleteSegments(firstSeqs: number[]): Promise<number[]> {
    const active = this.#segments.at(-1)!.firstSeq;
    const wanted = new Set(firstSeqs.filter((s) => s !== active));
    const deleted: number[] = [];
    try {
      for (const segment of this.#segments.filter((s) => wanted.has(s.firstSeq))) {
        await this.#fs.remove(`${this.#dir}/${segmentName(segment.firstSeq)}`);
        this.#segments = this.#segments.filter((s) => s !== segment);
        deleted.push(segment.firstSeq);
      }
      if (deleted.length > 0) await this.#fs.syncDir(this.#dir);
    } catch (e) {
      throw ioError(`Cannot delete WAL segments in ${this.#dir}`, e);
    }
    return deleted;
  }

  /** Counters and recent samples. */
  stats(): WalStats {
    return {
      ...this.#counts,
      segments: this.#segments.length,
      fsyncMs: this.#fsyncMs.values(),
      batchRecords: this.#batchRecords.values(),
    };
  }

  /** Stops taking appends, waits for queued ones to settle, and closes the active segment. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#flushing) await new Promise<void>((wake) => this.#idle.push(wake));
    this.#active.close();
  }
}

function checkSettings<M>(options: WalOptions<M>): Settings {
  const settings = {
    segmentBytesMax: options.segmentBytesMax ?? WAL_SEGMENT_BYTES_MAX,
    batchRecordsMax: options.batchRecordsMax ?? WAL_BATCH_RECORDS_MAX,
    batchBytesMax: options.batchBytesMax ?? WAL_BATCH_BYTES_MAX,
    batchWaitMs: options.batchWaitMs ?? 0,
  };
  const ranges: [keyof Settings, number, number][] = [
    ["segmentBytesMax", WAL_SEGMENT_BYTES_MIN, WAL_SEGMENT_BYTES_MAX],
    ["batchRecordsMax", 1, WAL_BATCH_RECORDS_MAX],
    ["batchBytesMax", 1, WAL_BATCH_BYTES_MAX],
    ["batchWaitMs", 0, WAL_BATCH_WAIT_MS_MAX],
  ];
  for (const [name, min, max] of ranges) {
    const v = settings[name];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new VaultError(
        "VAULT_CONFIG_INVALID",
        `Cannot open WAL as '${name}' must be an integer in [${min}, ${max}]: current value is ${v}`,
      );
    }
  }
  return settings;
}

function checkPayload(payload: Uint8Array): VaultError | undefined {
  if (payload.length > 0 && payload.length <= WAL_RECORD_BYTES_MAX) return undefined;
  return new VaultError(
    "WAL_RECORD_TOO_LARGE",
    `Cannot append a WAL record of ${payload.length} bytes: the bounds are 1 to ${WAL_RECORD_BYTES_MAX}`,
  );
}

function corrupt(path: string, offset: number, reason: string): VaultError {
  return new VaultError("WAL_CORRUPT", `Cannot read WAL record at ${path}:${offset}: ${reason}`);
}

async function readOne(file: SegmentFile, position: WalPosition): Promise<Uint8Array> {
  const buffer = new Uint8Array(position.bytes);
  const n = await file.readAt(buffer, position.offset);
  const found = checkRecord(buffer.subarray(0, n), 0, position.seq);
  if ("kind" in found) throw corrupt(file.path, position.offset, found.reason);
  assert(found.bytes === position.bytes, "A record read back must have the size it was written with");
  return found.payload;
}

async function openSegment(fs: FileSystem, path: string, create: boolean): Promise<SegmentFile> {
  try {
    return await fs.openFile(path, { create });
  } catch (e) {
    throw ioError(`Cannot open WAL segment ${path}`, e);
  }
}

async function createSegment(fs: FileSystem, dir: string, firstSeq: number): Promise<SegmentFile> {
  const path = `${dir}/${segmentName(firstSeq)}`;
  const file = await openSegment(fs, path, true);
  try {
    // A file by this name can only be an empty leftover of a rotation that failed after creating it.
    const size = await file.size();
    if (size !== 0) throw new Error(`a non-empty file of ${size} bytes is in the way`);
    await fs.syncDir(dir);
  } catch (e) {
    file.close();
    // Leave no empty file behind if possible: the next rotation may use another name. (A leftover is
    // harmless anyway: the scan ignores empty segments named below the seq reached.)
    await fs.remove(path).catch(() => {});
    throw ioError(`Cannot create WAL segment ${path}`, e);
  }
  return file;
}
