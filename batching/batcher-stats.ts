/** The batcher's lifecycle: `running` takes items; `draining` finishes what it holds; `stopped` is final. */
export type BatcherState = 'running' | 'draining' | 'stopped';

/** Where a model's weights are. `unloading` weights still count against the budget until freed. */
export type ModelResidencyState = 'unloaded' | 'loading' | 'ready' | 'unloading';

export interface LaneStats {
  /** Items submitted and not started yet (including out-of-memory halves waiting to retry). */
  queuedItems: number;
  /** Items in running (or loading) batches. */
  inFlightItems: number;
  /** Current adaptive target batch size. */
  targetBatchSize: number;
  /** Smoothed batch latency (run time + wait for batch-mates), ms; 0 before the first result. */
  latencyEwmaMs: number;
  /** Backlog last reported with `setBacklog()`. */
  backlog: number;
  /** GPU time the lane's batches took, ms (what fair sharing divides by weight). */
  gpuMs: number;
  batchesStarted: number;
  itemsStarted: number;
}

export interface ModelStats {
  state: ModelResidencyState;
  weightBytes: number;
  /** Batches running (or waiting for the load) on this model; it is never evicted while above 0. */
  runningBatches: number;
  /** Learned multiplier of the declared activation bytes (1 until an out-of-memory error). */
  activationFactor: number;
}

/** A snapshot of the batcher (a fresh object each call). */
export interface BatcherStats<L extends string = string> {
  state: BatcherState;
  budgetBytes: number;
  /** Resident weights + activations of batches in flight, bytes. Never above `budgetBytes`. */
  usedBytes: number;
  residentWeightBytes: number;
  inFlightActivationBytes: number;
  batchesInFlight: number;
  batchesStarted: number;
  /** Out-of-memory errors from `run()` (each one bisects its batch). */
  oom: number;
  itemsSubmitted: number;
  itemsResolved: number;
  itemsRejected: number;
  modelLoads: number;
  modelEvictions: number;
  lanes: Record<L, LaneStats>;
  models: Record<string, ModelStats>;
}
