/**
 * Scans a WAL directory in seq order, stopping at the first torn or corrupt record, and (with `repair`)
 * cuts the WAL back to its good prefix: the bad segment is truncated at the bad record, and every later
 * segment is moved into `wal/quarantine/` (with the cut-off bytes), so nothing after the hole is replayed
 * and no seq is ever reused by two files.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";
import { ioError, VaultError } from "./errors.ts";
import { type FileSystem, writeFileDurable } from "./file_system.ts";
import { WAL_SEGMENT_NAME_DIGITS, WAL_SEGMENTS_MAX } from "./limits.ts";
import { type RecordProblem, type ScannedRecord, scanRecords } from "./wal_record.ts";

/** Folder (inside the WAL directory) that receives the bytes a repair cut off. */
export const QUARANTINE_DIR = "quarantine";
const SEGMENT_NAME = new RegExp(`^(\\d{${WAL_SEGMENT_NAME_DIGITS}})\\.wal$`);

/** What a scan found in one segment. */
export interface SegmentReport {
  name: string;
  firstSeq: number;
  records: number;
  /** `firstSeq - 1` when the segment holds no record. */
  lastSeq: number;
  /** The file's size when scanned. */
  fileBytes: number;
  /** Bytes up to the end of the last good record. */
  validBytes: number;
}

/** The first problem of a WAL, located. */
export interface WalProblem extends RecordProblem {
  segment: string;
}

/** One good record met by a scan. */
export interface WalScanRecord extends ScannedRecord {
  /** The first seq of the segment holding it. */
  segment: number;
}

/** The result of {@link scanWal}. */
export interface WalScanReport {
  /** Segments that stay, in seq order (the problem segment included, as cut). */
  segments: SegmentReport[];
  problem?: WalProblem;
  /** Segments after the problem: never replayed; moved to quarantine when repaired. */
  dropped: SegmentReport[];
  /** Whether the cut was carried out. */
  repaired: boolean;
  /** Files written into `quarantine/` by the repair. */
  quarantined: string[];
  /**
   * Empty segment files named below the seq already reached: leftovers of a rotation that failed after
   * creating its file. They hold nothing and are ignored (removed by a repair).
   */
  strays: string[];
  /** The seq the next appended record gets. */
  nextSeq: number;
  /** Good records replayed. */
  records: number;
}

/** Options of {@link scanWal}. */
export interface ScanWalOptions {
  /** Cut the WAL back to its good prefix. */
  repair: boolean;
  /** Called for each good record in seq order; a throw aborts the scan (nothing is cut then). */
  onRecord?: (record: WalScanRecord) => void | Promise<void>;
}

/**
 * The file name of the segment whose first record has `seq`.
 *
 * @returns e.g. `00000000000000000001.wal`.
 */
export function segmentName(seq: number): string {
  assert(Number.isSafeInteger(seq) && seq > 0, "A segment's first seq must be a positive safe integer");
  return `${String(seq).padStart(WAL_SEGMENT_NAME_DIGITS, "0")}.wal`;
}

/**
 * Lists the segment files of a WAL directory, in seq order.
 *
 * @returns Each segment's name and first seq; an absent directory has none.
 * @throws {VaultError} `VAULT_LIMIT` past `WAL_SEGMENTS_MAX` files.
 */
export async function listSegments(
  fs: FileSystem,
  dir: string,
): Promise<{ name: string; firstSeq: number }[]> {
  if (!(await fs.exists(dir))) return [];
  const out: { name: string; firstSeq: number }[] = [];
  for (const name of await fs.readDir(dir)) {
    const match = SEGMENT_NAME.exec(name);
    if (match) out.push({ name, firstSeq: Number(match[1]) });
  }
  if (out.length > WAL_SEGMENTS_MAX) {
    throw new VaultError(
      "VAULT_LIMIT",
      `Cannot open WAL ${dir}: ${out.length} segments exceed ${WAL_SEGMENTS_MAX}`,
    );
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
}

/**
 * Scans (and optionally repairs) the WAL in `dir`.
 *
 * @param fs The file system.
 * @param dir The WAL directory (`DATA/wal`).
 * @param options Whether to repair, and a callback per good record.
 * @returns The report.
 * @throws {VaultIoError} When reading or repairing fails; whatever `onRecord` throws.
 */
export async function scanWal(fs: FileSystem, dir: string, options: ScanWalOptions): Promise<WalScanReport> {
  const report: WalScanReport = {
    segments: [],
    dropped: [],
    repaired: false,
    quarantined: [],
    strays: [],
    nextSeq: 1,
    records: 0,
  };
  let expected: number | undefined;
  for (const { name, firstSeq } of await listSegments(fs, dir)) {
    const bytes = await readSegment(fs, `${dir}/${name}`);
    if (report.problem) {
      report.dropped.push(segmentReport(name, firstSeq, bytes, scanRecords(bytes, firstSeq).records.length));
      continue;
    }
    if (expected !== undefined && firstSeq < expected && bytes.length === 0) {
      report.strays.push(name);
      continue;
    }
    if (expected !== undefined && firstSeq < expected) {
      report.problem = {
        segment: name,
        kind: "corrupt",
        offset: 0,
        seq: expected,
        reason: "segment overlaps",
      };
      report.dropped.push(segmentReport(name, firstSeq, bytes, scanRecords(bytes, firstSeq).records.length));
      continue;
    }
    const scan = scanRecords(bytes, firstSeq);
    for (const record of scan.records) await options.onRecord?.({ ...record, segment: firstSeq });
    report.records += scan.records.length;
    report.segments.push({
      ...segmentReport(name, firstSeq, bytes, scan.records.length),
      validBytes: scan.end,
    });
    expected = firstSeq + scan.records.length;
    if (scan.problem) report.problem = { ...scan.problem, segment: name };
  }
  report.nextSeq = report.problem?.seq ?? expected ?? 1;
  if (report.problem && options.repair) await repair(fs, dir, report);
  if (report.strays.length > 0 && options.repair) await removeStrays(fs, dir, report.strays);
  return report;
}

function segmentReport(name: string, firstSeq: number, bytes: Uint8Array, records: number): SegmentReport {
  return { name, firstSeq, records, lastSeq: firstSeq + records - 1, fileBytes: bytes.length, validBytes: 0 };
}

async function readSegment(fs: FileSystem, path: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(path);
  } catch (e) {
    throw ioError(`Cannot read WAL segment ${path}`, e);
  }
}

async function repair(fs: FileSystem, dir: string, report: WalScanReport): Promise<void> {
  const problem = report.problem;
  assert(problem !== undefined, "A repair needs a problem");
  const quarantine = `${dir}/${QUARANTINE_DIR}`;
  try {
    await fs.mkdirp(quarantine);
    const cut = report.segments.find((s) => s.name === problem.segment);
    if (cut) await cutSegment(fs, dir, cut, report.quarantined);
    for (const segment of report.dropped) {
      const target = await freeName(fs, `${quarantine}/${segment.name}`);
      await fs.rename(`${dir}/${segment.name}`, target);
      report.quarantined.push(target);
    }
    await fs.syncDir(quarantine);
    await fs.syncDir(dir);
  } catch (e) {
    throw ioError(`Cannot repair WAL ${dir} at ${problem.segment}:${problem.offset}`, e);
  }
  report.repaired = true;
}

async function removeStrays(fs: FileSystem, dir: string, strays: string[]): Promise<void> {
  try {
    for (const name of strays) await fs.remove(`${dir}/${name}`);
    await fs.syncDir(dir);
  } catch (e) {
    throw ioError(`Cannot remove empty leftover segments in ${dir}`, e);
  }
}

async function cutSegment(fs: FileSystem, dir: string, segment: SegmentReport, out: string[]): Promise<void> {
  const path = `${dir}/${segment.name}`;
  const bytes = await fs.readFile(path);
  const tail = await freeName(fs, `${dir}/${QUARANTINE_DIR}/${segment.name}.tail-${segment.validBytes}`);
  await writeFileDurable(fs, tail, bytes.subarray(segment.validBytes));
  out.push(tail);
  const file = await fs.openFile(path, { create: false });
  try {
    await file.truncate(segment.validBytes);
    await file.syncData();
  } finally {
    file.close();
  }
  segment.fileBytes = segment.validBytes;
}

async function freeName(fs: FileSystem, path: string): Promise<string> {
  // Repeated repairs of the same seq range are rare; a handful of suffixes is plenty.
  for (let n = 0; n < 1000; n++) {
    const candidate = n === 0 ? path : `${path}.${n}`;
    if (!(await fs.exists(candidate))) return candidate;
  }
  throw new VaultError("VAULT_LIMIT", `Cannot quarantine ${path}: 1000 copies exist already`);
}
