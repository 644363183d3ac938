export { MicroBatcher } from './micro-batcher.js';
export { FakeClock, flushMicrotasks } from './fake-clock.js';
export { realClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export {
  BatchingError,
  VramBudgetError,
  OutOfMemoryError,
  BatcherStoppedError,
  isOutOfMemoryError,
} from './batching-error.js';
export type { BatchingErrorCode } from './batching-error.js';
export {
  resolveBatcherOptions,
  resolveLaneConfig,
  DEFAULT_BATCHER_OPTIONS,
  DEFAULT_LANE_CONFIG,
  DEFAULT_ADAPTIVE_OPTIONS,
} from './batcher-options.js';
export type { BatcherOptions, ResolvedBatcherOptions, LaneConfig, LaneOptions, AdaptiveOptions } from './batcher-options.js';
export type { Batch, BatchItem, ItemOutcome, ModelSpec, RunBatch } from './batch.js';
export type { BatcherEvent } from './batcher-event.js';
export type { BatcherState, BatcherStats, LaneStats, ModelStats, ModelResidencyState } from './batcher-stats.js';
export { AdaptiveBatchSize } from './adaptive-batch-size.js';
export { planAdmission } from './admission.js';
export { planFromMeasuredUse } from './measured-use.js';
export type { MeasuredUseInput, MeasuredUsePlan } from './measured-use.js';
export type { AdmissionInput, AdmissionPlan } from './admission.js';
