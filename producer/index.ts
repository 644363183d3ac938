export { Producer, createProducer, type WaitOptions, type EnqueueOptions, type ReplayOptions } from './producer.js';
export { resolveProducerOptions, PRODUCER_DEFAULTS, type ProducerOptions } from './producer-options.js';
export { toJobView, toJobState } from './job-view.js';
export { LaneQueues } from './lane-queues.js';
export { createIngress, MAX_BODY_BYTES, MAX_WAIT_SECONDS, type IngressOptions, type Ingress } from './ingress.js';
export { IngressMetrics } from './ingress-metrics.js';
