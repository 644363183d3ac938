import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { MicroBatcher } from '../batching/index.js';
import {
  ERROR_CODES,
  errorCodeOf,
  FleetError,
  formatFailedReason,
  laneQueueName,
  laneQueuePrefix,
  ValidationError,
  type JobData,
  type JobResult,
  type Lane,
  type Logger,
  type RedisClient,
} from '../contract/index.js';
import type { JobFinisher } from './job-finisher.js';
import type { LatencyRecorder } from './latency-recorder.js';
import type { ModelRepository } from './model-repository.js';
import type { InferenceOutput, RenderJob } from './render-job.js';
import { planRenderSize } from './render-size.js';
import type { ArtifactStore } from './stores/artifact-store.js';
import type { WorkerMetrics } from './worker-metrics.js';

export interface LaneConsumerOptions {
  lane: Lane;
  prefix: string;
  /** A blocking connection of this consumer's own (`maxRetriesPerRequest: null`). */
  connection: RedisClient;
  batcher: MicroBatcher<RenderJob, InferenceOutput, Lane>;
  repository: ModelRepository;
  finisher: JobFinisher;
  store: ArtifactStore;
  metrics: WorkerMetrics;
  recorder: LatencyRecorder;
  logger: Logger;
  lockDurationMs: number;
  /** Jobs held at once, fixed (no credits): only for measuring bursting. @default credits */
  fixedConcurrency?: number;
  now?: () => number;
}

/**
 * Drains one lane: a BullMQ Worker whose processor hands each job to the shared micro-batcher and
 * finishes it (encode, store) once its batch ran. How many jobs it holds follows the batcher's credits:
 * the Worker's concurrency is reset to what the lane has in the batcher plus what it still wants, so a busy
 * worker leaves jobs in Redis for others.
 */
export class LaneConsumer {
  readonly lane: Lane;
  readonly worker: Worker<JobData, JobResult>;
  private readonly now: () => number;

  constructor(private readonly options: LaneConsumerOptions) {
    this.lane = options.lane;
    this.now = options.now ?? Date.now;
    this.worker = new Worker<JobData, JobResult>(laneQueueName(options.lane), (job, token) => this.process(job, token), {
      connection: options.connection,
      prefix: laneQueuePrefix(options.prefix, options.lane),
      autorun: false,
      concurrency: this.wantedConcurrency(),
      lockDuration: options.lockDurationMs,
      // A worker killed mid-batch leaves its jobs locked; they return to the queue within about two lock durations.
      stalledInterval: options.lockDurationMs,
      maxStalledCount: 3,
    });
    this.worker.on('error', (error) => options.logger.warn({ lane: options.lane, err: error }, 'lane worker error'));
  }

  start(): void {
    void this.worker.run().catch((error) => this.options.logger.error({ lane: this.lane, err: error }, 'lane worker stopped'));
  }

  /** Called after batcher events: holds what the lane has in the batcher plus what it still wants. */
  updateConcurrency(): void {
    const wanted = this.wantedConcurrency();
    if (this.worker.concurrency !== wanted) this.worker.concurrency = wanted;
  }

  /** Stops fetching new jobs; the jobs held go on. */
  async pause(): Promise<void> {
    await this.worker.pause(true);
  }

  /** Closes without waiting for the jobs held (their locks lapse; another worker takes them). */
  async forceClose(): Promise<void> {
    await this.worker.close(true).catch(() => {});
  }

  /** Waits for the jobs it holds (the batcher must be draining for them to finish), then closes. */
  async close(): Promise<void> {
    await this.worker.close();
  }

  private wantedConcurrency(): number {
    if (this.options.fixedConcurrency !== undefined) return this.options.fixedConcurrency;
    const { batcher, lane } = this.options;
    return Math.max(1, batcher.heldItems(lane) + batcher.wantedItems(lane));
  }

  private async process(job: Job<JobData, JobResult>, token?: string): Promise<JobResult> {
    const { lane, metrics, recorder, logger } = this.options;
    const takenAt = this.now();
    const log = logger.child({ jobId: job.id, lane, model: job.data.model });
    try {
      const renderJob = await this.prepare(job, takenAt);
      const entry = await this.options.repository.entry(job.data.model);
      const output = await this.options.batcher.submit({
        lane,
        key: renderJob.source === undefined ? `${renderJob.steps}|${renderJob.guidanceScale ?? ''}` : `source:${job.id}`,
        model: job.data.model,
        widthPx: renderJob.render.width,
        heightPx: renderJob.render.height,
        payload: renderJob,
      });
      const { result, timings } = await this.options.finisher.finish(renderJob, output, entry.manifest);
      const t = result.timings;
      metrics.queueWait.observe({ lane }, (t.queueWaitMs ?? 0) / 1000);
      metrics.batchWait.observe({ lane }, (t.batchWaitMs ?? 0) / 1000);
      metrics.postProcess.observe({ lane }, timings.postProcessMs / 1000);
      metrics.upload.observe({ lane }, timings.uploadMs / 1000);
      metrics.endToEnd.observe({ lane }, (t.endToEndMs ?? 0) / 1000);
      metrics.completed.inc({ lane, model: job.data.model });
      metrics.costUnits.inc({ lane, model: job.data.model }, result.costUnits ?? 0);
      for (const [metric, ms] of [['queueWait', t.queueWaitMs], ['batchWait', t.batchWaitMs], ['inference', t.inferenceMs], ['postProcess', t.postProcessMs], ['upload', t.uploadMs], ['endToEnd', t.endToEndMs]] as const) {
        if (ms !== undefined) recorder.observe(lane, metric, ms);
      }
      recorder.count(lane, 'completed');
      log.info({ batchId: result.batch?.id, batchSize: result.batch?.size, key: result.image.key, endToEndMs: t.endToEndMs }, 'job completed');
      return result;
    } catch (error) {
      if (errorCodeOf(error) === 'E_SHUTDOWN' && token !== undefined) {
        // The worker is stopping before this job reached a batch: back to the queue, no attempt used.
        await job.moveToWait(token);
        log.info('worker stopping: job returned to the queue');
        throw new WaitingError();
      }
      throw this.failure(job, error, log);
    }
  }

  /** Everything that can be checked or read before the batch: model limits, render size, upscale source. */
  private async prepare(job: Job<JobData, JobResult>, takenAt: number): Promise<RenderJob> {
    const { request, size, model } = job.data;
    const { manifest } = await this.options.repository.entry(model);
    if (manifest.pipeline === 'upscale') {
      if (request.source === undefined) throw new ValidationError('upscale needs source.key', 'source');
      const source = await this.options.store.get(request.source.key);
      // Tiles bound the memory an upscale needs, whatever the source size.
      return { job, takenAt, render: { width: manifest.tile.sizePx, height: manifest.tile.sizePx }, source };
    }
    const steps = request.steps ?? manifest.defaultSteps;
    if (steps > manifest.maxSteps) throw new ValidationError(`model ${model} runs at most ${manifest.maxSteps} steps, got ${steps}`, 'steps');
    const target = size ?? { width: 512, height: 512 };
    return { job, takenAt, render: planRenderSize(manifest.sizes, target.width, target.height), steps, guidanceScale: manifest.guidanceScale };
  }

  /** Codes every failure; what retrying cannot fix becomes UnrecoverableError, so BullMQ fails it at once. */
  private failure(job: Job<JobData, JobResult>, error: unknown, log: Logger): Error {
    const code = errorCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    const retryable = ERROR_CODES[code].retryable;
    const final = !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    this.options.metrics.failed.inc({ lane: this.lane, model: job.data.model, code });
    if (final) this.options.recorder.count(this.lane, 'failed');
    log[final ? 'error' : 'warn']({ code, err: error instanceof FleetError ? undefined : error, attempt: job.attemptsMade + 1, final }, message);
    const reason = formatFailedReason(code, message);
    return retryable ? new Error(reason) : new UnrecoverableError(reason);
  }
}
