import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../contract/index.js';

/** What the ingress counts. Names are part of the dashboard contract: change them with the dashboard. */
export class IngressMetrics {
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly requestSeconds: Histogram<'route' | 'method'>;
  readonly accepted: Counter<'lane' | 'model'>;
  readonly refused: Counter<'code'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: `${METRIC_PREFIX}ingress_requests_total`,
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    });
    this.requestSeconds = new Histogram({
      name: `${METRIC_PREFIX}ingress_request_duration_seconds`,
      help: 'HTTP request duration (including ?wait=) by route',
      labelNames: ['route', 'method'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    this.accepted = new Counter({
      name: `${METRIC_PREFIX}jobs_enqueued_total`,
      help: 'Jobs accepted and enqueued, by lane and model',
      labelNames: ['lane', 'model'],
      registers: [registry],
    });
    this.refused = new Counter({
      name: `${METRIC_PREFIX}requests_refused_total`,
      help: 'Requests refused at the edge, by error code',
      labelNames: ['code'],
      registers: [registry],
    });
  }
}
