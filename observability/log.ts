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
/** Lines are written in batches: at most this long after they are logged… */
export const LOG_FLUSH_MS = 100;
/** …or as soon as this many bytes wait. */
export const LOG_BUFFER_BYTES_MAX = 64 * 1024;

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
  /**
   * Lowest level echoed to stderr. Every line is in the file already; off a terminal (a service, a pipe)
   * echoing each request line would cost a write per request. @default level on a TTY, "warn" otherwise
   */
  consoleLevel?: LogLevel;
  /** Rotation size. @default LOG_FILE_BYTES_MAX */
  fileBytesMax?: number;
}

/**
 * Writes log lines to the file in batches (one write per `LOG_FLUSH_MS` or `LOG_BUFFER_BYTES_MAX`, so
 * logging every request stays cheap); `warn` and `error` lines and `close()` flush at once.
 */
export class Logger {
  readonly #path: string | undefined;
  readonly #level: number;
  readonly #console: boolean;
  readonly #consoleLevel: number;
  readonly #tty: boolean;
  readonly #fileBytesMax: number;
  #file: Deno.FsFile | undefined;
  #bytes = 0;
  /** Lines waiting for the next write (encoded once, at the write). */
  #pending: string[] = [];
  #pendingChars = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #encoder = new TextEncoder();

  constructor(options: LoggerOptions = {}) {
    this.#level = LEVELS[options.level ?? "info"];
    this.#console = options.console ?? true;
    this.#tty = Deno.stderr.isTerminal();
    this.#consoleLevel = LEVELS[options.consoleLevel ?? (this.#tty ? options.level ?? "info" : "warn")];
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
    const record = { time: isoNow(), level, msg, ...fields };
    // A replacer makes JSON.stringify call back for every key; most lines (the access line) need none.
    const line = (plain(fields) ? JSON.stringify(record) : JSON.stringify(record, jsonSafe)) + "\n";
    if (this.#file !== undefined) {
      this.#pending.push(line);
      this.#pendingChars += line.length;
      if (this.#pendingChars >= LOG_BUFFER_BYTES_MAX || LEVELS[level] >= LEVELS.warn) this.flush();
      else if (this.#timer === undefined) {
        this.#timer = setTimeout(() => this.flush(), LOG_FLUSH_MS);
        Deno.unrefTimer(this.#timer);
      }
    }
    if (this.#console && LEVELS[level] >= this.#consoleLevel) {
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

  /** Writes every waiting line now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#file === undefined || this.#pending.length === 0) return;
    const all = this.#encoder.encode(this.#pending.join(""));
    this.#pending = [];
    this.#pendingChars = 0;
    if (this.#bytes + all.length > this.#fileBytesMax && this.#bytes > 0) this.#rotate();
    let written = 0;
    while (written < all.length) written += this.#file.writeSync(all.subarray(written));
    this.#bytes += all.length;
  }

  /** Flushes and closes the file. */
  close(): void {
    this.flush();
    this.#file?.close();
    this.#file = undefined;
  }
}

let isoMs = -1;
let isoText = "";

/** The time as ISO 8601, formatted once per millisecond (many lines share one under load). */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/** Whether every field is a string, number, boolean, null or undefined (JSON as is, no replacer needed). */
function plain(fields: LogFields): boolean {
  for (const key in fields) {
    const v = fields[key];
    const t = typeof v;
    if (v !== null && t !== "string" && t !== "number" && t !== "boolean" && t !== "undefined") return false;
  }
  return true;
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
