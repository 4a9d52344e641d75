/**
 * A fault-injecting {@link FileSystem} for tests, in the spirit of SQLite's crash VFS: it wraps a real file
 * system, remembers what each file held at its last successful sync, and on command fails writes
 * (cleanly or after a short write), reports ENOSPC, fails syncs, truncates or opens, drops unsynced writes
 * on a simulated crash (optionally keeping a torn, garbled prefix of them), and flips bits. Every random
 * choice comes from a seed, so a failing run replays exactly.
 *
 * Model: a write is durable once a later `syncData` of the same file succeeds. A failed sync loses the
 * writes it covered (Linux marks those pages clean; a later sync will not write them), so after a crash
 * they read as zeros. Creating, renaming and removing files are durable at once.
 *
 * @module
 */
import { DenoFileSystem, type FileSystem, type SegmentFile } from "./file_system.ts";
import { type SeededRandom, seededRandom } from "./_prng.ts";

/** An operation that can be made to fail. */
export type FaultOp = "write" | "sync" | "truncate" | "open" | "read" | "rename" | "remove" | "syncDir";
/** How a write fails: nothing written (`eio`), a prefix written then EIO (`short`), or a prefix then ENOSPC. */
export type FaultKind = "eio" | "short" | "enospc";

/** A scheduled one-shot fault. */
export interface Fault {
  op: FaultOp;
  /** @default "eio" */
  kind?: FaultKind;
  /** Only paths containing this string match. @default any path */
  path?: string;
}

/** Options of {@link FaultyFileSystem}. */
export interface FaultyFileSystemOptions {
  /** Seeds every random choice. */
  seed: number;
  /** The file system underneath. @default a {@link DenoFileSystem} */
  inner?: FileSystem;
  /** Probability per call that an operation fails on its own. @default none */
  rates?: Partial<Record<FaultOp, number>>;
}

/** A fault that happened, for test assertions. */
export interface InjectedFault {
  op: FaultOp;
  kind: FaultKind;
  path: string;
}

interface Tracked {
  /** The bytes a crash would leave. */
  durable: Uint8Array;
  /** Lowest offset written or truncated since the last sync; Infinity when there is none. */
  dirtyFrom: number;
}

/** Thrown by an injected fault; `code` mimics the OS error name. */
export class InjectedFaultError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = "InjectedFaultError";
  }
}

/** The fault-injecting file system; see the module doc for its crash model. */
export class FaultyFileSystem implements FileSystem {
  readonly injected: InjectedFault[] = [];
  #inner: FileSystem;
  #random: SeededRandom;
  #rates: Partial<Record<FaultOp, number>>;
  #planned: Fault[] = [];
  #tracked = new Map<string, Tracked>();
  #handles = new Set<FaultySegmentFile>();
  #dead = false;
  #seed: number;

  constructor(options: FaultyFileSystemOptions) {
    this.#inner = options.inner ?? new DenoFileSystem();
    this.#random = seededRandom(options.seed);
    this.#rates = options.rates ?? {};
    this.#seed = options.seed;
  }

  #alive(op: FaultOp | "readDir" | "mkdirp" | "exists", path: string): void {
    if (this.#dead) {
      throw new InjectedFaultError("EIO", `Input/output error: ${op} ${path} after a simulated crash`);
    }
  }

  /** Schedules `fault` for the next matching operation. */
  failNext(fault: Fault): void {
    this.#planned.push(fault);
  }

  /** Sets (or clears, with `{}`) the random failure rates. */
  setRates(rates: Partial<Record<FaultOp, number>>): void {
    this.#rates = rates;
  }

  /** The shared PRNG, for tests that need more choices from the same seed. */
  get random(): SeededRandom {
    return this.#random;
  }

  /**
   * Decides whether `op` on `path` fails now; records and returns the fault.
   *
   * @internal Used by the file handles.
   */
  fault(op: FaultOp, path: string): FaultKind | undefined {
    this.#alive(op, path);
    const at = this.#planned.findIndex((f) => f.op === op && (f.path === undefined || path.includes(f.path)));
    let kind: FaultKind | undefined;
    if (at >= 0) kind = this.#planned.splice(at, 1)[0].kind ?? "eio";
    else if (this.#random.next() < (this.#rates[op] ?? 0)) {
      kind = op === "write" ? (["eio", "short", "enospc"] as const)[this.#random.int(3)] : "eio";
    }
    if (kind !== undefined) this.injected.push({ op, kind, path });
    return kind;
  }

  /** @internal The crash-state record of a path. */
  tracked(path: string): Tracked | undefined {
    return this.#tracked.get(path);
  }

  /** @internal Forgets a closed handle. */
  release(handle: FaultySegmentFile): void {
    this.#handles.delete(handle);
  }

  async openFile(path: string, options: { create: boolean }): Promise<SegmentFile> {
    if (this.fault("open", path)) throw injectedError("eio", "open", path);
    const inner = await this.#inner.openFile(path, options);
    if (!this.#tracked.has(path)) {
      const size = await inner.size();
      const durable = new Uint8Array(size);
      await inner.readAt(durable, 0);
      this.#tracked.set(path, { durable, dirtyFrom: Infinity });
    }
    const handle = new FaultySegmentFile(this, inner, path);
    this.#handles.add(handle);
    return handle;
  }

  async readFile(path: string): Promise<Uint8Array> {
    if (this.fault("read", path)) throw injectedError("eio", "read", path);
    return await this.#inner.readFile(path);
  }

  async readDir(path: string): Promise<string[]> {
    this.#alive("readDir", path);
    return await this.#inner.readDir(path);
  }

  async remove(path: string): Promise<void> {
    if (this.fault("remove", path)) throw injectedError("eio", "remove", path);
    await this.#inner.remove(path);
    this.#tracked.delete(path);
  }

  async rename(from: string, to: string): Promise<void> {
    if (this.fault("rename", from)) throw injectedError("eio", "rename", from);
    await this.#inner.rename(from, to);
    const tracked = this.#tracked.get(from);
    this.#tracked.delete(from);
    if (tracked) this.#tracked.set(to, tracked);
    else this.#tracked.delete(to);
  }

  async mkdirp(path: string): Promise<void> {
    this.#alive("mkdirp", path);
    return await this.#inner.mkdirp(path);
  }

  async syncDir(path: string): Promise<void> {
    if (this.fault("syncDir", path)) throw injectedError("eio", "syncDir", path);
    await this.#inner.syncDir(path);
  }

  async exists(path: string): Promise<boolean> {
    this.#alive("exists", path);
    return await this.#inner.exists(path);
  }

  /**
   * Simulates power loss. This file system and every handle it gave out die (later calls fail, as the
   * old process would); every tracked file is rewritten to its durable bytes. With `tear`, each file
   * that had unsynced bytes past its durable end keeps a random prefix of them, and the kept tail's last
   * byte may be garbled, as a torn sector would leave it.
   *
   * @returns A fresh file system over the same files, for the "rebooted" process (no faults planned).
   */
  async crash(options: { tear?: boolean } = {}): Promise<FaultyFileSystem> {
    this.#dead = true;
    for (const handle of this.#handles) handle.kill();
    this.#handles.clear();
    for (const [path, tracked] of this.#tracked) {
      if (!(await this.#inner.exists(path))) {
        this.#tracked.delete(path);
        continue;
      }
      const content = await this.#crashContent(path, tracked, options.tear === true);
      await this.#overwrite(path, content);
    }
    return new FaultyFileSystem({ seed: this.#seed + 1, inner: this.#inner });
  }

  async #crashContent(path: string, tracked: Tracked, tear: boolean): Promise<Uint8Array> {
    const current = await this.#inner.readFile(path);
    const durableEnd = Math.min(tracked.durable.length, tracked.dirtyFrom);
    if (!tear || current.length <= durableEnd) return tracked.durable;
    const kept = this.#random.int(current.length - durableEnd);
    const content = new Uint8Array(durableEnd + kept);
    content.set(tracked.durable.subarray(0, durableEnd));
    content.set(current.subarray(durableEnd, durableEnd + kept), durableEnd);
    if (kept > 0 && this.#random.next() < 0.5) content[content.length - 1] ^= 1 + this.#random.int(255);
    return content;
  }

  async #overwrite(path: string, content: Uint8Array): Promise<void> {
    const file = await this.#inner.openFile(path, { create: false });
    try {
      await file.truncate(0);
      await file.writeAt(content, 0);
      await file.syncData();
    } finally {
      file.close();
    }
  }

  /**
   * Flips one bit of a file on "disk" (and in its durable image), as media rot would.
   *
   * @param path The file.
   * @param offset The byte; random when omitted.
   * @param bit The bit 0–7; random when omitted.
   * @returns Where the flip landed.
   */
  async flipBit(path: string, offset?: number, bit?: number): Promise<{ offset: number; bit: number }> {
    const content = await this.#inner.readFile(path);
    if (content.length === 0) throw new RangeError(`Cannot flip a bit in ${path}: the file is empty`);
    const at = offset ?? this.#random.int(content.length);
    const b = bit ?? this.#random.int(8);
    content[at] ^= 1 << b;
    await this.#overwrite(path, content);
    const tracked = this.#tracked.get(path);
    if (tracked && at < tracked.durable.length) tracked.durable[at] ^= 1 << b;
    return { offset: at, bit: b };
  }

  /**
   * Cuts the last `bytes` bytes off a file on "disk", as a torn final write would.
   *
   * @param path The file.
   * @param bytes How many bytes to drop.
   */
  async tearTail(path: string, bytes: number): Promise<void> {
    const content = await this.#inner.readFile(path);
    const kept = content.subarray(0, Math.max(0, content.length - bytes));
    await this.#overwrite(path, kept);
    const tracked = this.#tracked.get(path);
    if (tracked) tracked.durable = tracked.durable.slice(0, Math.min(kept.length, tracked.durable.length));
  }
}

function injectedError(kind: FaultKind, op: FaultOp, path: string): InjectedFaultError {
  if (kind === "enospc") {
    return new InjectedFaultError(
      "ENOSPC",
      `No space left on device (os error 28): injected on ${op} ${path}`,
    );
  }
  return new InjectedFaultError("EIO", `Input/output error (os error 5): injected on ${op} ${path}`);
}

class FaultySegmentFile implements SegmentFile {
  readonly path: string;
  #fs: FaultyFileSystem;
  #inner: SegmentFile;
  #dead = false;

  constructor(fs: FaultyFileSystem, inner: SegmentFile, path: string) {
    this.#fs = fs;
    this.#inner = inner;
    this.path = path;
  }

  kill(): void {
    this.#dead = true;
    this.#inner.close();
  }

  #check(): Tracked {
    if (this.#dead) {
      throw new InjectedFaultError("EBADF", `Bad file descriptor: ${this.path} died in a crash`);
    }
    const tracked = this.#fs.tracked(this.path);
    if (!tracked) throw new InjectedFaultError("ENOENT", `No such file: ${this.path} was removed`);
    return tracked;
  }

  async writeAt(data: Uint8Array, offset: number): Promise<void> {
    const tracked = this.#check();
    const kind = this.#fs.fault("write", this.path);
    if (kind === "eio") throw injectedError(kind, "write", this.path);
    if (kind !== undefined) {
      const prefix = data.subarray(0, this.#fs.random.int(data.length));
      if (prefix.length > 0) {
        await this.#inner.writeAt(prefix, offset);
        tracked.dirtyFrom = Math.min(tracked.dirtyFrom, offset);
      }
      throw injectedError(kind, "write", this.path);
    }
    await this.#inner.writeAt(data, offset);
    tracked.dirtyFrom = Math.min(tracked.dirtyFrom, offset);
  }

  readAt(target: Uint8Array, offset: number): Promise<number> {
    this.#check();
    if (this.#fs.fault("read", this.path)) return Promise.reject(injectedError("eio", "read", this.path));
    return this.#inner.readAt(target, offset);
  }

  async syncData(): Promise<void> {
    const tracked = this.#check();
    if (this.#fs.fault("sync", this.path)) {
      // As on Linux: the failed sync's pages are marked clean, so no later sync writes them.
      tracked.dirtyFrom = Infinity;
      throw injectedError("eio", "sync", this.path);
    }
    await this.#inner.syncData();
    const size = await this.#inner.size();
    if (tracked.dirtyFrom === Infinity && size === tracked.durable.length) return;
    const from = Math.min(tracked.dirtyFrom, size);
    const durable = new Uint8Array(size);
    durable.set(tracked.durable.subarray(0, Math.min(from, tracked.durable.length)));
    if (from < size) await this.#inner.readAt(durable.subarray(from), from);
    tracked.durable = durable;
    tracked.dirtyFrom = Infinity;
  }

  async truncate(bytes: number): Promise<void> {
    const tracked = this.#check();
    if (this.#fs.fault("truncate", this.path)) throw injectedError("eio", "truncate", this.path);
    await this.#inner.truncate(bytes);
    tracked.dirtyFrom = Math.min(tracked.dirtyFrom, bytes);
  }

  size(): Promise<number> {
    this.#check();
    return this.#inner.size();
  }

  close(): void {
    if (!this.#dead) this.#inner.close();
    this.#dead = true;
    this.#fs.release(this);
  }
}
