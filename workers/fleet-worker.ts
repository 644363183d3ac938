import { hostname } from 'node:os';
import { MicroBatcher, type Batch, type BatcherEvent, type ItemOutcome } from '../batching/index.js';
import { createRedisConnection, FleetError, laneQueueName, laneQueuePrefix, redactRedisUrl, RedisOutageLog, SECOND, type Lane, type RedisClient } from '../contract/index.js';
import { Queue } from 'bullmq';
import { InferenceRunner } from './engine/inference-runner.js';
import type { InferenceEngine } from './engine/inference-engine.js';
import { JobFinisher } from './consumer/job-finisher.js';
import { LaneConsumer } from './consumer/lane-consumer.js';
import { CrashIsolation } from './consumer/crash-isolation.js';
import { LatencyRecorder } from './metrics/latency-recorder.js';
import { ModelRepository } from './models/model-repository.js';
import type { InferenceOutput, RenderJob } from './consumer/render-job.js';
import { needsTextStage, TypographyTextStage } from './consumer/typography-text-stage.js';
import { WorkerDevice } from './engine/worker-device.js';
import { WorkerHeartbeat, type WorkerInfo } from './worker-heartbeat.js';
import { describeServedModels, ModelCataloguePublisher } from './model-catalogue-publisher.js';
import { WorkerLifecycle, type WorkerState } from './worker-lifecycle.js';
import { WorkerMetrics } from './metrics/worker-metrics.js';
import { NOMINAL_VRAM_BYTES, resolveFleetWorkerOptions, type FleetWorkerOptions, type ResolvedFleetWorkerOptions } from './worker-options.js';
import { settlesWithin } from './settles-within.js';
import { loadSharp } from './pipelines/sharp-loader.js';

export type { WorkerState } from './worker-lifecycle.js';

/**
 * Past the shutdown deadline, how long the jobs of the runs the engine's kill failed get to go back to their
 * queue (each is one Redis call) before the consumers are closed without waiting.
 */
const RELEASE_AFTER_DEADLINE_MS = 2 * SECOND;
/** Each last write (histograms, heartbeat, queues) is bounded: with Redis away, offline queues would wait for ever. */
const LAST_WRITE_TIMEOUT_MS = 2 * SECOND;

/**
 * One worker process per GPU: a BullMQ consumer per lane feeding one shared micro-batcher, which admits
 * batches under the VRAM budget and runs them on ONNX pipelines in the worker's inference engine (a thread of
 * its own); results are encoded, stored and reported. Its lifecycle is `WorkerState`.
 */
export class FleetWorker {
  readonly options: ResolvedFleetWorkerOptions;
  readonly metrics: WorkerMetrics;
  private readonly lifecycle = new WorkerLifecycle();
  private readonly startedAt = Date.now();
  private readonly connections: RedisClient[] = [];
  /** One per lane drained (its own lanes, then its overflow lanes): the consumer and the queue its depth is read from. */
  private drains: Array<{ lane: Lane; overflow: boolean; consumer: LaneConsumer; depthQueue: Queue }> = [];
  private batcher: MicroBatcher<RenderJob, InferenceOutput, Lane> | undefined;
  private device: WorkerDevice | undefined;
  private runner: InferenceRunner | undefined;
  private recorder: LatencyRecorder | undefined;
  private heartbeat: WorkerHeartbeat | undefined;
  private catalogue: ModelCataloguePublisher | undefined;
  private isolation: CrashIsolation | undefined;
  private depthTimer: NodeJS.Timeout | undefined;
  private budgetBytes: number | undefined;
  private outage: RedisOutageLog | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: FleetWorkerOptions) {
    const resolved = resolveFleetWorkerOptions(options, `${hostname()}-${process.pid}${options.gpu === undefined ? '' : `-gpu${options.gpu}`}`);
    // Bound once here, so every line of the worker and its consumers names it (and a key is never written twice).
    this.options = { ...resolved, logger: resolved.logger.child({ workerId: resolved.workerId, gpu: resolved.gpu ?? 'cpu' }) };
    this.metrics = new WorkerMetrics(this.options.registry);
  }

  get status(): WorkerState {
    return this.lifecycle.state;
  }

  /**
   * The worker's inference engine (undefined with an injected `sessionFactory`): `engine.kill()` is the test hook
   * for an engine lost mid-run.
   */
  get engine(): InferenceEngine | undefined {
    return this.device?.engine;
  }

  /**
   * Connects, plans the device, reads the models and starts taking jobs. A `stop()` meanwhile makes it unwind what
   * it set up and reject with `E_SHUTDOWN`; so does any failure (rejected with its own error), leaving the worker
   * `stopped`.
   * @throws FleetError E_DEVICE_UNAVAILABLE for `gpu` without a usable CUDA provider (and without `allowCpu`).
   */
  start(): Promise<void> {
    if (this.starting !== undefined || this.lifecycle.state !== 'starting') return Promise.reject(new Error(`cannot start a worker that is ${this.lifecycle.state}`));
    this.starting = this.startUp().catch(async (error: unknown) => {
      await this.release();
      this.lifecycle.moveTo('stopped');
      throw error;
    });
    return this.starting;
  }

  /**
   * Stops fetching, runs what it holds at once, waits up to `shutdownTimeoutMs`; past that, fails the runs in
   * flight (their jobs go back to the queue) and lets go of the jobs still held (their locks lapse and another
   * worker takes them: nothing is lost). During `start()`, makes the start unwind instead.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  info(): WorkerInfo {
    const stats = this.batcher?.stats();
    const deviceMemory = this.device?.memory();
    return {
      id: this.options.workerId,
      host: hostname(),
      pid: process.pid,
      gpu: this.options.gpu ?? null,
      executionProvider: this.device?.plan.description ?? 'not planned yet',
      lanes: this.options.lanes,
      ...(this.options.overflowLanes.length > 0 ? { overflowLanes: this.options.overflowLanes } : {}),
      models: this.runner?.models() ?? [],
      vramBudgetBytes: this.budgetBytes ?? 0,
      vramInUseBytes: stats?.usedBytes ?? 0,
      ...(deviceMemory === undefined ? {} : { deviceMemory }),
      engineRestarts: this.device?.engine?.restarts ?? 0,
      startedAt: this.startedAt,
      seenAt: Date.now(),
      state: this.lifecycle.state,
    };
  }

  /** The batcher's numbers (tests and `fleet status`). */
  batcherStats() {
    return this.batcher?.stats();
  }

  /** Between the steps of `start()`: a `stop()` meanwhile ends the start there. */
  private checkNotStopped(): void {
    if (this.lifecycle.state !== 'starting') throw new FleetError('E_SHUTDOWN', 'the worker was stopped while starting');
  }

  private async startUp(): Promise<void> {
    const { options, metrics } = this;
    const log = options.logger;
    const repository = new ModelRepository(options.modelsDir);
    // sharp loads here, not with the first job's image: a job should not pay for it, and on glibc the main thread
    // must hold libvips before any worker thread starts (lovell/sharp#2263), the engine thread included.
    await loadSharp();
    this.device = await WorkerDevice.open(
      {
        gpu: options.gpu,
        allowCpu: options.allowCpu,
        sessionFactory: options.sessionFactory,
        readDeviceMemory: options.readDeviceMemory,
        deviceMemoryPollMs: options.deviceMemoryPollMs,
        logger: log,
        metrics,
      },
      options.vramBytes === undefined,
    );
    this.checkNotStopped();
    this.runner = new InferenceRunner({ repository, sessionFactory: this.device.sessionFactory, provider: this.device.plan.device, ...(options.pipelineLoader ? { pipelineLoader: options.pipelineLoader } : {}) });
    const { specs: models, broken } = await this.runner.modelSpecs();
    for (const { name, error } of broken) log.error({ model: name, code: error.code, err: error }, `model ${name} cannot be served: ${error.message}`);
    this.checkNotStopped();
    if (Object.keys(models).length === 0) {
      throw new FleetError('E_MODEL_LOAD', `no models in ${options.modelsDir}: build the local ones with npm run build:models, or point --models at your exports`);
    }
    const served = await Promise.all(Object.keys(models).map((name) => repository.describe(name)));
    metrics.startAtZero(served, [...options.lanes, ...options.overflowLanes]);
    const budgetBytes = this.device.budgetBytes(options.vramBytes, options.vramMarginBytes, NOMINAL_VRAM_BYTES);
    this.budgetBytes = budgetBytes;
    // An overflow lane takes one job at a time: nothing prefetched, so what it does not run stays in Redis.
    const lanes = Object.fromEntries([
      ...options.lanes.map((lane) => [lane, options.batching[lane]]),
      ...options.overflowLanes.map((lane) => [lane, { ...options.batching[lane], maxBatchSize: 1, maxBatchesInFlight: 1, prefetchBatches: 0 }]),
    ]) as Record<Lane, (typeof options.batching)[Lane]>;
    const runner = this.runner;
    const main = this.connect('fleet-worker');
    const isolation = new CrashIsolation({ redis: main, prefix: options.prefix, workerId: options.workerId, logger: log, aliveTtlMs: options.lockDurationMs / 2 });
    this.isolation = isolation;
    this.batcher = new MicroBatcher<RenderJob, InferenceOutput, Lane>({
      run: async (batch) => {
        const crashOn = options.testHookCrashOnPrompt;
        isolation.holdBatch(batch.payloads.map((p) => p.job.id!));
        if (crashOn !== undefined && batch.payloads.some((p) => p.job.data.request.prompt.includes(crashOn))) process.kill(process.pid, 'SIGKILL');
        const outcomes = await runner.run(batch);
        // One info line per batch names its jobs (each job's own line is at debug): at a few hundred jobs a
        // second and up, a line per job costs more than the rest of the fleet's own work on the job. Written
        // after the batch hands back its device time and memory.
        setImmediate(() => this.logBatch(batch, outcomes));
        return outcomes;
      },
      load: this.runner.load,
      unload: this.runner.unload,
      budgetBytes,
      models,
      lanes,
      adaptive: { enabled: options.adaptiveBatching },
      ...options.batcherOverrides,
      onEvent: (event) => this.onBatcherEvent(event),
    });
    const batcher = this.batcher;
    this.device.onMeasuredUse = (bytes) => batcher.observeDeviceUse(bytes);
    metrics.vramBudget.set(budgetBytes);

    this.recorder = new LatencyRecorder(main, options.prefix, Date.now, 1000, (error) => log.warn({ err: error }, 'latency histograms not written to Redis; kept for the next flush'));
    this.recorder.start();
    const textStage = options.finisher === undefined && needsTextStage([...options.lanes, ...options.overflowLanes])
        ? // The OCR runs in the engine like every model: off the event loop, on the worker's device.
          new TypographyTextStage(metrics, { ocr: { sessionFactory: this.device.sessionFactory } })
        : undefined;
    if (textStage !== undefined) {
      const fonts = await textStage.warm();
      log.info({ fontConfigFile: fonts.fontConfigFile, probes: fonts.probes }, 'typography fonts resolve: the probe word read back in every family');
      this.checkNotStopped();
    }
    const finisher = options.finisher ?? new JobFinisher(options.store, textStage);
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
        ...(this.outage === undefined ? {} : { outage: this.outage }),
        isolation,
        lockDurationMs: options.lockDurationMs,
        concurrencyHoldMs: options.concurrencyHoldMs,
        ...(options.fixedConcurrency === undefined || overflow ? {} : { fixedConcurrency: options.fixedConcurrency }),
        ...(overflow ? { overflow: { overflowBacklog: options.overflowBacklog, overflowAfterMs: options.overflowAfterMs, ownLanesIdle } } : {}),
        ...(!overflow && options.overflowLanes.length > 0 ? { onJobTaken: recheckOverflow } : {}),
      });
      const depthQueue = new Queue(laneQueueName(lane), { connection: main, prefix: laneQueuePrefix(options.prefix, lane) });
      depthQueue.on('error', () => {}); // its connection's errors are the outage log's; without a listener BullMQ prints them raw
      return { lane, overflow, consumer, depthQueue };
    });
    for (const lane of options.lanes) metrics.workerLanes.set({ lane }, 1);
    await this.pollDepths();
    this.checkNotStopped();
    this.depthTimer = setInterval(() => void this.pollDepths(), options.depthPollMs);
    this.depthTimer.unref();
    this.heartbeat = new WorkerHeartbeat(main, options.prefix, () => this.info());
    this.catalogue = new ModelCataloguePublisher(main, options.prefix, options.workerId, await describeServedModels(repository, Object.keys(models), [...options.lanes, ...options.overflowLanes]));
    this.checkNotStopped();
    // From the check above to here nothing awaits: a stop() cannot land between them.
    this.lifecycle.moveTo('running');
    for (const drain of this.drains) drain.consumer.start();
    this.heartbeat.start();
    this.catalogue.start();
    isolation.start();
    log.info(
      {
        lanes: options.lanes,
        overflowLanes: options.overflowLanes,
        executionProvider: this.device.plan.description,
        vramBytes: budgetBytes,
        store: options.store.description,
        models: Object.keys(models),
      },
      `worker running; inference on ${this.device.plan.description} (each model's provider is logged as it loads)`,
    );
  }

  private async shutdown(): Promise<void> {
    const log = this.options.logger;
    if (this.lifecycle.state === 'starting') {
      if (this.starting === undefined) return this.lifecycle.moveTo('stopped');
      // The start sees this at its next step and unwinds what it set up (see start()).
      this.lifecycle.moveTo('draining');
      await this.starting.catch(() => {});
      return;
    }
    if (this.lifecycle.state !== 'running') return;
    this.lifecycle.moveTo('draining');
    void this.heartbeat?.beat();
    clearInterval(this.depthTimer);
    log.info('draining: no new jobs, finishing batches in flight');
    await Promise.all(this.drains.map((d) => d.consumer.pause()));
    const graceful = (async () => {
      await this.batcher!.drain();
      await Promise.all(this.drains.map((d) => d.consumer.close()));
    })();
    graceful.catch(() => {});
    if (!(await settlesWithin(graceful, this.options.shutdownTimeoutMs))) {
      log.warn({ shutdownTimeoutMs: this.options.shutdownTimeoutMs }, 'shutdown deadline passed: failing the runs in flight and releasing held jobs to other workers');
      // The engine's runs fail with E_SHUTDOWN at once, so their jobs go back to the queue now instead of when
      // their locks lapse; the batcher then refuses what it still holds, the same way.
      void this.device?.kill('shutdown');
      void this.batcher!.close();
      await settlesWithin(graceful, RELEASE_AFTER_DEADLINE_MS);
      // force: BullMQ stops its lock and stalled-check timers without waiting for the jobs still held.
      await settlesWithin(Promise.all(this.drains.map((d) => d.consumer.forceClose())), RELEASE_AFTER_DEADLINE_MS);
      for (const connection of this.connections) connection.disconnect();
    }
    await this.release();
    this.lifecycle.moveTo('stopped');
    log.info('worker stopped');
  }

  /** Lets go of everything start() set up; each Redis write bounded. The engine ends last (see NativeCallGuard). */
  private async release(): Promise<void> {
    clearInterval(this.depthTimer);
    await settlesWithin(this.recorder?.close() ?? Promise.resolve(), LAST_WRITE_TIMEOUT_MS);
    await settlesWithin(this.heartbeat?.stop() ?? Promise.resolve(), LAST_WRITE_TIMEOUT_MS);
    await settlesWithin(this.catalogue?.stop() ?? Promise.resolve(), LAST_WRITE_TIMEOUT_MS);
    await settlesWithin(this.isolation?.stop() ?? Promise.resolve(), LAST_WRITE_TIMEOUT_MS);
    await settlesWithin(Promise.all(this.drains.map((d) => d.consumer.forceClose())), LAST_WRITE_TIMEOUT_MS);
    await settlesWithin(Promise.all(this.drains.map((d) => d.depthQueue.close())), LAST_WRITE_TIMEOUT_MS);
    await settlesWithin(this.runner?.close() ?? Promise.resolve(), LAST_WRITE_TIMEOUT_MS);
    // Not bounded: exiting while the engine thread is inside an onnxruntime call would abort the process.
    await this.device?.close();
    for (const connection of this.connections) connection.disconnect();
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
    this.outage ??= new RedisOutageLog(this.options.logger, redactRedisUrl(this.options.redisUrl));
    this.outage.watch(connection);
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
        metrics.activationFactor.set({ model: event.model }, event.activationFactor);
        log.warn({ lane: event.lane, model: event.model, size: event.size, activationFactor: event.activationFactor, err: event.error }, 'out of memory: batch bisected and retried');
        break;
      case 'estimate-raised':
        metrics.activationFactor.set({ model: event.model }, event.activationFactor);
        log.warn(
          { model: event.model, activationFactor: event.activationFactor, measuredBytes: event.measuredBytes, plannedBytes: event.plannedBytes },
          "device memory measured above the model's estimate: activation estimate raised",
        );
        break;
      case 'model-load': {
        const provider = this.runner?.report(event.model)?.provider;
        log.info({ model: event.model, weightBytes: event.weightBytes, executionProvider: provider }, `model loaded on ${provider ?? 'an unknown provider'}`);
        break;
      }
      case 'model-evict':
        log.info({ model: event.model, weightBytes: event.weightBytes }, 'model evicted');
        break;
      case 'model-load-error':
        log.error({ model: event.model, err: event.error }, `model ${event.model} failed to load; its jobs fail with this error and its next load tries again`);
        break;
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
