/**
 * A small seeded PRNG (sfc32) whose whole state is four 32-bit words, so a run can save it and resume
 * exactly where it stopped. Not for cryptography.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";

/** The serializable state of a {@link Prng}. */
export type PrngState = [number, number, number, number];

/** Seeded pseudo-random numbers: every draw is a pure function of the seed and the draws before it. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** @param state Four 32-bit words, from {@link Prng.seeded} or a saved {@link Prng.state}. */
  constructor(state: PrngState) {
    assert(state.length === 4 && state.every((w) => Number.isInteger(w)), "A PRNG state is four integers");
    [this.#a, this.#b, this.#c, this.#d] = state.map((w) => w >>> 0);
  }

  /**
   * @param seed Any string or number; equal seeds give equal sequences.
   * @returns A generator warmed past sfc32's weak first outputs.
   */
  static seeded(seed: string | number): Prng {
    const text = String(seed);
    let h = 0x811c9dc5;
    const words: number[] = [];
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
      h = Math.imul(h ^ (k + 0x9e37), 0x01000193);
      words.push(h >>> 0);
    }
    const prng = new Prng(words as PrngState);
    for (let i = 0; i < 16; i++) prng.next();
    return prng;
  }

  /** @returns The state to save; `new Prng(state)` continues the same sequence. */
  state(): PrngState {
    return [this.#a, this.#b, this.#c, this.#d];
  }

  /** @returns A float in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t / 4294967296;
  }

  /** @returns An integer in [0, n). */
  int(n: number): number {
    assert(Number.isInteger(n) && n > 0, "A PRNG range must be a positive integer");
    return Math.floor(this.next() * n);
  }

  /** @returns A uniformly chosen element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "Cannot pick from an empty list");
    return items[this.int(items.length)];
  }

  /** @returns `true` with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** @returns A standard normal draw (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** @returns A new list with the items in a seeded random order (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}
