/**
 * Memory blocks: an agent's durable store of text blocks with metadata (created, last access, size, tags).
 * Blocks can be split, merged and looked up by tag. They live in the agent's snapshot, so every change is a
 * delta the supervisor logs, exactly like `ctx.state`.
 *
 * @module
 */
import { type MemoryBlock, ToolError } from "../protocol/mod.ts";
import { MEMORY_BLOCK_CHARS_MAX, MEMORY_BLOCKS_MAX } from "./limits.ts";

/** Options of {@link MemoryStore.put}. */
export interface PutOptions {
  /** Tags to find the block by. @default [] */
  tags?: string[];
  /** A chosen id; a fresh one is made when absent. */
  id?: string;
}

/** The block store behind `ctx.memory`. */
export class MemoryStore {
  readonly #blocks: Record<string, MemoryBlock>;
  readonly #now: () => number;
  #counter = 0;

  /**
   * @param blocks The snapshot's `memory` record; changed in place.
   * @param now The clock, injectable for tests.
   */
  constructor(blocks: Record<string, MemoryBlock>, now: () => number = Date.now) {
    this.#blocks = blocks;
    this.#now = now;
  }

  /** Number of blocks. */
  get size(): number {
    return Object.keys(this.#blocks).length;
  }

  /**
   * Stores a block (replacing one with the same id).
   *
   * @returns The block's id.
   * @throws {ToolError} `MEMORY_FULL` past `MEMORY_BLOCKS_MAX`, `MEMORY_BLOCK_TOO_LARGE` past the size bound.
   */
  put(content: string, options: PutOptions = {}): string {
    if (typeof content !== "string") {
      throw new TypeError("Cannot store memory block: content must be a string");
    }
    if (content.length > MEMORY_BLOCK_CHARS_MAX) {
      throw new ToolError(
        "MEMORY_BLOCK_TOO_LARGE",
        `Cannot store memory block: ${content.length} chars exceeds ${MEMORY_BLOCK_CHARS_MAX}`,
      );
    }
    const id = options.id ?? this.#freshId();
    if (!(id in this.#blocks) && this.size >= MEMORY_BLOCKS_MAX) {
      throw new ToolError(
        "MEMORY_FULL",
        `Cannot store memory block: ${MEMORY_BLOCKS_MAX} blocks already held`,
      );
    }
    const now = this.#now();
    this.#blocks[id] = {
      id,
      content,
      tags: [...new Set(options.tags ?? [])],
      created_ms: this.#blocks[id]?.created_ms ?? now,
      accessed_ms: now,
      bytes: new TextEncoder().encode(content).length,
    };
    return id;
  }

  /** Returns a block and marks it accessed, or `undefined`. */
  get(id: string): MemoryBlock | undefined {
    const block = this.#blocks[id];
    if (block === undefined) return undefined;
    block.accessed_ms = this.#now();
    return { ...block, tags: [...block.tags] };
  }

  /** Removes a block; returns whether it existed. */
  delete(id: string): boolean {
    if (!(id in this.#blocks)) return false;
    delete this.#blocks[id];
    return true;
  }

  /** Every block carrying `tag`, oldest first. */
  byTag(tag: string): MemoryBlock[] {
    return this.list().filter((b) => b.tags.includes(tag));
  }

  /** Every block, oldest first (ties by id). */
  list(): MemoryBlock[] {
    return Object.values(this.#blocks)
      .map((b) => ({ ...b, tags: [...b.tags] }))
      .sort((a, b) => a.created_ms - b.created_ms || (a.id < b.id ? -1 : 1));
  }

  /**
   * Splits a block in two at character `at` (default: the middle). Both halves keep the tags.
   *
   * @returns The ids of the two halves; the first keeps the original id.
   * @throws {ToolError} `MEMORY_NOT_FOUND` for an unknown id; `RangeError` for `at` outside the content.
   */
  split(id: string, at?: number): [string, string] {
    const block = this.#blocks[id];
    if (block === undefined) {
      throw new ToolError("MEMORY_NOT_FOUND", `Cannot split memory block: no block '${id}'`);
    }
    const cut = at ?? Math.floor(block.content.length / 2);
    if (!Number.isInteger(cut) || cut < 0 || cut > block.content.length) {
      throw new RangeError(
        `Cannot split memory block '${id}': position ${cut} is outside 0..${block.content.length}`,
      );
    }
    this.put(block.content.slice(0, cut), { id, tags: block.tags });
    const second = this.put(block.content.slice(cut), { tags: block.tags });
    return [id, second];
  }

  /**
   * Merges blocks, in the order given, into the first one; the others are removed. Tags are united.
   *
   * @returns The id of the merged block.
   * @throws {ToolError} `MEMORY_NOT_FOUND` when any id is unknown.
   */
  merge(ids: string[], separator = ""): string {
    if (ids.length === 0) throw new RangeError("Cannot merge memory blocks: no ids given");
    const blocks = ids.map((id) => {
      const b = this.#blocks[id];
      if (b === undefined) {
        throw new ToolError("MEMORY_NOT_FOUND", `Cannot merge memory blocks: no block '${id}'`);
      }
      return b;
    });
    const tags = [...new Set(blocks.flatMap((b) => b.tags))];
    const content = blocks.map((b) => b.content).join(separator);
    for (const id of ids.slice(1)) delete this.#blocks[id];
    return this.put(content, { id: ids[0], tags });
  }

  #freshId(): string {
    for (;;) {
      const id = `b${this.#now().toString(36)}${(this.#counter++).toString(36)}`;
      if (!(id in this.#blocks)) return id;
    }
  }
}
