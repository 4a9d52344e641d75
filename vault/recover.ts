/**
 * Offline check and repair of a data directory (`main.ts recover`): scans every WAL segment for torn or
 * corrupt records, and verifies the header and checksum of every checkpoint (file copies and the rows
 * of `vault.db`). No key is needed: encrypted bodies are checked by their CRC. `repair` cuts the WAL at
 * the first bad record (later segments move to `wal/quarantine/`), exactly as opening the vault would.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { verifyCheckpoint } from "./checkpoint.ts";
import { DenoFileSystem, type FileSystem } from "./file_system.ts";
import { QUARANTINE_DIR, scanWal, type SegmentReport } from "./wal_scan.ts";

/** A checkpoint that failed verification. */
export interface CheckpointFailure {
  /** A file path, or `vault.db:<agent>/<id>`. */
  where: string;
  reason: string;
}

/** The report of {@link checkDataDir}; field names follow the JSON output. */
export interface DataDirReport {
  data_dir: string;
  wal: {
    segments: {
      name: string;
      first_seq: number;
      last_seq: number;
      records: number;
      bytes: number;
      valid_bytes: number;
    }[];
    records: number;
    next_seq: number;
    problem: { segment: string; offset: number; seq: number; kind: string; reason: string } | null;
    dropped_segments: string[];
    dropped_records: number;
    repaired: boolean;
    quarantined: string[];
  };
  checkpoints: { files_verified: number; rows_verified: number; failed: CheckpointFailure[] };
  /** No WAL problem left and every checkpoint verifies. */
  ok: boolean;
}

/**
 * Checks (and with `repair`, cuts back) the WAL and checkpoints under `dir`.
 *
 * @param dir The data directory.
 * @param options `repair` truncates the WAL at its first bad record. @default { repair: false }
 * @returns The report.
 * @throws {VaultIoError} When files cannot be read or the repair fails.
 */
export async function checkDataDir(
  dir: string,
  options: { repair?: boolean; fs?: FileSystem } = {},
): Promise<DataDirReport> {
  const fs = options.fs ?? new DenoFileSystem();
  const scan = await scanWal(fs, `${dir}/wal`, { repair: options.repair === true });
  const failed: CheckpointFailure[] = [];
  const filesVerified = await verifyFiles(fs, `${dir}/checkpoints`, failed);
  const rowsVerified = await verifyRows(`${dir}/vault.db`, failed);
  const segment = (s: SegmentReport) => ({
    name: s.name,
    first_seq: s.firstSeq,
    last_seq: s.lastSeq,
    records: s.records,
    bytes: s.fileBytes,
    valid_bytes: s.validBytes,
  });
  const problem = scan.problem
    ? {
      segment: scan.problem.segment,
      offset: scan.problem.offset,
      seq: scan.problem.seq,
      kind: scan.problem.kind,
      reason: scan.problem.reason,
    }
    : null;
  return {
    data_dir: dir,
    wal: {
      segments: scan.segments.map(segment),
      records: scan.records,
      next_seq: scan.nextSeq,
      problem,
      dropped_segments: scan.dropped.map((s) => s.name),
      dropped_records: scan.dropped.reduce((n, s) => n + s.records, 0),
      repaired: scan.repaired,
      quarantined: scan.quarantined,
    },
    checkpoints: { files_verified: filesVerified, rows_verified: rowsVerified, failed },
    ok: (problem === null || scan.repaired) && failed.length === 0,
  };
}

async function verifyFiles(fs: FileSystem, dir: string, failed: CheckpointFailure[]): Promise<number> {
  if (!(await fs.exists(dir))) return 0;
  let verified = 0;
  // Two levels: checkpoints/<agent>/<id>.ckpt.
  for (const agent of await fs.readDir(dir)) {
    if (agent === QUARANTINE_DIR) continue;
    let names: string[];
    try {
      names = await fs.readDir(`${dir}/${agent}`);
    } catch {
      continue; // A stray file, not an agent folder.
    }
    for (const name of names.filter((n) => n.endsWith(".ckpt")).sort()) {
      const path = `${dir}/${agent}/${name}`;
      try {
        verifyCheckpoint(await fs.readFile(path));
        verified++;
      } catch (e) {
        failed.push({ where: path, reason: (e as Error).message });
      }
    }
  }
  return verified;
}

async function verifyRows(path: string, failed: CheckpointFailure[]): Promise<number> {
  try {
    await Deno.stat(path);
  } catch {
    return 0;
  }
  const db = new DatabaseSync(path, { readOnly: true });
  let verified = 0;
  try {
    const rows = db.prepare("SELECT agent, id, blob FROM checkpoints ORDER BY agent, seq").iterate();
    for (const row of rows as Iterable<Record<string, unknown>>) {
      try {
        verifyCheckpoint(row.blob as Uint8Array);
        verified++;
      } catch (e) {
        failed.push({ where: `vault.db:${row.agent}/${row.id}`, reason: (e as Error).message });
      }
    }
  } finally {
    db.close();
  }
  return verified;
}

const HELP = `Usage: main.ts recover [--data DIR] [--repair] [--json]

Checks a data directory offline: every WAL segment for torn or corrupt records, every checkpoint
(files in checkpoints/ and rows of vault.db) for a valid header and checksum. Stop the server first.

Options:
  --data DIR   the data directory (default ./data)
  --repair     cut the WAL at its first bad record; later segments move to wal/quarantine/
  --json       print the report as one JSON object
  --help       show this help

Exit status: 0 when everything verifies (or was repaired), 1 when problems remain, 2 on a usage error.`;

/** Parsed `recover` flags. */
export interface RecoverArgs {
  data: string;
  repair: boolean;
  json: boolean;
  help: boolean;
}

/**
 * Parses the `recover` subcommand's flags.
 *
 * @returns The flags.
 * @throws {TypeError} For an unknown flag or a missing value.
 */
export function parseRecoverArgs(args: string[]): RecoverArgs {
  const out: RecoverArgs = { data: "./data", repair: false, json: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--repair") out.repair = true;
    else if (arg === "--json") out.json = true;
    else if (arg === "--help" || arg === "-h") out.help = true;
    else if (arg === "--data") {
      const value = args[++i];
      if (value === undefined || value.startsWith("--")) {
        throw new TypeError("Cannot parse --data: it needs a directory");
      }
      out.data = value;
    } else if (arg.startsWith("--data=")) out.data = arg.slice("--data=".length);
    else throw new TypeError(`Cannot parse arguments: unknown flag ${arg}`);
  }
  return out;
}

/**
 * Runs `recover`: parses flags, checks (and maybe repairs) the data directory, prints the report.
 *
 * @param args The arguments after `recover`.
 * @returns The exit status (0 ok, 1 problems remain, 2 usage error).
 */
export async function recoverCommand(args: string[]): Promise<number> {
  let parsed: RecoverArgs;
  try {
    parsed = parseRecoverArgs(args);
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.help) {
    console.log(HELP);
    return 0;
  }
  if (!(await isDirectory(parsed.data))) {
    console.error(`Cannot check ${parsed.data}: not a directory`);
    return 1;
  }
  const report = await checkDataDir(parsed.data, { repair: parsed.repair });
  console.log(parsed.json ? JSON.stringify(report) : formatReport(report));
  return report.ok ? 0 : 1;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Renders a report for people.
 *
 * @returns Several lines of text.
 */
export function formatReport(report: DataDirReport): string {
  const { wal, checkpoints } = report;
  const lines = [
    `WAL ${report.data_dir}/wal: ${wal.segments.length} segments, ${wal.records} records, next seq ${wal.next_seq}`,
  ];
  if (wal.problem) {
    const p = wal.problem;
    lines.push(`  ${p.kind} record at ${p.segment}:${p.offset} (seq ${p.seq}): ${p.reason}`);
    lines.push(
      `  after it: ${wal.dropped_segments.length} segments, ${wal.dropped_records} records not replayed`,
    );
    lines.push(
      wal.repaired
        ? `  repaired: cut there; moved aside: ${wal.quarantined.join(", ")}`
        : "  not repaired (use --repair)",
    );
  }
  lines.push(
    `Checkpoints: ${checkpoints.files_verified} files and ${checkpoints.rows_verified} vault.db rows verified, ` +
      `${checkpoints.failed.length} failed`,
  );
  for (const f of checkpoints.failed) lines.push(`  ${f.where}: ${f.reason}`);
  lines.push(report.ok ? "Result: ok" : "Result: problems found");
  return lines.join("\n");
}
