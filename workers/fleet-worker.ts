import { hostname } from 'node:os';
import { MicroBatcher, type Batch, type BatcherEvent, type ItemOutcome } from '../batching/index.js';
import { createRedisConnection, FleetError, laneQueueName, laneQueuePrefix, type Lane, type RedisClient } from '../contract/index.js';
import { Queue } from 'bullmq';
import { InferenceRunner } from './engine/inference-runner.js';
import { JobFinisher } from './consumer/job-finisher.js';
import { LaneConsumer } from './consumer/lane-consumer.js';
import { LatencyRecorder } from './metrics/latency-recorder.js';
import { ModelRepository } from './models/model-repository.js';
import { OnnxSessionFactory } from './engine/onnx-session-factory.js';
import type { InferenceOutput, RenderJob } from './consumer/render-job.js';
import { TypographyTextStage } from './consumer/typography-text-stage.js';
import { WorkerHeartbeat, type WorkerInfo } from './worker-heartbeat.js';
import { WorkerMetrics } from './metrics/worker-metrics.js';
import { resolveFleetWorkerOptions, type FleetWorkerOptions, type ResolvedFleetWorkerOptions } from './worker-options.js';

/** `starting` → `running` → `draining` → `stopped`; no way back. */
export type WorkerState = WorkerInfo['state'];

/**
 * One worker process per GPU: a BullMQ consumer per lane feeding one shared micro-batcher, which admits
 * batches under the VRAM budget and runs them on ONNX pipelines; results are encoded, stored and reported.
 */
export class FleetWorker {
  readonly options: ResolvedFleetWorkerOptions;
  readonly metrics: WorkerMetrics;
  private state: WorkerState = 'starting';
  private executionProvider = 'not loaded yet';
  private readonly startedAt = Date.now();
  private readonly connections: RedisClient[] = [];
  /** One per lane drained (its own lanes, then its overflow lanes): the consumer and the queue its depth is read from. */
  private drains: Array<{ lane: Lane; overflow: boolean; consumer: LaneConsumer; depthQueue: Queue }> = [];
  private batcher: MicroBatcher<RenderJob, InferenceOutput, Lane> | undefined;
  private runner: InferenceRunner | undefined;
  private recorder: LatencyRecorder | undefined;
  private heartbeat: WorkerHeartbeat | undefined;
  private depthTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: FleetWorkerOptions) {
    this.options = resolveFleetWorkerOptions(options, `${hostname()}-${process.pid}${options.gpu === undefined ? '' : `-gpu${options.gpu}`}`);
    this.metrics = new WorkerMetrics(this.options.registry);
  }

  get status(): WorkerState {
    return this.state;
  }

  async start(): Promise<void> {
    if (this.state !== 'starting') throw new Error(`cannot start a worker that is ${this.state}`);
    const { options, metrics } = this;
    const log = options.logger;
    const repository = new ModelRepository(options.modelsDir);
    const sessionFactory =
      options.sessionFactory ??
      new OnnxSessionFactory({
        ...(options.gpu === undefined ? { executionProvider: 'cpu' as const } : { executionProvider: 'auto' as const, cudaDeviceId: options.gpu }),
        onProvider: (provider: string) => {
          if (provider !== this.executionProvider) log.info({ executionProvider: provider, gpu: options.gpu ?? null }, `inference runs on ${provider}`);
          this.executionProvider = provider;
        },
      });
    this.runner = new InferenceRunner(repository, sessionFactory, options.pipelineLoader);
    const { specs: models, broken } = await this.runner.modelSpecs();
    for (const { name, error } of broken) log.error({ model: name, code: error.code, err: error }, `model ${name} cannot be served: ${error.message}`);
    if (Object.keys(models).length === 0) {
      throw new FleetError('E_MODEL_LOAD', `no models in ${options.modelsDir}: build the local ones with npm run build:models, or point --models at your exports`);
    }
    // An overflow lane takes one job at a time: nothing prefetched, so what it does not run stays in Redis.
    const lanes = Object.fromEntries([
      ...options.lanes.map((lane) => [lane, options.batching[lane]]),
      ...options.overflowLanes.map((lane) => [lane, { ...options.batching[lane], maxBatchSize: 1, maxBatchesInFlight: 1, prefetchBatches: 0 }]),
    ]) as Record<Lane, (typeof options.batching)[Lane]>;
    const runner = this.runner;
    this.batcher = new MicroBatcher<RenderJob, InferenceOutput, Lane>({
      run: async (batch) => {
        const outcomes = await runner.run(batch);
        // One info line per batch names its jobs (each job's own line is at debug): at a few hundred jobs a
        // second and up, a line per job costs more than the rest of the fleet's own work on the job. Written
        // after the batch hands back its device time and memory.
        setImmediate(() => this.logBatch(batch, outcomes));
        return outcomes;
      },
      load: this.runner.load,
      unload: this.runner.unload,
      budgetBytes: options.vramBytes,
      models,
      lanes,
      adaptive: { enabled: options.adaptiveBatching },
      ...options.batcherOverrides,
      onEvent: (event) => this.onBatcherEvent(event),
    });
    metrics.vramBudget.set(options.vramBytes);

    const main = this.connect('fleet-worker');
    this.recorder = new LatencyRecorder(main, options.prefix, Date.now, 1000, (error) => log.warn({ err: error }, 'latency histograms not written to Redis; kept for the next flush'));
    this.recorder.start();
    const finisher = options.finisher ?? new JobFinisher(options.store, options.lanes.includes('typography') ? new TypographyTextStage(metrics) : undefined);
    const batcher = this.batcher;
    const ownLanesIdle = () => options.lanes.every((lane) => batcher.heldItems(lane) === 0);
    // Own work taken closes the overflow lanes at once, not at the next batcher event or depth poll.
    const recheckOverflow = () => {
      for (const drain of this.drains) if (drain.overflow) drain.consumer.applyGate();
    };
    this.drains = [...options.lanes, ...options.overflowLanes].map((lane) => {
      const overflow = options.overflowLanes.includes(lane);
      const consumer = new LaneConsumer({
        lane,
        prefix: options.prefix,
        connection: this.connect(`fleet-worker-${lane}`),
        batcher,
        repository,
        finisher,
        store: options.store,
        metrics,
        recorder: this.recorder!,
        logger: log,
        lockDurationMs: options.lockDurationMs,
        concurrencyHoldMs: options.concurrencyHoldMs,
        ...(options.fixedConcurrency === undefined || overflow ? {} : { fixedConcurrency: options.fixedConcurrency }),
        ...(overflow ? { overflow: { minBacklog: options.overflowBacklog, backedUpForMs: options.overflowAfterMs, ownLanesIdle } } : {}),
        ...(!overflow && options.overflowLanes.length > 0 ? { onJobTaken: recheckOverflow } : {}),
      });
      const depthQueue = new Queue(laneQueueName(lane), { connection: main, prefix: laneQueuePrefix(options.prefix, lane) });
      return { lane, overflow, consumer, depthQueue };
    });
    for (const lane of options.lanes) metrics.workerLanes.set({ lane }, 1);
    await this.pollDepths();
    this.depthTimer = setInterval(() => void this.pollDepths(), options.depthPollMs);
    this.depthTimer.unref();
    this.heartbeat = new WorkerHeartbeat(main, options.prefix, () => this.info());
    this.state = 'running';
    for (const drain of this.drains) drain.consumer.start();
    this.heartbeat.start();
    log.info({ workerId: options.workerId, lanes: options.lanes, overflowLanes: options.overflowLanes, gpu: options.gpu ?? null, vramBytes: options.vramBytes, store: options.store.description, models: Object.keys(models) }, 'worker running');
  }

  /**
   * Stops fetching, runs what it holds at once, waits up to `shutdownTimeoutMs`; past that, lets go of the
   * jobs still held (their locks lapse and another worker takes them: nothing is lost).
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  info(): WorkerInfo {
    const stats = this.batcher?.stats();
    return {
      id: this.options.workerId,
      host: hostname(),
      pid: process.pid,
      gpu: this.options.gpu ?? null,
      executionProvider: this.executionProvider,
      lanes: this.options.lanes,
      ...(this.options.overflowLanes.length > 0 ? { overflowLanes: this.options.overflowLanes } : {}),
      vramBudgetBytes: this.options.vramBytes,
      vramInUseBytes: stats?.usedBytes ?? 0,
      startedAt: this.startedAt,
      seenAt: Date.now(),
      state: this.state,
    };
  }

  /** The batcher's numbers (tests and `fleet status`). */
  batcherStats() {
    return this.batcher?.stats();
  }

  private async shutdown(): Promise<void> {
    const log = this.options.logger;
    if (this.state === 'starting') {
      this.state = 'stopped';
      return;
    }
    this.state = 'draining';
    void this.heartbeat?.beat();
    clearInterval(this.depthTimer);
    log.info({ workerId: this.options.workerId }, 'draining: no new jobs, finishing batches in flight');
    await Promise.all(this.drains.map((d) => d.consumer.pause()));
    const graceful = (async () => {
      await this.batcher!.drain();
      await Promise.all(this.drains.map((d) => d.consumer.close()));
    })();
    graceful.catch(() => {});
    const timedOut = Symbol('timeout');
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([graceful, new Promise((resolve) => (timer = setTimeout(() => resolve(timedOut), this.options.shutdownTimeoutMs)))]);
    clearTimeout(timer);
    if (outcome === timedOut) {
      // Let go of what is still held: the connections close, the jobs' locks lapse, and another worker takes them.
      log.warn({ shutdownTimeoutMs: this.options.shutdownTimeoutMs }, 'shutdown deadline passed: releasing held jobs to other workers');
      void this.batcher!.close();
      // force: BullMQ stops its lock and stalled-check timers without waiting for the jobs held.
      await Promise.race([Promise.all(this.drains.map((d) => d.consumer.forceClose())), new Promise((r) => setTimeout(r, 2000).unref())]);
      for (const connection of this.connections) connection.disconnect();
    }
    // Each last write is bounded: with Redis away, offline queues would otherwise wait for ever.
    const bounded = (work: Promise<unknown>) => Promise.race([work.catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
    await bounded(this.recorder?.close() ?? Promise.resolve());
    await bounded(this.heartbeat?.stop() ?? Promise.resolve());
    await bounded(Promise.all(this.drains.map((d) => d.depthQueue.close())));
    await bounded(this.runner?.close() ?? Promise.resolve());
    for (const connection of this.connections) connection.disconnect();
    this.state = 'stopped';
    log.info({ workerId: this.options.workerId }, 'worker stopped');
  }

  private logBatch(batch: Batch<RenderJob, Lane>, outcomes: readonly ItemOutcome<InferenceOutput>[]): void {
    const ran = outcomes.find((outcome) => outcome.ok)?.value;
    this.options.logger.info(
      {
        batchId: ran?.batchId,
        lane: batch.lane,
        model: batch.model,
        size: batch.payloads.length,
        jobIds: batch.payloads.map((p) => p.job.id),
        inferenceMs: ran === undefined ? undefined : Math.round(ran.inferenceMs),
        failed: outcomes.filter((o) => !o.ok).length,
      },
      'batch ran',
    );
  }

  private connect(name: string): RedisClient {
    const connection = createRedisConnection(this.options.redisUrl, { role: 'worker', connectionName: name, ...(this.options.redisTls ? { tls: this.options.redisTls } : {}) });
    connection.on('error', () => {});
    this.connections.push(connection);
    return connection;
  }

  private async pollDepths(): Promise<void> {
    await Promise.all(
      this.drains.map(async ({ lane, consumer, depthQueue }) => {
        try {
          const counts = await depthQueue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
          const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
          this.batcher?.setBacklog(lane, waiting);
          for (const [state, n] of Object.entries(counts)) this.metrics.queueDepth.set({ lane, state }, n);
          // Also lets a lane's concurrency fall back when no batcher event comes, and an overflow lane open or close.
          consumer.setBacklog(waiting);
        } catch {
          // Redis away: keep the last backlog; BullMQ reconnects.
        }
      }),
    );
  }

  private onBatcherEvent(event: BatcherEvent<Lane>): void {
    const { metrics, recorder } = this;
    const log = this.options.logger;
    switch (event.type) {
      case 'batch-start':
        metrics.batchSize.observe({ lane: event.lane, model: event.model }, event.size);
        metrics.vramInUse.set(event.usedBytes);
        recorder?.count(event.lane, 'batches');
        recorder?.count(event.lane, 'batchItems', event.size);
        log.debug({ lane: event.lane, model: event.model, size: event.size, attempt: event.attempt, usedBytes: event.usedBytes }, 'batch start');
        break;
      case 'batch-end':
        metrics.inference.observe({ lane: event.lane, model: event.model }, event.runMs / 1000);
        metrics.vramInUse.set(this.batcher?.stats().usedBytes ?? 0);
        break;
      case 'oom':
        metrics.oom.inc({ model: event.model });
        log.warn({ lane: event.lane, model: event.model, size: event.size, activationFactor: event.activationFactor }, 'out of memory: batch bisected and retried');
        break;
      case 'model-load':
      case 'model-evict':
        log.info({ model: event.model, weightBytes: event.weightBytes }, event.type === 'model-load' ? 'model loaded' : 'model evicted');
        break;
      case 'model-load-error':
      case 'model-unload-error':
        log.error({ model: event.model, err: event.error }, event.type);
        break;
      case 'rejected':
        log.warn({ lane: event.lane, model: event.model, code: event.code, items: event.items }, 'items rejected by admission');
        break;
    }
    for (const drain of this.drains) drain.consumer.updateConcurrency();
  }
}
