/** An opaque handle returned by {@link Clock.setTimeout}; pass it back to {@link Clock.clearTimeout}. */
export type TimerHandle = unknown;

/**
 * The batcher's only source of time. Injected so that tests and the benchmark can drive a
 * {@link FakeClock} while workers use {@link realClock}.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences are meaningful. */
  now(): number;
  /** Calls `fn` once, `ms` milliseconds from now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer that has not fired yet; a no-op for one that has. */
  clearTimeout(handle: TimerHandle): void;
}

/** The process clock: `performance.now()` (monotonic) and the global timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
