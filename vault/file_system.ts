/**
 * The small file-system surface the vault uses, so tests can swap in a fault-injecting one
 * ({@link FaultyFileSystem} in `faulty_fs.ts`). Paths are plain strings joined with `/`.
 *
 * @module
 */

/** One open file, read and written at explicit offsets (never at an implicit position). */
export interface SegmentFile {
  /** The path it was opened with. */
  readonly path: string;
  /**
   * Writes all of `data` at `offset`. A failure may leave any prefix of `data` written.
   *
   * @throws When the write fails (the caller wraps it as `VAULT_IO`).
   */
  writeAt(data: Uint8Array, offset: number): Promise<void>;
  /** Reads up to `target.length` bytes at `offset`; returns how many were read (fewer only at the end). */
  readAt(target: Uint8Array, offset: number): Promise<number>;
  /** Makes every write so far durable (`fdatasync`). */
  syncData(): Promise<void>;
  /** Cuts (or extends with zeros) the file to `bytes`. */
  truncate(bytes: number): Promise<void>;
  /** The file's current size. */
  size(): Promise<number>;
  /** Releases the handle; never throws. */
  close(): void;
}

/** The directory operations the vault needs. */
export interface FileSystem {
  /** Opens a file for reading and writing, creating it (empty) when `create` is set. */
  openFile(path: string, options: { create: boolean }): Promise<SegmentFile>;
  /** Reads a whole file. */
  readFile(path: string): Promise<Uint8Array>;
  /** Names of the entries of a directory (files and folders), unsorted. */
  readDir(path: string): Promise<string[]>;
  /** Removes a file. */
  remove(path: string): Promise<void>;
  /** Renames a file, replacing the target. */
  rename(from: string, to: string): Promise<void>;
  /** Creates a directory and its parents; no error when it exists. */
  mkdirp(path: string): Promise<void>;
  /** Makes a directory's entries (creates, renames, removes) durable. */
  syncDir(path: string): Promise<void>;
  /** Whether a path exists. */
  exists(path: string): Promise<boolean>;
}

class DenoSegmentFile implements SegmentFile {
  readonly path: string;
  #file: Deno.FsFile;

  constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  writeAt(data: Uint8Array, offset: number): Promise<void> {
    // Synchronous on purpose: a write lands in the page cache in microseconds, while each async file op
    // costs a thread-pool round trip; only the sync that follows waits on the disk.
    try {
      this.#file.seekSync(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < data.length) done += this.#file.writeSync(data.subarray(done));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async readAt(target: Uint8Array, offset: number): Promise<number> {
    await this.#file.seek(offset, Deno.SeekMode.Start);
    let done = 0;
    while (done < target.length) {
      const n = await this.#file.read(target.subarray(done));
      if (n === null) break;
      done += n;
    }
    return done;
  }

  syncData(): Promise<void> {
    return this.#file.syncData();
  }

  truncate(bytes: number): Promise<void> {
    return this.#file.truncate(bytes);
  }

  async size(): Promise<number> {
    return (await this.#file.stat()).size;
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // Closing twice, or after the runtime already released it, is harmless here.
    }
  }
}

/** The real file system, through `Deno.*`. */
export class DenoFileSystem implements FileSystem {
  async openFile(path: string, options: { create: boolean }): Promise<SegmentFile> {
    const file = await Deno.open(path, { read: true, write: true, create: options.create });
    return new DenoSegmentFile(path, file);
  }

  readFile(path: string): Promise<Uint8Array> {
    return Deno.readFile(path);
  }

  async readDir(path: string): Promise<string[]> {
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
    return names;
  }

  remove(path: string): Promise<void> {
    return Deno.remove(path);
  }

  rename(from: string, to: string): Promise<void> {
    return Deno.rename(from, to);
  }

  mkdirp(path: string): Promise<void> {
    return Deno.mkdir(path, { recursive: true });
  }

  async syncDir(path: string): Promise<void> {
    const dir = await Deno.open(path, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await Deno.lstat(path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }
}

/**
 * Writes a file so that after a crash it holds either its old content or all of `data`: write a temporary
 * sibling, sync it, rename it over the target, sync the directory.
 *
 * @param fs The file system.
 * @param path The target path.
 * @param data The whole new content.
 */
export async function writeFileDurable(fs: FileSystem, path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const file = await fs.openFile(tmp, { create: true });
  try {
    await file.truncate(0);
    await file.writeAt(data, 0);
    await file.syncData();
  } finally {
    file.close();
  }
  await fs.rename(tmp, path);
  await fs.syncDir(parentOf(path));
}

/**
 * The directory part of a path.
 *
 * @param path A file path with at least one `/`, or a bare name (whose parent is `.`).
 * @returns Everything before the last `/`.
 */
export function parentOf(path: string): string {
  const at = path.lastIndexOf("/");
  if (at < 0) return ".";
  return at === 0 ? "/" : path.slice(0, at);
}
