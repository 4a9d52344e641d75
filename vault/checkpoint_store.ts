/**
 * Where checkpoints live: each blob goes to the backend and, as a file copy, to
 * `DATA/checkpoints/<agent>/<id>.ckpt`. Restore walks an agent's checkpoints newest first and takes the
 * first that verifies (trying the backend copy, then the file copy, for it and for its base), so a corrupt
 * newest checkpoint falls back to an older one. Retention keeps the newest `CHECKPOINTS_KEPT_MAX` and the
 * full checkpoints they are based on.
 *
 * @module
 */
import { applyDelta, assert, type DeltaOp, type Snapshot } from "../protocol/mod.ts";
import type { Backend, CheckpointListing } from "./backend.ts";
import {
  type CheckpointContent,
  type CheckpointMeta,
  decodeCheckpoint,
  encodeCheckpoint,
} from "./checkpoint.ts";
import { ioError, VaultError } from "./errors.ts";
import { type FileSystem, writeFileDurable } from "./file_system.ts";
import type { KeyRing } from "./key_ring.ts";
import { CHECKPOINTS_KEPT_MAX, CHECKPOINTS_LISTED_MAX } from "./limits.ts";

const SIMPLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const FILE_ID = /^(\d{16})-([fi])-([0-9a-f]{8})\.ckpt$/;

/** A checkpoint id: the seq zero-padded (so ids sort by seq), the kind, and 8 random hex digits. */
export function newCheckpointId(seq: number, kind: CheckpointMeta["kind"]): string {
  const random = [...crypto.getRandomValues(new Uint8Array(4))].map((b) => b.toString(16).padStart(2, "0"));
  return `${String(seq).padStart(16, "0")}-${kind === "full" ? "f" : "i"}-${random.join("")}`;
}

/** Why a checkpoint was passed over on restore. */
export interface SkippedCheckpoint {
  id: string;
  reason: string;
}

/** The checkpoint a restore settled on. */
export interface RestoredCheckpoint {
  meta: CheckpointMeta;
  /** The full state (only when restoring fully). */
  snapshot?: Snapshot;
  /** The incremental's delta against its base; `[]` for a full checkpoint. */
  delta: DeltaOp[];
  /** Raw size of the full base (the checkpoint itself when full). */
  baseRawBytes: number;
}

/** The outcome of a restore: the checkpoint used (if any) and those skipped, newest first. */
export interface RestoreResult {
  restored?: RestoredCheckpoint;
  skipped: SkippedCheckpoint[];
}

/** Options of {@link CheckpointStore}. */
export interface CheckpointStoreOptions {
  fs: FileSystem;
  /** `DATA/checkpoints`. */
  dir: string;
  backend: Backend;
  keyRing?: KeyRing;
}

/** Saves, restores and prunes checkpoints; see the module doc. */
export class CheckpointStore {
  #fs: FileSystem;
  #dir: string;
  #backend: Backend;
  #keyRing?: KeyRing;

  constructor(options: CheckpointStoreOptions) {
    this.#fs = options.fs;
    this.#dir = options.dir;
    this.#backend = options.backend;
    this.#keyRing = options.keyRing;
  }

  /**
   * Stores a checkpoint durably in both places.
   *
   * @param meta Its meta (with a fresh id).
   * @param payload `encode(snapshot)` or `encode(delta)`.
   * @returns Stored and raw sizes.
   * @throws {VaultIoError} When the file copy fails; `VAULT_BACKEND` when the backend does.
   */
  async save(meta: CheckpointMeta, payload: Uint8Array): Promise<{ bytes: number; rawBytes: number }> {
    const { blob, rawBytes } = await encodeCheckpoint(meta, payload, this.#keyRing);
    const path = await this.filePath(meta.agent, meta.id);
    try {
      await this.#fs.mkdirp(path.slice(0, path.lastIndexOf("/")));
      await writeFileDurable(this.#fs, path, blob);
    } catch (e) {
      throw ioError(`Cannot write checkpoint file ${path}`, e);
    }
    try {
      await this.#backend.putCheckpoint({ ...meta, blob });
    } catch (e) {
      await this.#fs.remove(path).catch(() => {});
      throw e;
    }
    return { bytes: blob.length, rawBytes };
  }

  /**
   * The path of a checkpoint's file copy. Agent names that are not plain file names are hashed.
   *
   * @returns `DATA/checkpoints/<agent>/<id>.ckpt`.
   */
  async filePath(agent: string, id: string): Promise<string> {
    return `${this.#dir}/${await agentDirName(agent)}/${id}.ckpt`;
  }

  /**
   * An agent's checkpoints, newest first: the backend's listing plus file copies the backend lacks.
   *
   * @returns At most `CHECKPOINTS_LISTED_MAX` entries.
   */
  async list(agent: string): Promise<CheckpointListing[]> {
    const listed = await this.#backend.listCheckpoints(agent, CHECKPOINTS_LISTED_MAX);
    const known = new Set(listed.map((c) => c.id));
    for (const extra of await this.#fileOnly(agent, known)) listed.push(extra);
    listed.sort((a, b) => b.seq - a.seq || b.created_ms - a.created_ms || (a.id < b.id ? 1 : -1));
    return listed.slice(0, CHECKPOINTS_LISTED_MAX);
  }

  async #fileOnly(agent: string, known: Set<string>): Promise<CheckpointListing[]> {
    const dir = `${this.#dir}/${await agentDirName(agent)}`;
    if (!(await this.#fs.exists(dir))) return [];
    const out: CheckpointListing[] = [];
    for (const name of await this.#fs.readDir(dir)) {
      const match = FILE_ID.exec(name);
      const id = name.slice(0, -".ckpt".length);
      if (!match || known.has(id)) continue;
      const kind = match[2] === "f" ? "full" : "incremental";
      out.push({ agent, id, seq: Number(match[1]), kind, base_id: null, created_ms: 0, bytes: 0 });
    }
    return out;
  }

  /**
   * Finds the newest checkpoint that verifies, falling back to older ones.
   *
   * @param agent The agent.
   * @param options `minSeq`: checkpoints older than this are unusable (the WAL after them is gone);
   *   `full`: also decode the snapshot (else only meta and delta are checked and returned).
   * @returns The checkpoint used, if any, and what was skipped.
   * @throws {VaultKeyError} `VAULT_KEY_UNKNOWN` when a checkpoint needs a key the key file lacks.
   */
  async restore(agent: string, options: { minSeq: number; full: boolean }): Promise<RestoreResult> {
    const skipped: SkippedCheckpoint[] = [];
    for (const entry of await this.list(agent)) {
      if (entry.seq < options.minSeq) {
        skipped.push({
          id: entry.id,
          reason: `seq ${entry.seq} is older than the WAL kept (${options.minSeq})`,
        });
        continue;
      }
      try {
        return { restored: await this.#restoreOne(agent, entry.id, options.full), skipped };
      } catch (e) {
        if (!isFallback(e)) throw e;
        skipped.push({ id: entry.id, reason: (e as Error).message });
      }
    }
    return { skipped };
  }

  async #restoreOne(agent: string, id: string, full: boolean): Promise<RestoredCheckpoint> {
    const content = await this.#read(agent, id, !full);
    const { meta } = content;
    if (meta.kind === "full") {
      return { meta, snapshot: content.snapshot, delta: [], baseRawBytes: content.rawBytes };
    }
    assert(meta.base_id !== null, "A decoded incremental checkpoint names its base");
    const base = await this.#read(agent, meta.base_id, !full);
    if (base.meta.kind !== "full") {
      throw new VaultError("CHECKPOINT_CORRUPT", `Cannot use ${id}: its base is not full`);
    }
    const delta = content.delta!;
    if (!full) return { meta, delta, baseRawBytes: base.rawBytes };
    const snapshot = base.snapshot!;
    applyDelta(snapshot as unknown as Record<string, unknown>, delta);
    return { meta, snapshot, delta, baseRawBytes: base.rawBytes };
  }

  /** Reads one checkpoint from the backend, or from its file copy when the backend's is missing or bad. */
  async #read(
    agent: string,
    id: string,
    skipSnapshot: boolean,
  ): Promise<CheckpointContent & { rawBytes: number }> {
    let first: unknown;
    for (const source of ["backend", "file"] as const) {
      try {
        const blob = source === "backend"
          ? await this.#backend.getCheckpoint(agent, id)
          : await this.#file(agent, id);
        if (blob === undefined) {
          throw new VaultError("CHECKPOINT_CORRUPT", `Cannot find checkpoint ${id} in the ${source}`);
        }
        const content = await decodeCheckpoint(blob, { keyRing: this.#keyRing, skipSnapshot });
        const { meta } = content;
        if (meta.agent !== agent || meta.id !== id) {
          throw new VaultError(
            "CHECKPOINT_CORRUPT",
            `Cannot use checkpoint ${id}: it says ${meta.agent}/${meta.id}`,
          );
        }
        return { ...content, rawBytes: new DataView(blob.buffer, blob.byteOffset).getUint32(16) };
      } catch (e) {
        // A failing backend still leaves the file copy to try; anything else that is not corruption is fatal.
        if (!isFallback(e) && !(source === "backend" && (e as VaultError).code === "VAULT_BACKEND")) throw e;
        first ??= e;
      }
    }
    throw first;
  }

  async #file(agent: string, id: string): Promise<Uint8Array | undefined> {
    const path = await this.filePath(agent, id);
    if (!(await this.#fs.exists(path))) return undefined;
    try {
      return await this.#fs.readFile(path);
    } catch (e) {
      throw ioError(`Cannot read checkpoint file ${path}`, e);
    }
  }

  /**
   * Deletes all but the newest `CHECKPOINTS_KEPT_MAX` checkpoints, their bases, and `protect`.
   *
   * @returns The ids deleted.
   */
  async prune(agent: string, protect: Set<string>): Promise<string[]> {
    const listed = await this.list(agent);
    const keep = new Set(protect);
    for (const entry of listed.slice(0, CHECKPOINTS_KEPT_MAX)) {
      keep.add(entry.id);
      if (entry.base_id !== null) keep.add(entry.base_id);
    }
    const deleted: string[] = [];
    for (const entry of listed) {
      if (keep.has(entry.id)) continue;
      await this.#backend.deleteCheckpoint(agent, entry.id);
      const path = await this.filePath(agent, entry.id);
      try {
        if (await this.#fs.exists(path)) await this.#fs.remove(path);
      } catch (e) {
        throw ioError(`Cannot delete checkpoint file ${path}`, e);
      }
      deleted.push(entry.id);
    }
    return deleted;
  }
}

/** Whether a failure means "this copy is unusable, try another" rather than a configuration problem. */
export function isFallback(e: unknown): boolean {
  if (!(e instanceof VaultError)) {
    return e instanceof Error && (e as { code?: string }).code === "DELTA_INVALID";
  }
  return e.code === "CHECKPOINT_CORRUPT" || e.code === "VAULT_KEY_INVALID" || e.code === "VAULT_IO";
}

/**
 * The folder name of an agent's checkpoint copies: the name itself when it is a plain file name, else
 * `~` and 32 hex digits of its SHA-256.
 */
export async function agentDirName(agent: string): Promise<string> {
  if (SIMPLE_NAME.test(agent)) return agent;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(agent)));
  return `~${[...digest.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
