/**
 * When a worker helps with a lane it does not own (`FleetWorkerOptions.overflowLanes`): the two fields are the
 * `FleetWorkerOptions` (and `fleet worker` flags) of the same names.
 */
export interface OverflowGateOptions {
  /** Jobs waiting in the lane's queue (Redis) for the gate to consider opening (`--overflow-backlog`). */
  overflowBacklog: number;
  /** How long the backlog must have stayed at `overflowBacklog` or more before the gate opens, ms (`--overflow-after-ms`). */
  overflowAfterMs: number;
}

/**
 * An overflow lane's gate: open while the lane has been backed up for `overflowAfterMs` and the worker's own lanes
 * are idle, closed otherwise. Pure: the caller reports the backlog it reads and the time (monotonic ms).
 */
export class OverflowGate {
  readonly #options: OverflowGateOptions;
  #backedUpSinceMs: number | undefined;
  #open = false;

  constructor(options: OverflowGateOptions) {
    if (!Number.isInteger(options.overflowBacklog) || options.overflowBacklog < 1) throw new RangeError(`overflowBacklog must be an integer >= 1, got ${options.overflowBacklog}`);
    if (!(options.overflowAfterMs >= 0) || !Number.isFinite(options.overflowAfterMs)) throw new RangeError(`overflowAfterMs must be a finite number >= 0, got ${options.overflowAfterMs}`);
    this.#options = options;
  }

  get open(): boolean {
    return this.#open;
  }

  /** The lane's waiting jobs as read at `nowMs`. */
  observeBacklog(waitingJobs: number, nowMs: number): void {
    if (waitingJobs < this.#options.overflowBacklog) this.#backedUpSinceMs = undefined;
    else this.#backedUpSinceMs ??= nowMs;
  }

  /** Opens or closes the gate for the state at `nowMs`; returns whether it is open. */
  evaluate(ownLanesIdle: boolean, nowMs: number): boolean {
    const backedUp = this.#backedUpSinceMs !== undefined && nowMs - this.#backedUpSinceMs >= this.#options.overflowAfterMs;
    this.#open = backedUp && ownLanesIdle;
    return this.#open;
  }
}
