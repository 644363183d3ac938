import { UnrecoverableError, type Job } from 'bullmq';
import { describeError, ERROR_CODES, errorCodeOf, formatFailedReason, type JobData, type JobResult, type Lane, type Logger } from '../../contract/index.js';
import type { CounterChild, HistogramChild } from '../metrics/bound-metrics.js';
import type { LatencyRecorder } from '../metrics/latency-recorder.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import type { FinishTimings } from './job-finisher.js';

/** What a job's outcome is recorded from: its data and, for a failure, the attempts BullMQ made and allows. */
export type RecordedJob = Pick<Job<JobData, JobResult>, 'data' | 'attemptsMade' | 'opts'>;

export interface LaneOutcomesOptions {
  lane: Lane;
  metrics: Pick<WorkerMetrics, 'queueWait' | 'batchWait' | 'postProcess' | 'upload' | 'endToEnd' | 'completed' | 'costUnits' | 'failed'>;
  recorder: Pick<LatencyRecorder, 'observeJob' | 'observeModelJob' | 'count' | 'countModelFailure'>;
}

/**
 * Records how one lane's jobs ended: the Prometheus series (per-lane histograms bound once, per-model counters
 * bound on a model's first job) and the Redis latency recorder, and codes each failure for BullMQ.
 */
export class LaneOutcomes {
  readonly #options: LaneOutcomesOptions;
  readonly #laneSeconds: Record<'queueWait' | 'batchWait' | 'postProcess' | 'upload' | 'endToEnd', HistogramChild>;
  readonly #perModel = new Map<string, { completed: CounterChild; costUnits: CounterChild }>();

  constructor(options: LaneOutcomesOptions) {
    this.#options = options;
    const { metrics, lane } = options;
    this.#laneSeconds = {
      queueWait: metrics.queueWait.labels({ lane }),
      batchWait: metrics.batchWait.labels({ lane }),
      postProcess: metrics.postProcess.labels({ lane }),
      upload: metrics.upload.labels({ lane }),
      endToEnd: metrics.endToEnd.labels({ lane }),
    };
  }

  /** A completed job: its stage times, its model's completed count and cost units, and the recorder's series. */
  completed(data: JobData, result: JobResult, timings: FinishTimings): void {
    const t = result.timings;
    const seconds = this.#laneSeconds;
    seconds.queueWait.observe((t.queueWaitMs ?? 0) / 1000);
    seconds.batchWait.observe((t.batchWaitMs ?? 0) / 1000);
    seconds.postProcess.observe(timings.postProcessMs / 1000);
    seconds.upload.observe(timings.uploadMs / 1000);
    seconds.endToEnd.observe((t.endToEndMs ?? 0) / 1000);
    const perModel = this.#modelCounters(data.model);
    perModel.completed.inc();
    perModel.costUnits.inc(result.costUnits ?? 0);
    this.#options.recorder.observeJob(this.#options.lane, t);
    this.#options.recorder.observeModelJob(data, result);
  }

  /**
   * Codes a failed attempt, counts it (the recorder's series only when it is the job's last) and logs it with its
   * cause; returns what the processor throws: what retrying cannot fix becomes UnrecoverableError, so BullMQ fails
   * it at once.
   */
  failure(job: RecordedJob, error: unknown, log: Logger): Error {
    const { lane, metrics, recorder } = this.#options;
    const code = errorCodeOf(error);
    // The wrapper's context and the runtime's own words: `… failed while running: <onnxruntime's message>`.
    const message = describeError(error);
    const retryable = ERROR_CODES[code].retryable;
    const final = !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    metrics.failed.inc({ lane, model: job.data.model, code });
    if (final) recorder.count(lane, 'failed');
    if (final) recorder.countModelFailure(job.data, code);
    log[final ? 'error' : 'warn']({ code, err: error, attempt: job.attemptsMade + 1, final }, message);
    const reason = formatFailedReason(code, message);
    return retryable ? new Error(reason) : new UnrecoverableError(reason);
  }

  #modelCounters(model: string): { completed: CounterChild; costUnits: CounterChild } {
    let counters = this.#perModel.get(model);
    if (counters === undefined) {
      const labels = { lane: this.#options.lane, model };
      const { metrics } = this.#options;
      this.#perModel.set(model, (counters = { completed: metrics.completed.labels(labels), costUnits: metrics.costUnits.labels(labels) }));
    }
    return counters;
  }
}
