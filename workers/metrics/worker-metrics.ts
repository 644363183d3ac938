import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ERROR_CODES, METRIC_PREFIX } from '../../contract/index.js';
import { BoundCounter, BoundHistogram } from './bound-metrics.js';

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.08, 0.1, 0.15, 0.25, 0.4, 0.6, 0.8, 1, 1.5, 2, 3, 5, 8, 13, 20, 30, 60];

/**
 * The worker's Prometheus series. Names are a contract with `ops/grafana-dashboard.json` and
 * `ops/prometheus-alerts.yml`; a test checks every name they use is exported here.
 */
export class WorkerMetrics {
  // Observed for every job: bound to their labels once (see BoundMetric). The rest are per batch or rarer.
  readonly queueWait: BoundHistogram<'lane'>;
  readonly batchWait: BoundHistogram<'lane'>;
  readonly inference: Histogram<'lane' | 'model'>;
  readonly postProcess: BoundHistogram<'lane'>;
  readonly upload: BoundHistogram<'lane'>;
  readonly endToEnd: BoundHistogram<'lane'>;
  readonly batchSize: Histogram<'lane' | 'model'>;
  readonly vramBudget: Gauge;
  readonly vramInUse: Gauge;
  readonly vramDeviceUsed: Gauge;
  readonly vramDeviceTotal: Gauge;
  readonly activationFactor: Gauge<'model'>;
  readonly engineRestarts: Counter;
  readonly oom: Counter<'model'>;
  readonly completed: BoundCounter<'lane' | 'model'>;
  readonly failed: Counter<'lane' | 'model' | 'code'>;
  readonly costUnits: BoundCounter<'lane' | 'model'>;
  readonly storeRetries: Counter;
  readonly textChecks: Counter<'result'>;
  readonly queueDepth: Gauge<'lane' | 'state'>;
  readonly workerLanes: Gauge<'lane'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const perJobSeconds = (name: string, help: string) =>
      new BoundHistogram({ name: `${METRIC_PREFIX}${name}`, help, labelNames: ['lane'], buckets: SECONDS_BUCKETS, registers });
    this.queueWait = perJobSeconds('queue_wait_seconds', 'Time from enqueue to the worker taking the job');
    this.batchWait = perJobSeconds('batch_wait_seconds', 'Time a job waited in the micro-batcher before its batch started');
    this.inference = new Histogram({ name: `${METRIC_PREFIX}inference_seconds`, help: 'Model time per batch', labelNames: ['lane', 'model'], buckets: SECONDS_BUCKETS, registers });
    this.postProcess = perJobSeconds('postprocess_seconds', 'Encoding (sharp) and text checks per job');
    this.upload = perJobSeconds('upload_seconds', 'Artifact store write per job');
    this.endToEnd = perJobSeconds('end_to_end_seconds', 'Time from enqueue to completed');
    this.batchSize = new Histogram({ name: `${METRIC_PREFIX}batch_size`, help: 'Items per batch', labelNames: ['lane', 'model'], buckets: [1, 2, 3, 4, 6, 8, 12, 16], registers });
    this.vramBudget = new Gauge({ name: `${METRIC_PREFIX}vram_budget_bytes`, help: 'VRAM budget of this worker', registers });
    this.vramInUse = new Gauge({ name: `${METRIC_PREFIX}vram_in_use_bytes`, help: 'VRAM reserved by resident models and batches in flight', registers });
    this.vramDeviceUsed = new Gauge({ name: `${METRIC_PREFIX}vram_device_used_bytes`, help: "The GPU's memory in use, all processes, as nvidia-smi reports it (CUDA workers)", registers });
    this.vramDeviceTotal = new Gauge({ name: `${METRIC_PREFIX}vram_device_total_bytes`, help: "The GPU's memory, as nvidia-smi reports it (CUDA workers)", registers });
    this.activationFactor = new Gauge({
      name: `${METRIC_PREFIX}activation_factor`,
      help: "Multiplier of a model's declared activation bytes, raised by out-of-memory errors and by measured device memory",
      labelNames: ['model'],
      registers,
    });
    this.engineRestarts = new Counter({ name: `${METRIC_PREFIX}engine_restarts_total`, help: 'Inference engine threads lost (their runs failed and were retried)', registers });
    this.oom = new Counter({ name: `${METRIC_PREFIX}oom_total`, help: 'Out-of-memory errors reported by the runtime (each batch bisected and retried)', labelNames: ['model'], registers });
    this.completed = new BoundCounter({ name: `${METRIC_PREFIX}jobs_completed_total`, help: 'Jobs completed', labelNames: ['lane', 'model'], registers });
    this.failed = new Counter({ name: `${METRIC_PREFIX}jobs_failed_total`, help: 'Job attempts failed, by error code', labelNames: ['lane', 'model', 'code'], registers });
    this.costUnits = new BoundCounter({ name: `${METRIC_PREFIX}cost_units_total`, help: 'Cost units of completed renders', labelNames: ['lane', 'model'], registers });
    this.storeRetries = new Counter({ name: `${METRIC_PREFIX}store_retries_total`, help: 'Artifact store retries (throttling, 5xx)', registers });
    this.textChecks = new Counter({ name: `${METRIC_PREFIX}text_checks_total`, help: 'Typography OCR checks: first_try_pass, final_pass, final_fail, unchecked', labelNames: ['result'], registers });
    this.queueDepth = new Gauge({ name: `${METRIC_PREFIX}queue_depth`, help: 'Jobs per lane and state, as this worker last read them', labelNames: ['lane', 'state'], registers });
    this.workerLanes = new Gauge({ name: `${METRIC_PREFIX}worker_lane`, help: '1 for each lane this worker drains', labelNames: ['lane'], registers });
  }

  /**
   * Creates the label sets known in advance at 0: OOMs per model, failures per lane, model and catalogue code.
   * A counter that first appears at 1 is invisible to `increase()` and `rate()`, so the first OOM of a model or the
   * first failure of a code would page nobody and show on no chart.
   */
  startAtZero(models: ReadonlyArray<{ name: string; lanes: readonly string[] }>, lanes: readonly string[]): void {
    for (const model of models) {
      this.oom.labels({ model: model.name }).inc(0);
      for (const lane of lanes) {
        if (!model.lanes.includes(lane)) continue;
        for (const code of Object.keys(ERROR_CODES)) this.failed.labels({ lane, model: model.name, code }).inc(0);
      }
    }
  }
}
