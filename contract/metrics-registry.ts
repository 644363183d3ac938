import { collectDefaultMetrics, Registry } from 'prom-client';

/** Every fleet metric name starts with this. */
export const METRIC_PREFIX = 'fleet_';

/**
 * prom-client's default gauges whose names end in `_total`, which Prometheus reserves for counters
 * (`promtool check metrics` flags them, and `rate()` on them would be wrong): dropped from the registry.
 */
const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * A prom-client registry for one process, with Node's default metrics (`fleet_process_*`, `fleet_nodejs_*`,
 * less those misnamed as counters) and `labels` on every series (e.g. `{ role: 'worker', gpu: '0' }`).
 */
export function createMetricsRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(`${METRIC_PREFIX}${name}`);
  return registry;
}
