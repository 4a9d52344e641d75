/**
 * A bounded ring of recent numeric samples (latencies, sizes) for `stats()`.
 *
 * @module
 */
import { STATS_SAMPLES_MAX } from "./limits.ts";

/** Keeps the newest `STATS_SAMPLES_MAX` samples; older ones are dropped. */
export class SampleRing {
  #values: number[] = [];
  #next = 0;

  /** Adds one sample, dropping the oldest when full. */
  push(value: number): void {
    if (this.#values.length < STATS_SAMPLES_MAX) this.#values.push(value);
    else this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % STATS_SAMPLES_MAX;
  }

  /** The samples, oldest first. */
  values(): number[] {
    if (this.#values.length < STATS_SAMPLES_MAX) return this.#values.slice();
    return [...this.#values.slice(this.#next), ...this.#values.slice(0, this.#next)];
  }
}
