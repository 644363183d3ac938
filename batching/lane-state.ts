import type { AdaptiveOptions, LaneConfig } from './batcher-options.js';
import type { LaneStats } from './batcher-stats.js';
import { AdaptiveBatchSize } from './adaptive-batch-size.js';
import { PendingBatches } from './pending-batches.js';

/** Everything the batcher tracks for one lane. */
export interface LaneState<T, R, L extends string> {
  readonly name: L;
  readonly config: LaneConfig;
  readonly pending: PendingBatches<T, R>;
  readonly adaptive: AdaptiveBatchSize;
  /** Jobs waiting upstream, as last reported with `setBacklog()`. */
  backlog: number;
  inFlightItems: number;
  /** This lane's batches running (or loading their model) now. */
  inFlightBatches: number;
  /** Since when the lane's turn has been blocked by the budget (undefined when not blocked). */
  blockedSinceMs: number | undefined;
  gpuMs: number;
  batchesStarted: number;
  itemsStarted: number;
}

export function createLaneState<T, R, L extends string>(name: L, config: LaneConfig, adaptive: AdaptiveOptions): LaneState<T, R, L> {
  return {
    name,
    config,
    pending: new PendingBatches(),
    adaptive: new AdaptiveBatchSize(config.maxBatchSize, config.sloMs, adaptive),
    backlog: 0,
    inFlightItems: 0,
    inFlightBatches: 0,
    blockedSinceMs: undefined,
    gpuMs: 0,
    batchesStarted: 0,
    itemsStarted: 0,
  };
}

export function laneStats<T, R, L extends string>(lane: LaneState<T, R, L>): LaneStats {
  return {
    queuedItems: lane.pending.size,
    inFlightItems: lane.inFlightItems,
    targetBatchSize: lane.adaptive.target,
    latencyEwmaMs: lane.adaptive.latencyEwmaMs,
    backlog: lane.backlog,
    gpuMs: lane.gpuMs,
    batchesStarted: lane.batchesStarted,
    itemsStarted: lane.itemsStarted,
  };
}
