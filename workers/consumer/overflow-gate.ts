/** When a worker helps with a lane it does not own (`FleetWorkerOptions.overflowLanes`). */
export interface OverflowGateOptions {
  /** Jobs waiting in the lane's queue (Redis) for the gate to consider opening. */
  minBacklog: number;
  /** How long the backlog must have stayed at `minBacklog` or more before the gate opens, ms. */
  backedUpForMs: number;
}

/**
 * An overflow lane's gate: open while the lane has been backed up for `backedUpForMs` and the worker's own lanes
 * are idle, closed otherwise. Pure: the caller reports the backlog it reads and the time (monotonic ms).
 */
export class OverflowGate {
  readonly #options: OverflowGateOptions;
  #backedUpSinceMs: number | undefined;
  #open = false;

  constructor(options: OverflowGateOptions) {
    if (!Number.isInteger(options.minBacklog) || options.minBacklog < 1) throw new RangeError(`minBacklog must be an integer >= 1, got ${options.minBacklog}`);
    if (!(options.backedUpForMs >= 0) || !Number.isFinite(options.backedUpForMs)) throw new RangeError(`backedUpForMs must be a finite number >= 0, got ${options.backedUpForMs}`);
    this.#options = options;
  }

  get open(): boolean {
    return this.#open;
  }

  /** The lane's waiting jobs as read at `nowMs`. */
  observeBacklog(waitingJobs: number, nowMs: number): void {
    if (waitingJobs < this.#options.minBacklog) this.#backedUpSinceMs = undefined;
    else this.#backedUpSinceMs ??= nowMs;
  }

  /** Opens or closes the gate for the state at `nowMs`; returns whether it is open. */
  evaluate(ownLanesIdle: boolean, nowMs: number): boolean {
    const backedUp = this.#backedUpSinceMs !== undefined && nowMs - this.#backedUpSinceMs >= this.#options.backedUpForMs;
    this.#open = backedUp && ownLanesIdle;
    return this.#open;
  }
}
