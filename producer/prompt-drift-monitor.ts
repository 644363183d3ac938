import { Gauge, type Registry } from 'prom-client';
import { HOUR, METRIC_PREFIX, MINUTE, type RedisClient } from '../contract/index.js';
import { compareDrift, driftTotal } from '../router/index.js';
import { DriftBaselineStore } from './drift-baselines.js';
import { MAX_DRIFT_WINDOW_MS, readDriftCounts } from './request-feature-counts.js';

export interface PromptDriftMonitorOptions {
  redis: RedisClient;
  prefix: string;
  /** Where `fleet_prompt_drift` and `fleet_prompt_drift_window_requests` are registered. */
  registry: Registry;
  /** Traffic compared against the active baseline: the last `windowMs`, ms (1 minute to 24 hours). @default 3600000 (1 h) */
  windowMs?: number;
  /** How often the scores are computed again, ms. @default 60000 */
  intervalMs?: number;
  /** Source of the current time (ms), injected for tests. @default Date.now */
  now?: () => number;
  /** Told when a refresh fails (the gauges keep their last values). @default ignore */
  onError?: (error: unknown) => void;
}

export const PROMPT_DRIFT_MONITOR_DEFAULTS = {
  windowMs: HOUR,
  intervalMs: MINUTE,
  now: Date.now,
  onError: () => {},
} satisfies Required<Pick<PromptDriftMonitorOptions, 'windowMs' | 'intervalMs' | 'now' | 'onError'>>;

/**
 * Exports how far the ingress's recent traffic has moved from the active baseline: `fleet_prompt_drift{feature}`
 * (the population stability index of each feature, see `PSI_THRESHOLDS`) and `fleet_prompt_drift_window_requests`
 * (requests in the window, so an alert can ignore a window too thin to judge). Without a baseline, or with an empty
 * window, `fleet_prompt_drift` has no series (nothing to alert on). Every ingress computes the same figures from
 * the shared counts in Redis: aggregate with `max`, never `sum`.
 */
export class PromptDriftMonitor {
  private readonly options: Required<PromptDriftMonitorOptions>;
  private readonly drift: Gauge<'feature'>;
  private readonly windowRequests: Gauge;
  private readonly baselines: DriftBaselineStore;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: PromptDriftMonitorOptions) {
    const d = PROMPT_DRIFT_MONITOR_DEFAULTS;
    this.options = { ...options, windowMs: options.windowMs ?? d.windowMs, intervalMs: options.intervalMs ?? d.intervalMs, now: options.now ?? d.now, onError: options.onError ?? d.onError };
    const { windowMs, intervalMs } = this.options;
    if (!(windowMs >= MINUTE && windowMs <= MAX_DRIFT_WINDOW_MS)) throw new RangeError(`windowMs must be 60000–${MAX_DRIFT_WINDOW_MS}, got ${windowMs}`);
    if (!(intervalMs >= 1)) throw new RangeError(`intervalMs must be >= 1, got ${intervalMs}`);
    this.baselines = new DriftBaselineStore(options.redis, options.prefix);
    this.drift = new Gauge({
      name: `${METRIC_PREFIX}prompt_drift`,
      help: 'Population stability index of each request feature over the drift window against the active baseline (over 0.25: significant)',
      labelNames: ['feature'],
      registers: [options.registry],
    });
    this.windowRequests = new Gauge({
      name: `${METRIC_PREFIX}prompt_drift_window_requests`,
      help: 'Requests counted in the drift window (all ingresses)',
      registers: [options.registry],
    });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.refresh().catch(this.options.onError), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the window and the active baseline and sets the gauges. */
  async refresh(): Promise<void> {
    const { redis, prefix, windowMs, now } = this.options;
    const [baseline, window] = await Promise.all([this.baselines.active(), readDriftCounts(redis, prefix, windowMs, now())]);
    this.windowRequests.set(driftTotal(window));
    this.drift.reset();
    if (baseline === undefined) return;
    for (const { feature, psi } of compareDrift(baseline.counts, window)) if (psi !== null) this.drift.set({ feature }, psi);
  }
}
