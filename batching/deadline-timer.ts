import type { Clock, TimerHandle } from './clock.js';

/** One clock timer aimed at the earliest deadline; re-aiming at the same instant keeps the timer. */
export class DeadlineTimer {
  readonly #clock: Clock;
  readonly #onFire: () => void;
  #timer: { handle: TimerHandle; atMs: number } | undefined;

  constructor(clock: Clock, onFire: () => void) {
    this.#clock = clock;
    this.#onFire = onFire;
  }

  /** Fires `onFire` at `atMs` (clock time), or never when `undefined`. */
  aim(atMs: number | undefined): void {
    if (this.#timer?.atMs === atMs) return;
    if (this.#timer) this.#clock.clearTimeout(this.#timer.handle);
    this.#timer = undefined;
    if (atMs === undefined) return;
    const handle = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#onFire();
    }, Math.max(0, atMs - this.#clock.now()));
    this.#timer = { handle, atMs };
  }
}
