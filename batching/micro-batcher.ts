import type { Clock } from './clock.js';
import type { Batch, BatchItem } from './batch.js';
import type { BatcherEvent } from './batcher-event.js';
import type { BatcherState, BatcherStats, LaneStats, ModelStats } from './batcher-stats.js';
import { DeadlineTimer } from './deadline-timer.js';
import { createLaneState, laneStats } from './lane-state.js';
import type { LaneState } from './lane-state.js';
import { resolveBatcherOptions } from './batcher-options.js';
import type { BatcherOptions, ResolvedBatcherOptions } from './batcher-options.js';
import { BatcherStoppedError, OutOfMemoryError, VramBudgetError } from './batching-error.js';
import { ActivationEstimator } from './activation-estimator.js';
import { planAdmission } from './admission.js';
import { bisect, CountedItem, settleItems } from './pending-batches.js';
import type { PendingBatch, PendingItem } from './pending-batches.js';
import { GpuTimeEstimator } from './gpu-time-estimator.js';
import { planFromMeasuredUse } from './measured-use.js';
import { ModelResidency } from './model-residency.js';
import { WeightedFairShare } from './weighted-fair-share.js';

/**
 * Groups compatible items into micro-batches and starts them on the GPU under a VRAM budget, sharing it
 * between lanes by weight. See `BatcherOptions` for the knobs, `admission.ts` for the budget rule.
 *
 * A group flushes when it reaches its lane's adaptive target size, when its oldest item has waited
 * `maxLatencyMs`, while draining, or by the lone-item rule (`flushWhenIdle`: nothing in flight and the lane's
 * reported backlog empty). Every submitted item settles exactly once, with its own outcome.
 */
export class MicroBatcher<T, R, L extends string = string> {
  readonly #options: ResolvedBatcherOptions<T, R, L>;
  readonly #clock: Clock;
  readonly #lanes = new Map<L, LaneState<T, R, L>>();
  readonly #estimator: ActivationEstimator;
  readonly #residency: ModelResidency;
  readonly #fairShare: WeightedFairShare<L>;
  readonly #gpuTime = new GpuTimeEstimator();
  #state: BatcherState = 'running';
  #inFlightActivationBytes = 0;
  /** The same, per model: a measurement of device memory is attributed only while one model runs. */
  readonly #inFlightByModel = new Map<string, number>();
  /** Device memory beyond resident weights when last measured idle (see `observeDeviceUse`). */
  #idleOverheadBytes = 0;
  #batchesInFlight = 0;
  /** After an out-of-memory error nothing new starts until another batch ends: no OOM cascade. */
  #oomHold = false;
  #pumpQueued = false;
  readonly #timer: DeadlineTimer;
  #stopped: { promise: Promise<void>; resolve: () => void } | undefined;
  #counters = { batchesStarted: 0, oom: 0, itemsSubmitted: 0, itemsResolved: 0, itemsRejected: 0, modelLoads: 0, modelEvictions: 0 };

  constructor(options: BatcherOptions<T, R, L>) {
    this.#options = resolveBatcherOptions(options);
    this.#clock = this.#options.clock;
    this.#timer = new DeadlineTimer(this.#clock, () => this.#schedulePump());
    const weights = new Map<L, number>();
    for (const [name, config] of this.#options.lanes) {
      weights.set(name, config.weight);
      this.#lanes.set(name, createLaneState(name, config, this.#options.adaptive));
    }
    this.#fairShare = new WeightedFairShare(weights);
    this.#estimator = new ActivationEstimator(this.#options.models, this.#options.oomEstimateGrowth, this.#options.maxActivationFactor);
    this.#residency = new ModelResidency({
      load: this.#options.load,
      unload: this.#options.unload,
      onChange: () => this.#schedulePump(),
      onLoad: (model, weightBytes) => {
        this.#counters.modelLoads++;
        this.#emit({ type: 'model-load', model, weightBytes });
      },
      onLoadError: (model, error) => this.#emit({ type: 'model-load-error', model, error }),
      onEvict: (model, weightBytes) => {
        this.#counters.modelEvictions++;
        this.#emit({ type: 'model-evict', model, weightBytes });
      },
      onUnloadError: (model, error) => this.#emit({ type: 'model-unload-error', model, error }),
    });
  }

  /** `running` takes items; `draining` finishes what it holds and takes none; `stopped` is final. */
  get state(): BatcherState {
    return this.#state;
  }

  /**
   * Queues one item; the promise settles once, with the item's own result or error. Rejects at once with
   * `VramBudgetError` (E_VRAM_BUDGET) when one item cannot fit the budget even alone, with
   * `BatcherStoppedError` (E_SHUTDOWN) unless running, and with `RangeError` for an undeclared lane or model.
   */
  submit(item: BatchItem<T, L>): Promise<R> {
    if (this.#state !== 'running') return Promise.reject(new BatcherStoppedError(this.#state));
    const lane = this.#lanes.get(item.lane);
    if (!lane) return Promise.reject(new RangeError(`lane ${item.lane} is not declared in options.lanes`));
    const spec = this.#options.models.get(item.model);
    if (!spec) return Promise.reject(new RangeError(`model ${item.model} is not declared in options.models`));
    for (const side of ['widthPx', 'heightPx'] as const) {
      if (!Number.isInteger(item[side]) || item[side] < 1) return Promise.reject(new RangeError(`${side} must be an integer >= 1, got ${item[side]}`));
    }
    const scale = item.activationScale ?? 1;
    if (!(Number.isFinite(scale) && scale > 0)) return Promise.reject(new RangeError(`activationScale must be a finite number > 0, got ${scale}`));
    this.#counters.itemsSubmitted++;
    const perItemBytes = Math.ceil(this.#estimator.perItemBytes(item.model, item.widthPx, item.heightPx) * scale);
    if (spec.weightBytes + perItemBytes > this.#options.budgetBytes) {
      this.#counters.itemsRejected++;
      this.#emit({ type: 'rejected', lane: lane.name, model: item.model, code: 'E_VRAM_BUDGET', items: 1 });
      this.#schedulePump();
      return Promise.reject(new VramBudgetError(item.model, spec.weightBytes + perItemBytes, this.#options.budgetBytes));
    }
    if (lane.pending.size === 0 && lane.inFlightItems === 0) this.#fairShare.activate(lane.name, this.#activeLanes());
    let resolve!: (value: R) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<R>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    lane.pending.add(item, new CountedItem(item.payload, this.#clock.now(), this.#counters, resolve, reject));
    this.#schedulePump();
    return promise;
  }

  /** Items of the lane in the batcher now: waiting for batch-mates or room, or in a running batch. */
  heldItems(lane: L): number {
    const state = this.#lane(lane);
    return state.pending.size + state.inFlightItems;
  }

  /**
   * How many more items the lane would take now: `maxBatchSize × prefetchBatches` (see `LaneConfig.prefetchBatches`
   * for what each value means) minus the items it holds waiting. 0 unless running. The host polls it after batcher
   * events (a lane consumer sets its fetch concurrency to `heldItems + wantedItems`), so a busy worker leaves jobs
   * upstream for others.
   */
  wantedItems(lane: L): number {
    const state = this.#lane(lane);
    if (this.#state !== 'running') return 0;
    const prefetchBatches = state.config.prefetchBatches ?? this.#options.prefetchBatches;
    const canStartOne = state.inFlightBatches < state.config.maxBatchesInFlight;
    const batches = Math.max(prefetchBatches, canStartOne ? 1 : 0);
    return Math.max(0, state.config.maxBatchSize * batches - state.pending.size);
  }

  /**
   * Tells the batcher how many jobs wait upstream (e.g. the lane's BullMQ waiting count). Deeper backlog
   * grows the adaptive target; a non-zero backlog turns off the lone-item rule for the lane. Starts at 0.
   */
  setBacklog(lane: L, waitingItems: number): void {
    this.#lane(lane).backlog = Math.max(0, waitingItems);
    this.#schedulePump();
  }

  /**
   * Reports the device memory the models hold as measured, in bytes (the GPU's memory in use less what was in
   * use before the worker started, say). While one model runs and the device holds more than its estimate
   * accounts for, that model's activation estimate is raised to match (see `planFromMeasuredUse`), as an
   * out-of-memory error raises it, and an `estimate-raised` event says so. Measurements are never required:
   * without them the plan runs on declared figures alone.
   */
  observeDeviceUse(measuredBytes: number): void {
    if (!Number.isFinite(measuredBytes) || measuredBytes < 0) throw new RangeError(`measuredBytes must be a finite number >= 0, got ${measuredBytes}`);
    const residentWeightBytes = this.#residency.residentWeightBytes();
    const plan = planFromMeasuredUse({
      measuredBytes,
      residentWeightBytes,
      inFlightActivationBytes: this.#inFlightByModel,
      idleOverheadBytes: this.#idleOverheadBytes,
      factorOf: (model) => this.#estimator.factor(model),
      maxFactor: this.#estimator.maxFactor,
    });
    if (plan.kind === 'idle') this.#idleOverheadBytes = plan.idleOverheadBytes;
    if (plan.kind !== 'raise') return;
    const activationFactor = this.#estimator.raiseTo(plan.model, plan.factor);
    this.#emit({ type: 'estimate-raised', model: plan.model, activationFactor, measuredBytes, plannedBytes: residentWeightBytes + this.#inFlightActivationBytes + this.#idleOverheadBytes });
  }

  /** A snapshot of budget use, counters, lanes and models. */
  stats(): BatcherStats<L> {
    const lanes = {} as Record<L, LaneStats>;
    for (const lane of this.#lanes.values()) lanes[lane.name] = laneStats(lane);
    const models: Record<string, ModelStats> = {};
    for (const [name, spec] of this.#options.models) {
      const state = this.#residency.state(name);
      models[name] = { state, weightBytes: spec.weightBytes, runningBatches: this.#residency.pins(name), activationFactor: this.#estimator.factor(name) };
    }
    const residentWeightBytes = this.#residency.residentWeightBytes();
    return {
      state: this.#state,
      budgetBytes: this.#options.budgetBytes,
      usedBytes: residentWeightBytes + this.#inFlightActivationBytes,
      residentWeightBytes,
      inFlightActivationBytes: this.#inFlightActivationBytes,
      batchesInFlight: this.#batchesInFlight,
      ...this.#counters,
      lanes,
      models,
    };
  }

  /**
   * Stops taking items and runs everything held at once (without waiting for batch-mates); resolves when it
   * has all settled and models are unloaded. Calling it again returns the same promise.
   */
  drain(): Promise<void> {
    if (this.#state === 'running') this.#beginStopping();
    this.#schedulePump();
    return this.#stopped!.promise;
  }

  /**
   * Stops taking items, rejects the items not started with `BatcherStoppedError` (E_SHUTDOWN: back to the
   * queue), lets running batches finish, unloads models; resolves when stopped. Also ends a drain early.
   */
  close(): Promise<void> {
    if (this.#state === 'running') this.#beginStopping();
    if (this.#state === 'draining') {
      const error = new BatcherStoppedError('closing');
      for (const lane of this.#lanes.values()) for (const item of lane.pending.takeAll()) item.reject(error);
    }
    this.#schedulePump();
    return this.#stopped!.promise;
  }

  #beginStopping(): void {
    this.#state = 'draining';
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.#stopped = { promise, resolve };
  }

  #lane(lane: L): LaneState<T, R, L> {
    const state = this.#lanes.get(lane);
    if (!state) throw new RangeError(`lane ${lane} is not declared in options.lanes`);
    return state;
  }

  #activeLanes(): L[] {
    return [...this.#lanes.values()].filter((l) => l.pending.size > 0 || l.inFlightItems > 0).map((l) => l.name);
  }

  #emit(event: BatcherEvent<L>): void {
    this.#options.onEvent?.(event);
  }

  #schedulePump(): void {
    if (this.#pumpQueued) return;
    this.#pumpQueued = true;
    // A microtask, so items submitted in the same tick are grouped before anything starts.
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  /** Starts every batch that is ready and fits, least-served lane first; then re-arms the timer. */
  #pump(): void {
    if (this.#state === 'stopped') return;
    while (this.#startNext()) {
      // Each start changes the budget and the lanes' order, so plan again from the top.
    }
    this.#armTimer();
    this.#finishStopping();
  }

  /** Starts (or rejects) one batch; false when nothing more can happen until an event. */
  #startNext(): boolean {
    if (this.#oomHold || this.#batchesInFlight >= this.#options.maxBatchesInFlight) return false;
    const nowMs = this.#clock.now();
    const idle = this.#batchesInFlight === 0;
    for (const name of this.#fairShare.ordered(this.#lanes.keys())) {
      const lane = this.#lanes.get(name)!;
      if (lane.inFlightBatches >= lane.config.maxBatchesInFlight) continue;
      const flushNow = this.#state === 'draining' || (this.#options.flushWhenIdle && idle && lane.backlog === 0);
      const candidate = lane.pending.candidate(nowMs, lane.adaptive.target, lane.config.maxLatencyMs, flushNow);
      if (!candidate) {
        lane.blockedSinceMs = undefined;
        continue;
      }
      const spec = this.#options.models.get(candidate.model)!;
      const perItemBytes = Math.ceil(this.#estimator.perItemBytes(candidate.model, candidate.widthPx, candidate.heightPx) * candidate.activationScale);
      const requestedItems = candidate.attempt > 0 ? candidate.items.length : Math.min(candidate.items.length, lane.adaptive.target);
      const residentWeightBytes = this.#residency.residentWeightBytes();
      const plan = planAdmission({
        budgetBytes: this.#options.budgetBytes,
        usedBytes: residentWeightBytes + this.#inFlightActivationBytes,
        residentWeightBytes,
        unloadingWeightBytes: this.#residency.unloadingWeightBytes(),
        weightBytes: spec.weightBytes,
        modelState: this.#residency.state(candidate.model),
        perItemBytes,
        requestedItems,
        evictable: this.#residency.evictable(candidate.model),
      });
      if (plan.kind === 'reject') {
        const items = lane.pending.take(candidate, candidate.items.length);
        const error = new VramBudgetError(candidate.model, plan.needBytes, this.#options.budgetBytes);
        this.#emit({ type: 'rejected', lane: name, model: candidate.model, code: 'E_VRAM_BUDGET', items: items.length });
        for (const item of items) item.reject(error);
        return true;
      }
      if (plan.kind === 'start') {
        lane.blockedSinceMs = undefined;
        this.#start(lane, candidate, plan.items, perItemBytes, nowMs);
        return true;
      }
      if (plan.kind === 'evict') for (const model of plan.models) this.#residency.evict(model);
      lane.blockedSinceMs ??= nowMs;
      // Other lanes may go past a blocked lane only for a while; then the GPU drains until it fits.
      if (nowMs - lane.blockedSinceMs >= this.#options.maxBypassMs) return false;
    }
    return false;
  }

  #start(lane: LaneState<T, R, L>, candidate: PendingBatch<T, R>, count: number, perItemBytes: number, nowMs: number): void {
    if (candidate.attempt === 0) lane.adaptive.observeBacklog(lane.pending.size + lane.backlog);
    const items = lane.pending.take(candidate, count);
    const activationBytes = perItemBytes * items.length;
    const estimateMs = this.#gpuTime.estimateMs(candidate.model, items.length);
    for (const item of items) item.firstStartMs ??= nowMs;
    this.#inFlightActivationBytes += activationBytes;
    this.#inFlightByModel.set(candidate.model, (this.#inFlightByModel.get(candidate.model) ?? 0) + activationBytes);
    this.#batchesInFlight++;
    this.#counters.batchesStarted++;
    lane.inFlightItems += items.length;
    lane.inFlightBatches++;
    lane.batchesStarted++;
    lane.itemsStarted += items.length;
    this.#fairShare.charge(lane.name, estimateMs);
    const weightBytes = this.#options.models.get(candidate.model)!.weightBytes;
    const ready = this.#residency.pin(candidate.model, weightBytes, nowMs);
    const batch: Batch<T, L> = {
      lane: lane.name,
      key: candidate.key,
      model: candidate.model,
      widthPx: candidate.widthPx,
      heightPx: candidate.heightPx,
      payloads: items.map((item) => item.payload),
      attempt: candidate.attempt,
      activationBytes,
    };
    const usedBytes = this.#residency.residentWeightBytes() + this.#inFlightActivationBytes;
    this.#emit({ type: 'batch-start', lane: lane.name, model: batch.model, key: batch.key, size: items.length, attempt: batch.attempt, activationBytes, usedBytes });
    void this.#execute(lane, candidate, batch, items, estimateMs, ready);
  }

  async #execute(
    lane: LaneState<T, R, L>,
    shape: PendingBatch<T, R>,
    batch: Batch<T, L>,
    items: PendingItem<T, R>[],
    estimateMs: number,
    ready: Promise<void>,
  ): Promise<void> {
    let loadError: { error: unknown } | undefined;
    let runError: { error: unknown } | undefined;
    let outcomes: unknown;
    try {
      await ready;
    } catch (error) {
      loadError = { error };
    }
    const runStartMs = this.#clock.now();
    if (!loadError) {
      try {
        outcomes = await this.#options.run(batch);
      } catch (error) {
        runError = { error };
      }
    }
    const endMs = this.#clock.now();
    const runMs = loadError ? 0 : endMs - runStartMs;
    this.#inFlightActivationBytes -= batch.activationBytes;
    const modelInFlightBytes = (this.#inFlightByModel.get(batch.model) ?? 0) - batch.activationBytes;
    if (modelInFlightBytes > 0) this.#inFlightByModel.set(batch.model, modelInFlightBytes);
    else this.#inFlightByModel.delete(batch.model);
    this.#batchesInFlight--;
    this.#oomHold = false;
    lane.inFlightItems -= items.length;
    lane.inFlightBatches--;
    lane.gpuMs += runMs;
    this.#residency.unpin(batch.model, endMs);
    this.#fairShare.charge(lane.name, runMs - estimateMs);
    if (!loadError && !runError) this.#gpuTime.observe(batch.model, runMs, items.length);

    const oom = runError !== undefined && this.#options.isOutOfMemory(runError.error);
    this.#emit({ type: 'batch-end', lane: lane.name, model: batch.model, size: items.length, runMs, outcome: oom ? 'oom' : runError || loadError ? 'error' : 'ok' });
    if (loadError) {
      for (const item of items) item.reject(loadError.error);
    } else if (runError && oom) {
      this.#recoverFromOom(lane, shape, batch, items, runError.error);
    } else if (runError) {
      for (const item of items) item.reject(runError.error);
    } else {
      // What batching adds: run time plus waiting for batch-mates (at most maxLatencyMs). Waiting for GPU room
      // is left out: smaller batches would not shorten it, and counting it would shrink batches under load.
      const batchingWaitMs = Math.min(lane.config.maxLatencyMs, runStartMs - Math.min(...items.map((item) => item.submittedMs)));
      lane.adaptive.observeLatency(Math.max(0, batchingWaitMs) + runMs);
      settleItems(items, outcomes);
    }
    this.#schedulePump();
  }

  /** Raises the model's estimate and requeues the batch as two halves (a lone item: alone, until the cap). */
  #recoverFromOom(lane: LaneState<T, R, L>, shape: PendingBatch<T, R>, batch: Batch<T, L>, items: PendingItem<T, R>[], error: unknown): void {
    this.#counters.oom++;
    const { factor, wasAtMax } = this.#estimator.raise(batch.model);
    this.#emit({ type: 'oom', lane: lane.name, model: batch.model, size: items.length, activationFactor: factor, error });
    if (items.length === 1 && wasAtMax) {
      this.#emit({ type: 'rejected', lane: lane.name, model: batch.model, code: 'E_OOM', items: 1 });
      items[0]!.reject(new OutOfMemoryError(batch.model, batch.attempt + 1, error));
    } else {
      lane.pending.pushRetries(bisect(shape, items, batch.attempt));
    }
    if (this.#batchesInFlight > 0) this.#oomHold = true;
  }

  #armTimer(): void {
    const nowMs = this.#clock.now();
    let nextMs: number | undefined;
    for (const lane of this.#state === 'running' ? this.#lanes.values() : []) {
      const dueMs = lane.pending.nextDeadlineMs(nowMs, lane.config.maxLatencyMs);
      if (dueMs !== undefined && (nextMs === undefined || dueMs < nextMs)) nextMs = dueMs;
    }
    this.#timer.aim(nextMs);
  }

  /** While draining: once nothing is held or running, unload the models, then stop. */
  #finishStopping(): void {
    if (this.#state !== 'draining' || this.#batchesInFlight > 0) return;
    for (const lane of this.#lanes.values()) if (lane.pending.size > 0) return;
    for (const model of this.#residency.loadedModels()) this.#residency.evict(model);
    if (this.#residency.busy()) return;
    this.#state = 'stopped';
    this.#stopped?.resolve();
  }
}
