/**
 * Structured logs: JSON lines in `DIR/logs/o.log` (fields `time`, `level`, `msg`, `request_id`, `agent`,
 * `version`, plus any others), rotated by size to `o.log.1`…`o.log.N`; a short human format on a TTY.
 *
 * @module
 */
import type { LogLevel } from "../protocol/mod.ts";

/** Size at which `o.log` rotates. */
export const LOG_FILE_BYTES_MAX = 16 * 1024 * 1024;
/** Rotated files kept (`o.log.1` newest). */
export const LOG_FILES_KEPT_MAX = 5;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Extra fields of one line. */
export type LogFields = Record<string, unknown> & { request_id?: string; agent?: string; version?: string };

/** Options of {@link Logger}. */
export interface LoggerOptions {
  /** Directory for `o.log`; no file when absent. */
  dir?: string;
  /** Lowest level written. @default "info" */
  level?: LogLevel;
  /** Echo to stderr: human format on a TTY, JSON otherwise. @default true */
  console?: boolean;
  /** Rotation size. @default LOG_FILE_BYTES_MAX */
  fileBytesMax?: number;
}

/** Writes log lines synchronously (a line is on disk, unsynced, when the call returns). */
export class Logger {
  readonly #path: string | undefined;
  readonly #level: number;
  readonly #console: boolean;
  readonly #tty: boolean;
  readonly #fileBytesMax: number;
  #file: Deno.FsFile | undefined;
  #bytes = 0;
  readonly #encoder = new TextEncoder();

  constructor(options: LoggerOptions = {}) {
    this.#level = LEVELS[options.level ?? "info"];
    this.#console = options.console ?? true;
    this.#tty = Deno.stderr.isTerminal();
    this.#fileBytesMax = options.fileBytesMax ?? LOG_FILE_BYTES_MAX;
    if (options.dir !== undefined) {
      Deno.mkdirSync(options.dir, { recursive: true });
      this.#path = `${options.dir}/o.log`;
      this.#open();
    }
  }

  #open(): void {
    this.#file = Deno.openSync(this.#path!, { create: true, append: true });
    this.#bytes = this.#file.statSync().size;
  }

  #rotate(): void {
    this.#file?.close();
    for (let i = LOG_FILES_KEPT_MAX - 1; i >= 1; i--) {
      try {
        Deno.renameSync(`${this.#path}.${i}`, `${this.#path}.${i + 1}`);
      } catch {
        // Not there yet.
      }
    }
    try {
      Deno.removeSync(`${this.#path}.${LOG_FILES_KEPT_MAX + 1}`);
    } catch {
      // Not there.
    }
    Deno.renameSync(this.#path!, `${this.#path}.1`);
    this.#open();
  }

  /** Writes one line at `level`. */
  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (LEVELS[level] < this.#level) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }, jsonSafe) + "\n";
    if (this.#file !== undefined) {
      const bytes = this.#encoder.encode(line);
      if (this.#bytes + bytes.length > this.#fileBytesMax && this.#bytes > 0) this.#rotate();
      this.#file.writeSync(bytes);
      this.#bytes += bytes.length;
    }
    if (this.#console) {
      const text = this.#tty ? human(level, msg, fields) : line;
      Deno.stderr.writeSync(this.#encoder.encode(text));
    }
  }

  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  /** Closes the file. */
  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

function human(level: LogLevel, msg: string, fields: LogFields): string {
  const time = new Date().toISOString().slice(11, 23);
  const extra = Object.entries(fields).map(([k, v]) =>
    `${k}=${typeof v === "string" ? v : JSON.stringify(v, jsonSafe)}`
  );
  return `${time} ${level.toUpperCase().padEnd(5)} ${msg}${extra.length ? "  " + extra.join(" ") : ""}\n`;
}
