export { Producer, createProducer, type WaitOptions, type EnqueueOptions, type EnqueueReplayOptions } from './producer.js';
/** @deprecated the name `EnqueueReplayOptions` says which replay options these are. */
export type { EnqueueReplayOptions as ReplayOptions } from './producer.js';
export { replayJobs, selectJobs, type ReplayEntry, type ReplayJobsOptions, type ReplaySelection, type ReplayState } from './job-replay.js';
export { findByUnique, readReplayMarker, replayMarkerKey, replayUniqueOf, type ReplayMarker } from './replay-claims.js';
export { resolveProducerOptions, PRODUCER_DEFAULTS, type ProducerOptions } from './producer-options.js';
export { toJobView, toJobState } from './job-view.js';
export { toPublicJobView, scrubPaths } from './public-job-view.js';
export { LaneQueues } from './lane-queues.js';
export { createIngress, INGRESS_DEFAULTS, MAX_BODY_BYTES, MAX_WAIT_SECONDS, type IngressOptions, type Ingress } from './ingress.js';
export { IngressMetrics } from './ingress-metrics.js';
export { AccessTokens, assertWithinScope, type AccessScope } from './access-tokens.js';
export { RedisModelCatalogue, NO_CATALOGUE, type ModelCatalogueSource } from './model-catalogue-source.js';
export { checkRequestAgainstModel } from './model-limits.js';
export { RequestFeatureCounter, readDriftCounts, driftCountsKey, DRIFT_COUNTS_TTL_SECONDS, MAX_DRIFT_WINDOW_MS } from './request-feature-counts.js';
export { DriftBaselineStore, type DriftBaseline } from './drift-baselines.js';
export { PromptDriftMonitor, PROMPT_DRIFT_MONITOR_DEFAULTS, type PromptDriftMonitorOptions } from './prompt-drift-monitor.js';
export { assertTextDrawable } from './text-coverage-guard.js';
