import { WaitingError, Worker, type Job } from 'bullmq';
import type { MicroBatcher } from '../../batching/index.js';
import { errorCodeOf, laneQueueName, laneQueuePrefix, type JobData, type JobResult, type Lane, type Logger, type RedisClient, type RedisOutageLog } from '../../contract/index.js';
import type { Finisher } from './job-finisher.js';
import type { LatencyRecorder } from '../metrics/latency-recorder.js';
import type { ModelRepository } from '../models/model-repository.js';
import type { InferenceOutput, RenderJob } from './render-job.js';
import { readSourceImage } from './read-source-image.js';
import { EDIT_ACTIVATION_SCALE, prepareEdit } from './edit-job.js';
import { prepareRenderJob } from './prepare-render-job.js';
import { OverflowGate, type OverflowGateOptions } from './overflow-gate.js';
import { LaneConcurrency } from './lane-concurrency.js';
import { LaneOutcomes } from './lane-outcomes.js';
import type { CrashIsolation } from './crash-isolation.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';

export interface LaneConsumerOptions {
  lane: Lane;
  prefix: string;
  /** A blocking connection of this consumer's own (`maxRetriesPerRequest: null`). */
  connection: RedisClient;
  batcher: MicroBatcher<RenderJob, InferenceOutput, Lane>;
  repository: ModelRepository;
  finisher: Finisher;
  store: ArtifactStore;
  metrics: WorkerMetrics;
  recorder: LatencyRecorder;
  logger: Logger;
  /**
   * The worker's one outage log: the Worker's connection errors (one per reconnect attempt) are counted there, so
   * an outage is one line however many lanes and attempts. @default each error logged as it comes
   */
  outage?: RedisOutageLog;
  /** The worker's one crash isolation, shared by its lanes: suspects of a worker crash run alone. */
  isolation: CrashIsolation;
  lockDurationMs: number;
  /** How long the lane keeps the concurrency its demand last peaked at, ms: `FleetWorkerOptions.concurrencyHoldMs`. */
  concurrencyHoldMs: number;
  /**
   * Drain this lane only as overflow (`FleetWorkerOptions.overflowLanes`): fetch while its Redis backlog (see
   * `setBacklog`) has lasted (see {@link OverflowGate}) and `ownLanesIdle()`; otherwise the BullMQ Worker is
   * paused. @default undefined (a lane of the worker's own)
   */
  overflow?: OverflowGateOptions & { ownLanesIdle: () => boolean };
  /** Called as this lane takes a job (the worker re-checks its overflow lanes then). @default none */
  onJobTaken?: () => void;
  /** Monotonic time, ms, for the concurrency hold and the overflow gate. @default performance.now */
  monotonicNow?: () => number;
  /** Jobs held at once, fixed: only for measuring bursting (see {@link LaneConcurrency}). @default the lane's demand */
  fixedConcurrency?: number;
  now?: () => number;
}

/**
 * Drains one lane: a BullMQ Worker whose processor hands each job to the shared micro-batcher and
 * finishes it (encode, store) once its batch ran. How many jobs it holds follows the lane's demand in the
 * batcher (see {@link LaneConcurrency}): the Worker's concurrency is reset to the recent peak of what the lane
 * holds there plus what it still wants, so a busy worker leaves jobs in Redis for others. How each job ended is
 * recorded by {@link LaneOutcomes}.
 */
export class LaneConsumer {
  readonly lane: Lane;
  readonly worker: Worker<JobData, JobResult>;
  private readonly now: () => number;
  private readonly concurrency: LaneConcurrency<Lane>;
  private readonly outcomes: LaneOutcomes;
  private readonly monotonicNow: () => number;
  /** An overflow lane's gate: its Worker runs only while open. */
  private readonly overflowGate: OverflowGate | undefined;
  private started = false;
  private stopping = false;

  constructor(private readonly options: LaneConsumerOptions) {
    this.lane = options.lane;
    this.now = options.now ?? Date.now;
    this.monotonicNow = options.monotonicNow ?? (() => performance.now());
    const { lane, batcher, concurrencyHoldMs, fixedConcurrency, metrics, recorder } = options;
    this.concurrency = new LaneConcurrency({ lane, batcher, concurrencyHoldMs, fixedConcurrency, monotonicNow: this.monotonicNow });
    this.outcomes = new LaneOutcomes({ lane, metrics, recorder });
    this.overflowGate = options.overflow === undefined ? undefined : new OverflowGate(options.overflow);
    this.worker = new Worker<JobData, JobResult>(laneQueueName(options.lane), (job, token) => this.process(job, token), {
      connection: options.connection,
      prefix: laneQueuePrefix(options.prefix, options.lane),
      autorun: false,
      concurrency: this.concurrency.wanted(),
      lockDuration: options.lockDurationMs,
      // A worker killed mid-batch leaves its jobs locked; they return to the queue within about two lock durations.
      // CrashIsolation fails the job that killed it at its second stall; the limit is a backstop above that.
      stalledInterval: options.lockDurationMs,
      maxStalledCount: 3,
    });
    this.worker.on('error', (error) => {
      if (options.outage?.connectionError(error) !== true) options.logger.warn({ lane: options.lane, err: error }, 'lane worker error');
    });
  }

  start(): void {
    this.started = true;
    if (this.overflowGate !== undefined) this.applyGate();
    else this.runWorker();
  }

  /** The lane's jobs waiting in Redis, as the worker last read them (an overflow lane opens on it). */
  setBacklog(waitingJobs: number): void {
    this.overflowGate?.observeBacklog(waitingJobs, this.monotonicNow());
    this.updateConcurrency();
  }

  /** Called after batcher events and on the worker's depth poll: applies {@link LaneConcurrency}'s figure to the Worker. */
  updateConcurrency(): void {
    const applied = this.concurrency.update();
    if (this.worker.concurrency !== applied) this.worker.concurrency = applied;
    this.applyGate();
  }

  /**
   * Resumes an overflow lane's Worker while its gate is open, pauses it while closed. Checked on every call, not
   * only on changes: a resume that lands while BullMQ's main loop is ending finds it still "running" and starts
   * nothing, so a lane open with no loop is started here.
   */
  applyGate(): void {
    const gate = this.overflowGate;
    if (gate === undefined || !this.started || this.stopping) return;
    const wasOpen = gate.open;
    const open = gate.evaluate(this.options.overflow!.ownLanesIdle(), this.monotonicNow());
    if (open !== wasOpen) {
      const change = open ? this.worker.resume() : this.worker.pause(true);
      void change.catch((error) => this.options.logger.warn({ lane: this.lane, err: error }, `overflow lane could not ${open ? 'resume' : 'pause'}`));
    }
    if (open && !this.worker.isRunning() && !this.worker.isPaused()) this.runWorker();
  }

  private runWorker(): void {
    void this.worker.run().catch((error) => this.options.logger.error({ lane: this.lane, err: error }, 'lane worker stopped'));
  }

  /** Stops fetching new jobs; the jobs held go on. */
  async pause(): Promise<void> {
    this.stopping = true;
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

  private async process(job: Job<JobData, JobResult>, token?: string): Promise<JobResult> {
    const { lane, logger } = this.options;
    const takenAt = this.now();
    const model = job.data.model;
    this.options.onJobTaken?.();
    if (this.overflowGate !== undefined && token !== undefined) {
      this.applyGate();
      if (!this.overflowGate.open) {
        // A paused Worker may still finish one blocking fetch, and own work may have come since the gate was last
        // checked: the job goes back (no attempt used) for the lane's own workers.
        await job.moveToWait(token);
        logger.debug({ jobId: job.id, lane, model }, 'overflow lane closed: job returned to the queue');
        throw new WaitingError();
      }
    }
    try {
      return await this.options.isolation.run(job, (alone) => this.render(job, takenAt, alone));
    } catch (error) {
      const log = logger.child({ jobId: job.id, lane, model });
      if (errorCodeOf(error) === 'E_SHUTDOWN' && token !== undefined) {
        // The worker is stopping before this job reached a batch: back to the queue, no attempt used.
        await job.moveToWait(token);
        log.info('worker stopping: job returned to the queue');
        throw new WaitingError();
      }
      throw this.outcomes.failure(job, error, log);
    } finally {
      this.options.isolation.release(job.id!);
    }
  }

  /** Prepares, batches and finishes one job; `alone` gives it a batch of its own (see CrashIsolation). */
  private async render(job: Job<JobData, JobResult>, takenAt: number, alone: boolean): Promise<JobResult> {
    const { lane, logger } = this.options;
    const model = job.data.model;
    const description = await this.options.repository.describe(model);
    const { batchKey, ...plan } = prepareRenderJob(job.data, job.id!, description, alone);
    // An upscale reads its source before the batch, so no I/O holds VRAM; tiles bound its memory whatever the size.
    const source = description.kind === 'upscale' ? await readSourceImage(this.options.store, job.data.request.source!.key, description) : undefined;
    const planned: RenderJob = { job, takenAt, ...plan, ...(source === undefined ? {} : { source }) };
    // An edit reads its source and mask before the batch too; its render size follows the source's.
    const renderJob = description.kind !== 'upscale' && job.data.request.intent === 'edit' ? await prepareEdit(planned, this.options.store, description) : planned;
    const output = await this.options.batcher.submit({
      lane,
      key: batchKey,
      model,
      widthPx: renderJob.render.width,
      heightPx: renderJob.render.height,
      ...(renderJob.edit === undefined ? {} : { activationScale: EDIT_ACTIVATION_SCALE }),
      payload: renderJob,
    });
    const { result, timings } = await this.options.finisher.finish(renderJob, output, description);
    this.outcomes.completed(job.data, result, timings);
    // The batch's info line names this job (see FleetWorker); this one is for debugging, its fields inline
    // because a child logger per job costs more than the line.
    if (logger.isLevelEnabled('debug')) logger.debug({ jobId: job.id, lane, model, batchId: result.batch?.id, batchSize: result.batch?.size, key: result.image.key, endToEndMs: result.timings.endToEndMs }, 'job completed');
    return result;
  }
}
