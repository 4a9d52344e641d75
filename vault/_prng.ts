/**
 * A small seeded PRNG (mulberry32) for fault schedules and tests: the same seed replays the same run.
 *
 * @module
 */

/** A deterministic source of randomness. */
export interface SeededRandom {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

/**
 * Creates a PRNG from a 32-bit seed.
 *
 * @param seed Any integer; equal seeds give equal sequences.
 * @returns The generator.
 */
export function seededRandom(seed: number): SeededRandom {
  let a = seed >>> 0;
  function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return {
    next,
    int: (n) => Math.floor(next() * n),
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
      return out;
    },
  };
}
