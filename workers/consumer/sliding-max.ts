/**
 * The largest value seen over the last `windowMs`, kept in `slots` buckets of `windowMs / slots` each: a value
 * counts from when it is added until its bucket leaves the window (between `windowMs - windowMs / slots` and
 * `windowMs` later). Time comes from the caller, so it tests without timers.
 */
export class SlidingMax {
  readonly #slotMs: number;
  readonly #peaks: number[];
  #slot = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, slots = 10) {
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be > 0, got ${windowMs}`);
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be an integer >= 1, got ${slots}`);
    this.#slotMs = windowMs / slots;
    this.#peaks = new Array<number>(slots).fill(Number.NEGATIVE_INFINITY);
  }

  /** Records `value` at `nowMs` and returns the largest value of the window ending at `nowMs`. */
  add(value: number, nowMs: number): number {
    this.#advance(nowMs);
    const i = this.#index(this.#slot);
    if (value > this.#peaks[i]!) this.#peaks[i] = value;
    return this.max();
  }

  /** The largest value of the window as of the last `add`. */
  max(): number {
    let max = Number.NEGATIVE_INFINITY;
    for (const peak of this.#peaks) if (peak > max) max = peak;
    return max;
  }

  #advance(nowMs: number): void {
    const slot = Math.floor(nowMs / this.#slotMs);
    if (slot <= this.#slot) return;
    // Clear the buckets that left the window (all of them after a long gap).
    const cleared = Math.min(slot - this.#slot, this.#peaks.length);
    for (let k = 1; k <= cleared; k++) this.#peaks[this.#index(slot - cleared + k)] = Number.NEGATIVE_INFINITY;
    this.#slot = slot;
  }

  #index(slot: number): number {
    const n = this.#peaks.length;
    return ((slot % n) + n) % n;
  }
}
