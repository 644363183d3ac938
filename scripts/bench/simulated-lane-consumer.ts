import type { Clock, MicroBatcher } from '../../batching/index.js';
import { LaneConcurrency } from '../../workers/index.js';

export interface SimulatedLaneConsumerOptions<T, L extends string> {
  lane: L;
  batcher: Pick<MicroBatcher<T, unknown, L>, 'heldItems' | 'wantedItems' | 'state'>;
  clock: Clock;
  /** `FleetWorkerOptions.concurrencyHoldMs`. */
  concurrencyHoldMs: number;
  /** Takes the next job waiting upstream, if any (the simulated Redis list). */
  take: () => T | undefined;
  /** Submits a taken job; the job holds its slot until this settles. */
  submit: (job: T) => Promise<unknown>;
}

/**
 * A lane's BullMQ Worker reduced to its flow control, with production's {@link LaneConcurrency} (what
 * `LaneConsumer.updateConcurrency` applies): concurrency is the peak, over `concurrencyHoldMs`, of
 * `max(1, heldItems + wantedItems)`, and the lane takes jobs while it holds fewer than that. Redis round trips
 * are not simulated: a job is taken as soon as there is room. Call `update()` where production does: after batcher events and on the depth poll; a job
 * arriving or settling calls it too (BullMQ's blocking fetch wakes, and a finished job frees a slot).
 */
export class SimulatedLaneConsumer<T, L extends string> {
  readonly #options: SimulatedLaneConsumerOptions<T, L>;
  readonly #concurrency: LaneConcurrency<L>;
  #active = 0;

  constructor(options: SimulatedLaneConsumerOptions<T, L>) {
    this.#options = options;
    const { lane, batcher, concurrencyHoldMs, clock } = options;
    this.#concurrency = new LaneConcurrency({ lane, batcher, concurrencyHoldMs, monotonicNow: () => clock.now() });
  }

  /** Jobs taken and not settled (BullMQ's jobs in progress). */
  get active(): number {
    return this.#active;
  }

  update(): void {
    const { batcher } = this.#options;
    const concurrency = this.#concurrency.update();
    while (this.#active < concurrency && batcher.state === 'running') {
      const job = this.#options.take();
      if (job === undefined) return;
      this.#active++;
      void this.#options.submit(job).finally(() => {
        this.#active--;
        this.update();
      });
    }
  }
}
