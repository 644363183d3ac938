import { collectDefaultMetrics, Registry } from 'prom-client';

/** Every fleet metric name starts with this. */
export const METRIC_PREFIX = 'fleet_';

/**
 * A prom-client registry for one process, with Node's default metrics (`fleet_process_*`, `fleet_nodejs_*`)
 * and `labels` on every series (e.g. `{ role: 'worker', gpu: '0' }`).
 */
export function createMetricsRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}
