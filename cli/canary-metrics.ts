import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../contract/index.js';
import type { CanaryDecision, CanaryState } from '../router/index.js';

/**
 * The canary controller's Prometheus series (`fleet canary run --metrics-port`). Names are a contract with
 * ops/prometheus-alerts.yml (FleetCanaryRolledBack) and ops/grafana-dashboard.json.
 */
export class CanaryMetrics {
  readonly rollbacks: Counter<'lane' | 'model'>;
  readonly decisions: Counter<'lane' | 'model' | 'action'>;
  readonly share: Gauge<'lane' | 'model'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.rollbacks = new Counter({ name: `${METRIC_PREFIX}canary_rollbacks_total`, help: 'Canaries rolled back by their gates', labelNames: ['lane', 'model'], registers });
    this.decisions = new Counter({ name: `${METRIC_PREFIX}canary_decisions_total`, help: 'Canary decisions: step, promoted, rollback, abort, promote, pause, resume', labelNames: ['lane', 'model', 'action'], registers });
    this.share = new Gauge({ name: `${METRIC_PREFIX}canary_share_percent`, help: "Share of the lane's traffic the canary model has, %", labelNames: ['lane', 'model'], registers });
  }

  /** A counter first seen at 1 is invisible to increase(): the canary's series start at 0 when it is taken on. */
  watch(state: CanaryState): void {
    const labels = { lane: state.plan.lane, model: state.plan.model };
    this.rollbacks.labels(labels).inc(0);
    this.share.labels(labels).set(state.step < 0 ? 0 : state.plan.steps[state.step]!);
  }

  record(decision: CanaryDecision, state: CanaryState): void {
    const labels = { lane: state.plan.lane, model: state.plan.model };
    this.watch(state);
    this.decisions.labels({ ...labels, action: decision.action }).inc();
    if (decision.action === 'rollback') this.rollbacks.labels(labels).inc();
    this.share.labels(labels).set(decision.sharePercent);
  }
}
