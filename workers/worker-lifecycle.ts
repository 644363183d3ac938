/**
 * A worker's lifecycle, as `fleet status` shows it:
 * - `starting`: `start()` is connecting, reading the models, starting the engine; no job is taken.
 * - `running`: its lanes take jobs.
 * - `draining`: `stop()` was called: no new jobs, batches in flight finish (or, when `stop()` came during
 *   `start()`, the start unwinds what it had set up).
 * - `stopped`: final; nothing runs and every connection is closed.
 */
export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped';

/** The transitions a worker may take; anything else is a bug and is refused. */
export const WORKER_TRANSITIONS: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  // A start that fails goes straight to stopped; a stop during the start drains what the start set up.
  starting: ['running', 'draining', 'stopped'],
  running: ['draining'],
  draining: ['stopped'],
  stopped: [],
};

/** Holds a worker's state and refuses transitions not in {@link WORKER_TRANSITIONS}. */
export class WorkerLifecycle {
  private current: WorkerState = 'starting';

  get state(): WorkerState {
    return this.current;
  }

  /** @throws Error naming both states when `next` is not reachable from the current state. */
  moveTo(next: WorkerState): void {
    if (!WORKER_TRANSITIONS[this.current].includes(next)) {
      throw new Error(`a worker cannot go from ${this.current} to ${next} (allowed: ${WORKER_TRANSITIONS[this.current].join(', ') || 'none'})`);
    }
    this.current = next;
  }
}
