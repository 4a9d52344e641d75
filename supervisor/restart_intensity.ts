/**
 * OTP's restart intensity: at most `max` restarts within `periodMs`; one more means give up.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";

/** A sliding window of restart times. Pure apart from the times it is given. */
export class RestartIntensity {
  readonly #max: number;
  readonly #periodMs: number;
  #times: number[] = [];

  constructor(max: number, periodMs: number) {
    assert(Number.isInteger(max) && max >= 0, "Restart intensity needs a non-negative integer max");
    assert(periodMs > 0, "Restart intensity needs a positive period");
    this.#max = max;
    this.#periodMs = periodMs;
  }

  /**
   * Records a restart at `nowMs`.
   *
   * @returns `true` if the restart is allowed, `false` if it exceeds the intensity.
   */
  record(nowMs: number): boolean {
    this.#times = this.#times.filter((t) => nowMs - t < this.#periodMs);
    this.#times.push(nowMs);
    return this.#times.length <= this.#max;
  }

  /** Restarts counted in the window ending at `nowMs`. */
  recent(nowMs: number): number {
    return this.#times.filter((t) => nowMs - t < this.#periodMs).length;
  }
}
