/**
 * The answer log: the last answers (and failures) of every agent, in memory, with their inputs — so
 * feedback on `seq` or `request_id` can name the input and output it judges, and auto-fix and feedback
 * learning can compare failing inputs with answered ones. Bounded per agent; inputs too large to keep
 * are replaced by their shape.
 *
 * Why not the WAL alone: an answer that changes no state (and has no idempotency key) is never logged
 * there, and such answers share the `seq` of the last logged change.
 *
 * @module
 */
import { shapeKey } from "../evolution/mod.ts";

/** Answers kept per agent (oldest dropped first). */
export const ANSWERS_PER_AGENT_MAX = 512;
/** Largest input or output kept, as JSON characters; larger ones are kept as their shape. */
export const ANSWER_VALUE_CHARS_MAX = 16 * 1024;
/** Largest input written into a log line, as JSON characters. */
export const LOG_INPUT_CHARS_MAX = 2 * 1024;

/** One answered (or failed) invoke. */
export interface AnswerEntry {
  request_id: string;
  /** The seq the answer named (for a failure: the agent's seq at the time). */
  seq: number;
  version: string;
  input: unknown;
  output?: unknown;
  ok: boolean;
  /** For a failure: the error code and message. */
  code?: string;
  error?: string;
  ms: number;
  time_ms: number;
  /** The input's type skeleton. */
  shape: string;
}

/**
 * A rough JSON size of a value (characters), walking at most until it passes `max`: on the hot path,
 * cheaper than serialising, and bounded whatever the value's size.
 *
 * @returns The estimate, or `Infinity` past `max`.
 */
export function boundedSize(value: unknown, max: number): number {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") size += v.length + 2;
    else if (Array.isArray(v)) {
      size += 2 + v.length;
      for (const x of v) stack.push(x);
    } else if (v !== null && typeof v === "object") {
      size += 2;
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue;
        size += k.length + 4;
        stack.push((v as Record<string, unknown>)[k]);
      }
    } else size += 8;
    if (size > max) return Infinity;
  }
  return size;
}

/**
 * A value small enough to keep (the value itself: inputs and outputs are not changed after an invoke),
 * else a marker with its shape.
 */
export function keepable(
  value: unknown,
  charsMax = ANSWER_VALUE_CHARS_MAX,
): { value: unknown; kept: boolean } {
  if (boundedSize(value, charsMax) > charsMax) return { value: { $truncated: shapeKey(value) }, kept: false };
  return { value, kept: true };
}

/** One agent's ring of entries. */
interface Ring {
  entries: AnswerEntry[];
  /** Where the next entry goes once the ring is full. */
  next: number;
}

/** Recent answers per agent. */
export class AnswerLog {
  readonly #byAgent = new Map<string, Ring>();

  /** Records one answer or failure (O(1) in the number kept). */
  record(agent: string, entry: Omit<AnswerEntry, "shape" | "time_ms"> & { time_ms?: number }): void {
    let ring = this.#byAgent.get(agent);
    if (ring === undefined) this.#byAgent.set(agent, ring = { entries: [], next: 0 });
    const full: AnswerEntry = {
      ...entry,
      input: keepable(entry.input).value,
      ...(entry.output !== undefined ? { output: keepable(entry.output).value } : {}),
      shape: shapeKey(entry.input),
      time_ms: entry.time_ms ?? Date.now(),
    };
    if (ring.entries.length < ANSWERS_PER_AGENT_MAX) ring.entries.push(full);
    else {
      ring.entries[ring.next] = full;
      ring.next = (ring.next + 1) % ANSWERS_PER_AGENT_MAX;
    }
  }

  /** An agent's entries, oldest first. */
  #ordered(agent: string): AnswerEntry[] {
    const ring = this.#byAgent.get(agent);
    if (ring === undefined) return [];
    return [...ring.entries.slice(ring.next), ...ring.entries.slice(0, ring.next)];
  }

  /**
   * The answer a feedback names: by request id, else the latest answer with that seq.
   *
   * @returns The entry, or `undefined` when it is no longer (or never was) in the log.
   */
  find(agent: string, by: { requestId?: string; seq?: number }): AnswerEntry | undefined {
    const list = this.#ordered(agent);
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i];
      if (by.requestId !== undefined ? e.request_id === by.requestId : e.ok && e.seq === by.seq) return e;
    }
    return undefined;
  }

  /** Recent entries of an agent, oldest first, optionally only answers or only failures. */
  recent(agent: string, filter: { ok?: boolean; sinceMs?: number } = {}): AnswerEntry[] {
    return this.#ordered(agent).filter((e) =>
      (filter.ok === undefined || e.ok === filter.ok) &&
      (filter.sinceMs === undefined || e.time_ms >= filter.sinceMs)
    );
  }
}
