/**
 * Loading O's Zig modules through Deno FFI, calling them with msgpack, and hot-reloading them.
 *
 * Every module exports the C ABI of CONTRACT.md ("Zig modules"). The loader never opens the file it is
 * given: it opens a fresh copy under a new temporary path, because `dlopen` caches libraries by path (a
 * second open of the same path would return the old code) and because a build that rewrites the file in
 * place must not change the pages of a library that is running. The copy is unlinked as soon as it is open.
 *
 * Reload, in order: copy and hash the new file; hold new asynchronous calls back; wait until the in-flight
 * ones are done; then, in one synchronous step (so no call can slip in between), open the copy, check its
 * ABI, `o_init`, `o_state_save` on the old one, `o_state_load` on the new one, switch, `o_shutdown` and
 * close the old one; finally let the held calls through. Any failure before the switch closes the new copy
 * and leaves the old version serving. Synchronous calls made while a reload waits are answered by the
 * old version (they run to completion before the switch step can start).
 *
 * Modules whose calls may wait on the network (`o_flags` bit 1: http_client, postgres) are called on
 * Deno's blocking thread pool (`nonblocking: true`), never on the event loop: a blocking HTTP call from
 * the event loop to a server in the same process would deadlock.
 *
 * @module
 */
import { decode, encode, OError } from "../protocol/mod.ts";
import {
  ABI_VERSION,
  RELOAD_DRAIN_MS_MAX,
  RELOAD_HISTORY_MAX,
  RELOAD_QUEUE_MAX,
  RESPONSE_BYTES_MAX,
  VERSION_BYTES_MAX,
} from "./limits.ts";

/** `o_flags` bit: calls may block on I/O, so they must run off the event loop. */
export const FLAG_BLOCKING = 1;

/** `o_call` status codes (zig/src/o.zig). */
export const CALL_STATUS = {
  ok: 0,
  failed: 1,
  badRequest: 2,
  outOfMemory: 3,
  internal: 4,
  notInitialized: 5,
} as const;

const SYMBOLS = {
  o_abi_version: { parameters: [], result: "u32" },
  o_flags: { parameters: [], result: "u32", optional: true },
  o_init: { parameters: ["buffer", "usize"], result: "i32" },
  o_shutdown: { parameters: [], result: "void" },
  o_version: { parameters: [], result: "pointer" },
  o_call: { parameters: ["buffer", "usize", "buffer", "buffer"], result: "i32" },
  o_call_async: {
    name: "o_call",
    parameters: ["buffer", "usize", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  o_free: { parameters: ["pointer", "usize"], result: "void" },
  o_state_save: { parameters: ["buffer", "buffer"], result: "i32" },
  o_state_load: { parameters: ["buffer", "usize"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Library = Deno.DynamicLibrary<typeof SYMBOLS>;

/** An error a module reported (its `{code, message}` body), or a loader failure (`ZIG_…` codes). */
export class ZigModuleError extends OError {
  /** The `o_call` status (1 failed, 2 bad request, 3 out of memory, 4 internal, 5 not initialized); 0 for loader errors. */
  readonly status: number;

  constructor(code: string, message: string, options?: { status?: number; cause?: unknown }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = options?.status ?? 0;
  }
}

/** Options of {@link openModule}. */
export interface OpenOptions {
  /** Passed to `o_init` as msgpack (also on every reload). @default undefined (empty config) */
  config?: unknown;
  /**
   * Let `call`/`callRaw` run a blocking module (flag bit 1) on the event loop anyway. Only for tools and
   * benchmarks that know no server shares the process. @default false
   */
  allowBlocking?: boolean;
}

/** What is loaded: the identity of one library version. */
export interface ModuleVersion {
  /** The path it was loaded from (the loader ran a private copy of it). */
  path: string;
  /** `o_abi_version`. */
  abiVersion: number;
  /** `o_version` (the module's semver). */
  version: string;
  /** SHA-256 of the file, hex. */
  sha256: string;
  /** `o_flags`. */
  flags: number;
  /** When it was loaded, ISO 8601. */
  loadedAt: string;
}

/** One reload attempt. */
export interface ReloadRecord {
  at: string;
  path: string;
  ok: boolean;
  /** Version and hash before the attempt. */
  from: { version: string; sha256: string };
  /** Version and hash after it (null when the new library could not even be identified). */
  to: { version: string; sha256: string } | null;
  /** The failure, for `ok: false`. */
  error?: { code: string; message: string };
  /** Calls that were in flight when the reload began and had to finish first. */
  drainedCalls: number;
  /** Calls held back while the reload ran (answered by the new version or, after a failure, the old). */
  heldCalls: number;
  /** Bytes of state carried from the old version to the new one. */
  stateBytes: number;
  durationMs: number;
}

/** A loaded module; see {@link openModule}. */
export interface OModule {
  /** The module's semver (`o_version`) of the version now serving. */
  readonly version: string;
  /** Identity of the version now serving. */
  readonly info: ModuleVersion;
  /** Every reload attempt, oldest first (at most `RELOAD_HISTORY_MAX`). */
  readonly history: readonly ReloadRecord[];
  /** True when the module said its calls may block (they then go through the `…Async` methods). */
  readonly blocking: boolean;
  /**
   * Sends request bytes, returns the response bytes, on the calling thread.
   * @throws {ZigModuleError} The module's error, or `ZIG_CALL_BLOCKS` for a blocking module.
   */
  callRaw(bytes: Uint8Array): Uint8Array;
  /** `callRaw` with msgpack both ways. */
  call(value: unknown): unknown;
  /** Sends request bytes on Deno's blocking thread pool; the event loop stays free. */
  callRawAsync(bytes: Uint8Array): Promise<Uint8Array>;
  /** `callRawAsync` with msgpack both ways. */
  callAsync(value: unknown): Promise<unknown>;
  /**
   * Replaces the running library with the one at `newPath`, carrying the state over.
   * @throws {ZigModuleError} `ZIG_RELOAD_FAILED` (the old version keeps serving).
   */
  reload(newPath: string): Promise<void>;
  /** Waits for in-flight calls, then `o_shutdown` and unload. Further calls throw `ZIG_MODULE_CLOSED`. */
  close(): Promise<void>;
}

interface Loaded {
  lib: Library;
  info: ModuleVersion;
}

interface PreparedCopy {
  path: string;
  copyPath: string;
  sha256: string;
}

async function prepareCopy(path: string): Promise<PreparedCopy> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new ZigModuleError("ZIG_LOAD_FAILED", `Cannot read ${path}: ${errorText(e)}`, { cause: e });
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  const copyPath = await Deno.makeTempFile({ prefix: "libo_", suffix: ".so" });
  await Deno.writeFile(copyPath, bytes, { mode: 0o700 });
  return { path, copyPath, sha256 };
}

/** Opens a prepared copy and checks its ABI; the copy file is removed whatever happens. */
function openCopy(copy: PreparedCopy): Loaded {
  let lib: Library;
  try {
    lib = Deno.dlopen(copy.copyPath, SYMBOLS);
  } catch (e) {
    throw new ZigModuleError("ZIG_LOAD_FAILED", `Cannot load ${copy.path}: ${errorText(e)}`, { cause: e });
  } finally {
    Deno.removeSync(copy.copyPath);
  }
  try {
    const abiVersion = lib.symbols.o_abi_version();
    if (abiVersion !== ABI_VERSION) {
      throw new ZigModuleError(
        "ZIG_ABI_MISMATCH",
        `Cannot load ${copy.path}: o_abi_version is ${abiVersion}, expected ${ABI_VERSION}`,
      );
    }
    const versionPtr = lib.symbols.o_version();
    if (versionPtr === null) {
      throw new ZigModuleError("ZIG_LOAD_FAILED", `Cannot load ${copy.path}: o_version is null`);
    }
    const version = Deno.UnsafePointerView.getCString(versionPtr);
    if (version.length === 0 || version.length > VERSION_BYTES_MAX) {
      throw new ZigModuleError(
        "ZIG_LOAD_FAILED",
        `Cannot load ${copy.path}: o_version has ${version.length} bytes`,
      );
    }
    const flags = lib.symbols.o_flags === null ? 0 : lib.symbols.o_flags();
    const info = {
      path: copy.path,
      abiVersion,
      version,
      sha256: copy.sha256,
      flags,
      loadedAt: new Date().toISOString(),
    };
    return { lib, info };
  } catch (e) {
    lib.close();
    throw e;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Reads and frees a buffer the module handed out. */
function takeOutput(lib: Library, ptrCell: BigUint64Array, lenCell: BigUint64Array): Uint8Array {
  const len = Number(lenCell[0]);
  if (len === 0) return new Uint8Array(0);
  const ptr = Deno.UnsafePointer.create(ptrCell[0]);
  if (ptr === null) {
    throw new ZigModuleError("ZIG_PROTOCOL", "The module returned a null pointer with a length");
  }
  const out = new Uint8Array(len);
  Deno.UnsafePointerView.copyInto(ptr, out);
  lib.symbols.o_free(ptr, BigInt(len));
  if (len > RESPONSE_BYTES_MAX) {
    throw new ZigModuleError(
      "ZIG_RESPONSE_TOO_LARGE",
      `The module answered ${len} bytes (limit ${RESPONSE_BYTES_MAX})`,
    );
  }
  return out;
}

function moduleError(status: number, body: Uint8Array): ZigModuleError {
  let code = "ZIG_CALL_FAILED";
  let message = `o_call failed with status ${status} and no error body`;
  if (body.length > 0) {
    try {
      const value = decode(body) as { code?: unknown; message?: unknown } | null;
      if (value && typeof value.code === "string") code = value.code;
      if (value && typeof value.message === "string") message = value.message;
    } catch {
      message = `o_call failed with status ${status} and an unreadable error body`;
    }
  }
  return new ZigModuleError(code, message, { status });
}

const EMPTY = new Uint8Array(0);

class LoadedModule implements OModule {
  #current: Loaded;
  readonly #configBytes: Uint8Array;
  readonly #allowBlocking: boolean;
  readonly #history: ReloadRecord[] = [];
  // Cells for the synchronous path: calls on one thread never overlap, so one pair is enough.
  readonly #ptrCell = new BigUint64Array(1);
  readonly #lenCell = new BigUint64Array(1);
  #inflight = 0;
  #drainWaiters: (() => void)[] = [];
  #gate: Promise<void> | null = null;
  #held = 0;
  #reloadChain: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(loaded: Loaded, configBytes: Uint8Array, options: OpenOptions) {
    this.#current = loaded;
    this.#configBytes = configBytes;
    this.#allowBlocking = options.allowBlocking ?? false;
  }

  get version(): string {
    return this.#current.info.version;
  }

  get info(): ModuleVersion {
    return { ...this.#current.info };
  }

  get history(): readonly ReloadRecord[] {
    return this.#history.slice();
  }

  get blocking(): boolean {
    return (this.#current.info.flags & FLAG_BLOCKING) !== 0;
  }

  callRaw(bytes: Uint8Array): Uint8Array {
    this.#checkOpen();
    if (this.blocking && !this.#allowBlocking) {
      throw new ZigModuleError(
        "ZIG_CALL_BLOCKS",
        `Module ${this.#current.info.path} may block on I/O: use callAsync/callRawAsync`,
      );
    }
    const lib = this.#current.lib;
    const status = lib.symbols.o_call(bytes, BigInt(bytes.length), this.#ptrCell, this.#lenCell);
    const out = takeOutput(lib, this.#ptrCell, this.#lenCell);
    if (status !== CALL_STATUS.ok) throw moduleError(status, out);
    return out;
  }

  call(value: unknown): unknown {
    return decode(this.callRaw(encode(value)));
  }

  async callRawAsync(bytes: Uint8Array): Promise<Uint8Array> {
    this.#checkOpen();
    if (this.#gate !== null) await this.#waitGate();
    this.#checkOpen();
    this.#inflight++;
    const loaded = this.#current;
    try {
      const ptrCell = new BigUint64Array(1);
      const lenCell = new BigUint64Array(1);
      const status = await loaded.lib.symbols.o_call_async(bytes, BigInt(bytes.length), ptrCell, lenCell);
      const out = takeOutput(loaded.lib, ptrCell, lenCell);
      if (status !== CALL_STATUS.ok) throw moduleError(status, out);
      return out;
    } finally {
      this.#inflight--;
      if (this.#inflight === 0) this.#wakeDrainers();
    }
  }

  async callAsync(value: unknown): Promise<unknown> {
    return decode(await this.callRawAsync(encode(value)));
  }

  reload(newPath: string): Promise<void> {
    // Reloads run one after another; each waits for the one before it.
    const run = this.#reloadChain.then(() => this.#reloadOnce(newPath));
    this.#reloadChain = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#reloadChain;
    this.#closed = true;
    await this.#drain(RELOAD_DRAIN_MS_MAX);
    this.#current.lib.symbols.o_shutdown();
    this.#current.lib.close();
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new ZigModuleError("ZIG_MODULE_CLOSED", `Module ${this.#current.info.path} is closed`);
    }
  }

  async #waitGate(): Promise<void> {
    if (this.#held >= RELOAD_QUEUE_MAX) {
      throw new ZigModuleError("ZIG_QUEUE_FULL", `${this.#held} calls already wait for a reload`);
    }
    this.#held++;
    try {
      while (this.#gate !== null) await this.#gate;
    } finally {
      this.#held--;
    }
  }

  #wakeDrainers(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  async #drain(msMax: number): Promise<void> {
    if (this.#inflight === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ZigModuleError(
              "ZIG_DRAIN_TIMEOUT",
              `${this.#inflight} calls still running after ${msMax} ms`,
            ),
          ),
        msMax,
      );
    });
    try {
      while (this.#inflight > 0) {
        await Promise.race([new Promise<void>((resolve) => this.#drainWaiters.push(resolve)), timeout]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #reloadOnce(newPath: string): Promise<void> {
    this.#checkOpen();
    const startedMs = performance.now();
    const from = { version: this.#current.info.version, sha256: this.#current.info.sha256 };
    const record: ReloadRecord = {
      at: new Date().toISOString(),
      path: newPath,
      ok: false,
      from,
      to: null,
      drainedCalls: this.#inflight,
      heldCalls: 0,
      stateBytes: 0,
      durationMs: 0,
    };
    let openGate = () => {};
    try {
      const copy = await prepareCopy(newPath);
      record.to = { version: "", sha256: copy.sha256 };
      this.#gate = new Promise<void>((resolve) => (openGate = resolve));
      await this.#drain(RELOAD_DRAIN_MS_MAX);
      record.heldCalls = this.#held;
      const next = this.#swap(copy, record);
      record.to = { version: next.info.version, sha256: next.info.sha256 };
      record.ok = true;
    } catch (e) {
      const error = e instanceof OError
        ? { code: e.code, message: e.message }
        : { code: "ZIG_RELOAD_FAILED", message: errorText(e) };
      record.error = error;
      throw new ZigModuleError(
        "ZIG_RELOAD_FAILED",
        `Cannot reload from ${newPath} (${error.code}: ${error.message}); version ${from.version} keeps serving`,
        { cause: e },
      );
    } finally {
      record.durationMs = performance.now() - startedMs;
      this.#history.push(record);
      if (this.#history.length > RELOAD_HISTORY_MAX) this.#history.shift();
      this.#gate = null;
      openGate();
    }
  }

  /** The synchronous heart of a reload: nothing else runs on this thread while it does. */
  #swap(copy: PreparedCopy, record: ReloadRecord): Loaded {
    const next = openCopy(copy);
    record.to = { version: next.info.version, sha256: next.info.sha256 };
    try {
      const initStatus = next.lib.symbols.o_init(this.#configBytes, BigInt(this.#configBytes.length));
      if (initStatus !== CALL_STATUS.ok) {
        throw new ZigModuleError("ZIG_INIT_FAILED", `o_init of ${copy.path} returned ${initStatus}`, {
          status: initStatus,
        });
      }
      try {
        const state = this.#saveState(this.#current.lib);
        record.stateBytes = state.length;
        const loadStatus = next.lib.symbols.o_state_load(state, BigInt(state.length));
        if (loadStatus !== CALL_STATUS.ok) {
          throw new ZigModuleError(
            "ZIG_STATE_LOAD_FAILED",
            `o_state_load of ${copy.path} returned ${loadStatus}`,
            {
              status: loadStatus,
            },
          );
        }
      } catch (e) {
        next.lib.symbols.o_shutdown();
        throw e;
      }
    } catch (e) {
      next.lib.close();
      throw e;
    }
    const old = this.#current;
    this.#current = next;
    old.lib.symbols.o_shutdown();
    old.lib.close();
    return next;
  }

  #saveState(lib: Library): Uint8Array {
    const ptrCell = new BigUint64Array(1);
    const lenCell = new BigUint64Array(1);
    const status = lib.symbols.o_state_save(ptrCell, lenCell);
    const out = takeOutput(lib, ptrCell, lenCell);
    if (status !== CALL_STATUS.ok) throw moduleError(status, out);
    return out;
  }
}

/**
 * Loads a module (a private copy of the file at `path`) and runs its `o_init`.
 *
 * @param path Path of a `libo_<module>.so`.
 * @param options Config for `o_init`, and whether a blocking module may be called synchronously.
 * @returns The loaded module.
 * @throws {ZigModuleError} `ZIG_LOAD_FAILED`, `ZIG_ABI_MISMATCH` or `ZIG_INIT_FAILED`.
 * @example Call a counter module and reload it
 * ```ts ignore
 * import { openModule } from "./ffi.ts";
 * const counter = await openModule("zig-out/lib/libo_counter.so");
 * counter.call({ op: "inc" }); // { count: 1, loads: 0, version: "1.0.0" }
 * await counter.reload("zig-out/lib/libo_counter_v2.so");
 * counter.call({ op: "get" }); // { count: 1, loads: 1, version: "2.0.0" }
 * await counter.close();
 * ```
 */
export async function openModule(path: string, options: OpenOptions = {}): Promise<OModule> {
  const configBytes = options.config === undefined ? EMPTY : encode(options.config);
  const loaded = openCopy(await prepareCopy(path));
  const status = loaded.lib.symbols.o_init(configBytes, BigInt(configBytes.length));
  if (status !== CALL_STATUS.ok) {
    loaded.lib.close();
    throw new ZigModuleError("ZIG_INIT_FAILED", `o_init of ${path} returned ${status}`, { status });
  }
  return new LoadedModule(loaded, configBytes, options);
}
