import { SlidingMax } from './sliding-max.js';

/** What the concurrency reads of the batcher (`MicroBatcher`'s per-lane counts). */
export interface LaneDemand<L extends string> {
  /** The lane's items in the batcher now: waiting for batch-mates or room, or in a running batch. */
  heldItems(lane: L): number;
  /** How many more items the lane would take now. */
  wantedItems(lane: L): number;
}

export interface LaneConcurrencyOptions<L extends string> {
  lane: L;
  batcher: LaneDemand<L>;
  /** How long the lane keeps the concurrency its demand last peaked at, ms: `FleetWorkerOptions.concurrencyHoldMs`. */
  concurrencyHoldMs: number;
  /** Monotonic time, ms. */
  monotonicNow: () => number;
  /**
   * Jobs held at once, fixed instead of following the demand: only for measuring what the demand prevents
   * (bursting), as `FleetWorkerOptions.fixedConcurrency`. @default undefined (follow the demand)
   */
  fixedConcurrency?: number | undefined;
}

/**
 * How many jobs a lane's BullMQ Worker holds at once: the peak, over the last `concurrencyHoldMs`, of the lane's
 * demand, `max(1, heldItems + wantedItems)`. So a busy worker leaves jobs in Redis for others, the concurrency
 * rises at once with the demand and falls back once a hold passes without it.
 *
 * Without the hold the demand swings by a whole batch at every batch start and end; each rise sends BullMQ's main
 * loop fetching one job per Redis round trip while the jobs that completed wait for it to dispatch them.
 * Pure: the batcher's counts and the clock are passed in.
 */
export class LaneConcurrency<L extends string> {
  readonly #options: LaneConcurrencyOptions<L>;
  readonly #peak: SlidingMax;

  constructor(options: LaneConcurrencyOptions<L>) {
    if (!(options.concurrencyHoldMs > 0) || !Number.isFinite(options.concurrencyHoldMs)) {
      throw new RangeError(`concurrencyHoldMs must be a finite number > 0, got ${options.concurrencyHoldMs}`);
    }
    const fixed = options.fixedConcurrency;
    if (fixed !== undefined && (!Number.isInteger(fixed) || fixed < 1)) throw new RangeError(`fixedConcurrency must be an integer >= 1, got ${fixed}`);
    this.#options = options;
    this.#peak = new SlidingMax(options.concurrencyHoldMs);
  }

  /** The demand now, not held: what a Worker starts with (or the fixed concurrency). */
  wanted(): number {
    const { fixedConcurrency, batcher, lane } = this.#options;
    if (fixedConcurrency !== undefined) return fixedConcurrency;
    return Math.max(1, batcher.heldItems(lane) + batcher.wantedItems(lane));
  }

  /** Records the demand now and returns the concurrency to apply: its peak over the hold (or the fixed concurrency). */
  update(): number {
    const wanted = this.wanted();
    return this.#options.fixedConcurrency === undefined ? this.#peak.add(wanted, this.#options.monotonicNow()) : wanted;
  }
}
