import type { AdaptiveOptions } from './batcher-options.js';

/**
 * A lane's target batch size: deeper backlog asks for fuller batches (up to `maxBatchSize`); smoothed batch
 * latency nearing the SLO scales the ask back towards 1. Batch latency is what batching adds to an item:
 * the batch's run time plus its oldest item's wait for batch-mates (at most `maxLatencyMs`); waiting for GPU
 * room is left out, since smaller batches would not shorten it. The ask is smoothed with an EWMA and the target
 * only moves when the smoothed ask leaves a dead band around it (hysteresis), so it does not oscillate.
 *
 * `raw = 1 + (clamp(backlog, 1, max) - 1) × f`, where `f` is 1 while latency is under `sloShrinkFrom × sloMs`,
 * falls linearly to 0 at `sloMs` and stays 0 beyond. The target starts at `maxBatchSize`: until it has
 * seen load, the lane behaves like a fixed `maxBatchSize`/`maxLatencyMs` batcher.
 */
export class AdaptiveBatchSize {
  readonly #maxBatchSize: number;
  readonly #sloMs: number;
  readonly #options: AdaptiveOptions;
  #smoothed: number;
  #target: number;
  #latencyEwmaMs: number | undefined;

  constructor(maxBatchSize: number, sloMs: number, options: AdaptiveOptions) {
    this.#maxBatchSize = maxBatchSize;
    this.#sloMs = sloMs;
    this.#options = options;
    this.#smoothed = maxBatchSize;
    this.#target = maxBatchSize;
  }

  /** The batch size a group waits for before it flushes (between 1 and `maxBatchSize`). */
  get target(): number {
    return this.#options.enabled ? this.#target : this.#maxBatchSize;
  }

  /** Smoothed batch latency in ms, 0 before any was observed. */
  get latencyEwmaMs(): number {
    return this.#latencyEwmaMs ?? 0;
  }

  /** Records one batch latency (ms). */
  observeLatency(latencyMs: number): void {
    const alpha = this.#options.smoothing;
    this.#latencyEwmaMs = this.#latencyEwmaMs === undefined ? latencyMs : alpha * latencyMs + (1 - alpha) * this.#latencyEwmaMs;
  }

  /** Records the backlog (items waiting in the lane, here and upstream) when a batch forms; may move the target. */
  observeBacklog(backlogItems: number): void {
    const max = this.#maxBatchSize;
    const load = Math.min(max, Math.max(1, backlogItems));
    const raw = 1 + (load - 1) * this.#latencyFactor();
    const alpha = this.#options.smoothing;
    this.#smoothed = alpha * raw + (1 - alpha) * this.#smoothed;
    if (Math.abs(this.#smoothed - this.#target) > 0.5 + this.#options.hysteresis) {
      this.#target = Math.min(max, Math.max(1, Math.round(this.#smoothed)));
    }
  }

  #latencyFactor(): number {
    if (this.#latencyEwmaMs === undefined) return 1;
    const shrinkFromMs = this.#options.sloShrinkFrom * this.#sloMs;
    if (this.#latencyEwmaMs <= shrinkFromMs) return 1;
    if (this.#latencyEwmaMs >= this.#sloMs) return 0;
    return (this.#sloMs - this.#latencyEwmaMs) / (this.#sloMs - shrinkFromMs);
  }
}
