import type { Clock, TimerHandle } from './clock.js';

interface FakeTimer {
  readonly id: number;
  readonly atMs: number;
  readonly fn: () => void;
}

/** Lets every pending promise callback run (they all run before the next macrotask). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A manual {@link Clock} for tests and simulations: time moves only when told to, and timers fire in
 * order of due time (ties in order of creation).
 *
 * Use {@link FakeClock.advanceAsync} when code under test awaits promises between timers: it lets
 * promise callbacks run after every timer, so a chain of `await`s settles at the simulated instant it
 * would have in real time.
 */
export class FakeClock implements Clock {
  #nowMs: number;
  #nextId = 1;
  readonly #timers = new Map<number, FakeTimer>();

  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { id, atMs: this.#nowMs + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** How many timers are waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** When the next timer fires, or `undefined` when none is pending. */
  nextTimerAtMs(): number | undefined {
    return this.#nextTimer()?.atMs;
  }

  /** Moves time forward by `ms`, firing due timers synchronously (promise callbacks do not run in between). */
  advance(ms: number): void {
    const targetMs = this.#nowMs + ms;
    for (let timer = this.#nextTimer(); timer && timer.atMs <= targetMs; timer = this.#nextTimer()) {
      this.#fire(timer);
    }
    this.#nowMs = targetMs;
  }

  /** Moves time forward by `ms`, letting promise callbacks run before and after every timer. */
  async advanceAsync(ms: number): Promise<void> {
    const targetMs = this.#nowMs + ms;
    await flushMicrotasks();
    for (let timer = this.#nextTimer(); timer && timer.atMs <= targetMs; timer = this.#nextTimer()) {
      this.#fire(timer);
      await flushMicrotasks();
    }
    this.#nowMs = targetMs;
    await flushMicrotasks();
  }

  /**
   * Fires timers (with promise callbacks in between) until none is pending or `maxTimers` have fired.
   * Returns how many fired. A simulation ends this way once its work is done.
   */
  async runAllAsync(maxTimers = 1_000_000): Promise<number> {
    await flushMicrotasks();
    let fired = 0;
    for (let timer = this.#nextTimer(); timer && fired < maxTimers; timer = this.#nextTimer()) {
      this.#fire(timer);
      fired++;
      await flushMicrotasks();
    }
    return fired;
  }

  #fire(timer: FakeTimer): void {
    this.#timers.delete(timer.id);
    this.#nowMs = Math.max(this.#nowMs, timer.atMs);
    timer.fn();
  }

  #nextTimer(): FakeTimer | undefined {
    let next: FakeTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (!next || timer.atMs < next.atMs || (timer.atMs === next.atMs && timer.id < next.id)) next = timer;
    }
    return next;
  }
}
