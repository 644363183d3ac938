import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, MicroBatcher, VramBudgetError, isOutOfMemoryError, planAdmission, planFromMeasuredUse } from '../../batching/index.js';
import type { Batch, BatcherEvent, BatcherOptions, ItemOutcome, ModelSpec } from '../../batching/index.js';

const MB = 1_000_000;
/** 1000 × 1000 px: exactly one megapixel, so activation bytes per item = activationBytesPerMegapixel. */
const SIDE = 1000;

interface Ran {
  batch: Batch<number>;
  startMs: number;
}

function fakeGpu(clock: FakeClock, msFor: (batch: Batch<number>) => number = () => 100) {
  const ran: Ran[] = [];
  const run = (batch: Batch<number>): Promise<ItemOutcome<number>[]> => {
    ran.push({ batch, startMs: clock.now() });
    return new Promise((resolve) => clock.setTimeout(() => resolve(batch.payloads.map((p) => ({ ok: true, value: p }))), msFor(batch)));
  };
  return { ran, run };
}

function makeBatcher(
  clock: FakeClock,
  run: BatcherOptions<number, number>['run'],
  models: Record<string, ModelSpec>,
  budgetBytes: number,
  extra: Partial<BatcherOptions<number, number>> = {},
) {
  return new MicroBatcher<number, number>({
    run,
    clock,
    budgetBytes,
    models,
    lanes: { flash: { maxBatchSize: 4, maxLatencyMs: 80 }, large: { maxBatchSize: 4, maxLatencyMs: 80 } },
    flushWhenIdle: false,
    ...extra,
  });
}

const item = (payload: number, model = 'm', lane = 'flash') => ({ lane, key: 'k', model, widthPx: SIDE, heightPx: SIDE, payload });

test('an item that cannot fit even alone fails at once with E_VRAM_BUDGET (not retryable)', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock);
  const batcher = makeBatcher(clock, gpu.run, { huge: { weightBytes: 600 * MB, activationBytesPerMegapixel: 500 * MB } }, 1000 * MB);
  let settled: unknown;
  batcher.submit(item(1, 'huge')).catch((error: unknown) => (settled = error));
  await Promise.resolve();
  await Promise.resolve();
  assert.ok(settled instanceof VramBudgetError, 'rejected without any time passing');
  assert.equal((settled as VramBudgetError).code, 'E_VRAM_BUDGET');
  assert.equal((settled as VramBudgetError).retryable, false);
  assert.equal((settled as VramBudgetError).needBytes, 1100 * MB);
  await clock.advanceAsync(1000);
  assert.equal(gpu.ran.length, 0);
});

test('a batch that cannot fit as a whole is split', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock);
  // Weights 400 + 4 × 250 > 1000: at most 2 items fit even with nothing else running.
  const batcher = makeBatcher(clock, gpu.run, { m: { weightBytes: 400 * MB, activationBytesPerMegapixel: 250 * MB } }, 1000 * MB);
  const results = [1, 2, 3, 4].map((p) => batcher.submit(item(p)));
  await clock.advanceAsync(0);
  assert.deepEqual(gpu.ran.map((r) => r.batch.payloads), [[1, 2]]);
  await clock.advanceAsync(100);
  assert.deepEqual(gpu.ran.map((r) => r.batch.payloads), [[1, 2], [3, 4]]);
  assert.equal(gpu.ran[1]!.startMs, 100, 'the second half waited for room, then went without waiting for batch-mates');
  await clock.advanceAsync(100);
  assert.deepEqual(await Promise.all(results), [1, 2, 3, 4]);
});

test('a batch waits while batches in flight use the budget, and the budget is never exceeded', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock);
  let maxUsed = 0;
  const batcher: MicroBatcher<number, number> = makeBatcher(clock, (batch) => {
    maxUsed = Math.max(maxUsed, batcher.stats().usedBytes);
    return gpu.run(batch);
  }, { m: { weightBytes: 200 * MB, activationBytesPerMegapixel: 100 * MB } }, 1000 * MB);
  // Weights 200 + one batch of 4 (400) + another of 4 (400) = 1000: two fit, the third waits.
  const results = Array.from({ length: 12 }, (_, i) => batcher.submit(item(i)));
  await clock.advanceAsync(0);
  assert.equal(gpu.ran.length, 2);
  assert.equal(batcher.stats().usedBytes, 1000 * MB);
  await clock.advanceAsync(100);
  assert.equal(gpu.ran.length, 3);
  await clock.advanceAsync(100);
  await Promise.all(results);
  assert.ok(maxUsed <= 1000 * MB);
});

test('models load on first need and the least recently used idle model is evicted for room', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, () => 50);
  const log: string[] = [];
  const models = {
    a: { weightBytes: 400 * MB, activationBytesPerMegapixel: 50 * MB },
    b: { weightBytes: 400 * MB, activationBytesPerMegapixel: 50 * MB },
    c: { weightBytes: 400 * MB, activationBytesPerMegapixel: 50 * MB },
  };
  const batcher = makeBatcher(clock, gpu.run, models, 1000 * MB, {
    load: async (m) => void log.push(`load ${m}`),
    unload: async (m) => void log.push(`unload ${m}`),
  });
  await Promise.all([batcher.submit(item(1, 'a')), clock.advanceAsync(200)]);
  await Promise.all([batcher.submit(item(2, 'b')), clock.advanceAsync(200)]);
  await Promise.all([batcher.submit(item(3, 'a')), clock.advanceAsync(200)]); // a is now more recent than b
  await Promise.all([batcher.submit(item(4, 'c')), clock.advanceAsync(200)]);
  assert.deepEqual(log, ['load a', 'load b', 'unload b', 'load c']);
  const stats = batcher.stats();
  assert.equal(stats.models.a!.state, 'ready');
  assert.equal(stats.models.b!.state, 'unloaded');
  assert.equal(stats.models.c!.state, 'ready');
  assert.equal(stats.modelEvictions, 1);
});

test('a model with a running batch is never evicted: the newcomer waits for it to finish', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, (b) => (b.model === 'a' ? 500 : 50));
  const log: string[] = [];
  const models = {
    a: { weightBytes: 400 * MB, activationBytesPerMegapixel: 50 * MB },
    b: { weightBytes: 400 * MB, activationBytesPerMegapixel: 50 * MB },
    c: { weightBytes: 400 * MB, activationBytesPerMegapixel: 50 * MB },
  };
  const batcher = makeBatcher(clock, gpu.run, models, 1000 * MB, {
    load: async (m) => void log.push(`load ${m}@${clock.now()}`),
    unload: async (m) => void log.push(`unload ${m}@${clock.now()}`),
  });
  await Promise.all([batcher.submit(item(1, 'b')), clock.advanceAsync(200)]); // b runs 80-130, then idle
  const longA = batcher.submit(item(2, 'a', 'large')); // a runs 280-780
  await clock.advanceAsync(100);
  // c needs room at 380: b (idle) goes; a (running) stays, though evicting it would also make room.
  const c = batcher.submit(item(3, 'c'));
  await clock.advanceAsync(100);
  assert.deepEqual(log, ['load b@80', 'load a@280', 'unload b@380', 'load c@380']);
  assert.equal(batcher.stats().models.a!.runningBatches, 1);
  await clock.advanceAsync(1000);
  await Promise.all([longA, c]);
  // Now both are idle: a last ran until 780, c until 430, so c is the least recently used and goes.
  await Promise.all([batcher.submit(item(4, 'b')), clock.advanceAsync(200)]);
  assert.deepEqual(log.slice(4).map((l) => l.split('@')[0]), ['unload c', 'load b']);
});

test('a load failure fails that batch with the load error, and the model can load again later', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, () => 10);
  let attempts = 0;
  const batcher = makeBatcher(clock, gpu.run, { m: { weightBytes: 100 * MB, activationBytesPerMegapixel: 10 * MB } }, 1000 * MB, {
    load: async () => {
      if (attempts++ === 0) throw Object.assign(new Error('no such file'), { code: 'E_MODEL_LOAD' });
    },
  });
  const first = assert.rejects(batcher.submit(item(1)), { code: 'E_MODEL_LOAD' });
  await clock.advanceAsync(80);
  await first;
  assert.equal(batcher.stats().residentWeightBytes, 0);
  const second = batcher.submit(item(2));
  await clock.advanceAsync(100);
  assert.equal(await second, 2);
});

test('an out-of-memory batch is bisected and retried; the estimate rises; no cascade', async () => {
  const clock = new FakeClock();
  const events: BatcherEvent[] = [];
  const ran: number[][] = [];
  const batcher = makeBatcher(clock, async (batch) => {
    ran.push([...batch.payloads]);
    if (batch.payloads.length > 2) throw Object.assign(new Error('CUDA failure 2: out of memory'), {});
    return batch.payloads.map((p) => ({ ok: true, value: p * 2 }));
  }, { m: { weightBytes: 100 * MB, activationBytesPerMegapixel: 10 * MB } }, 1000 * MB, { onEvent: (e) => events.push(e) });
  const results = [1, 2, 3, 4].map((p) => batcher.submit(item(p)));
  await clock.advanceAsync(0);
  assert.deepEqual(await Promise.all(results), [2, 4, 6, 8]);
  assert.deepEqual(ran, [[1, 2, 3, 4], [1, 2], [3, 4]]);
  const stats = batcher.stats();
  assert.equal(stats.oom, 1);
  assert.equal(stats.models.m!.activationFactor, 1.25);
  const oom = events.find((e) => e.type === 'oom');
  assert.ok(oom && oom.type === 'oom' && oom.size === 4 && oom.activationFactor === 1.25);
  // The retried halves carry a raised estimate: 1.25 × 10 MB per item.
  const starts = events.filter((e) => e.type === 'batch-start');
  assert.deepEqual(starts.map((e) => e.type === 'batch-start' && [e.attempt, e.activationBytes]), [[0, 40 * MB], [1, 25 * MB], [1, 25 * MB]]);
});

test('after an out-of-memory error nothing new starts until another batch ends', async () => {
  const clock = new FakeClock();
  const ran: Array<{ payloads: number[]; atMs: number }> = [];
  const batcher = makeBatcher(clock, (batch) => {
    ran.push({ payloads: [...batch.payloads], atMs: clock.now() });
    if (batch.payloads[0] === 5 && batch.attempt === 0) return Promise.reject(Object.assign(new Error('x'), { code: 'E_OOM' }));
    return new Promise((resolve) => clock.setTimeout(() => resolve(batch.payloads.map((p) => ({ ok: true, value: p }))), 100));
  }, { m: { weightBytes: 100 * MB, activationBytesPerMegapixel: 10 * MB } }, 1000 * MB);
  const first = [1, 2, 3, 4].map((p) => batcher.submit(item(p)));
  await clock.advanceAsync(10);
  const second = [5, 6, 7, 8].map((p) => batcher.submit(item(p)));
  await clock.advanceAsync(0);
  assert.equal(ran.length, 2, 'the second batch ran and ran out of memory');
  await clock.advanceAsync(89);
  assert.equal(ran.length, 2, 'its halves wait for the batch in flight to end');
  await clock.advanceAsync(1);
  assert.deepEqual(ran.slice(2).map((r) => [r.payloads, r.atMs]), [[[5, 6], 100], [[7, 8], 100]]);
  await clock.advanceAsync(100);
  await Promise.all([...first, ...second]);
});

test('a lone item that keeps running out of memory fails with E_OOM once its estimate is at the maximum', async () => {
  const clock = new FakeClock();
  let runs = 0;
  const cause = Object.assign(new Error('allocation failed'), { code: 'E_OOM' });
  const batcher = makeBatcher(clock, async () => {
    runs++;
    throw cause;
  }, { m: { weightBytes: 100 * MB, activationBytesPerMegapixel: 10 * MB } }, 1000 * MB, { oomEstimateGrowth: 2, maxActivationFactor: 8 });
  const result = assert.rejects(
    batcher.submit(item(1)),
    (error: Error & { code?: string; retryable?: boolean }) => error.code === 'E_OOM' && error.cause === cause && error.retryable === true,
  );
  await clock.advanceAsync(80);
  await result;
  // Factors 1 → 2 → 4 → 8, then one more OOM at the cap fails it.
  assert.equal(runs, 4);
  assert.equal(batcher.stats().oom, 4);
  assert.equal(batcher.stats().models.m!.activationFactor, 8);
});

test('a raised estimate that no longer fits alone fails the item with E_VRAM_BUDGET', async () => {
  const clock = new FakeClock();
  const batcher = makeBatcher(clock, async () => {
    throw Object.assign(new Error('OOM'), {});
  }, { m: { weightBytes: 500 * MB, activationBytesPerMegapixel: 300 * MB } }, 1000 * MB);
  const result = assert.rejects(batcher.submit(item(1)), { code: 'E_VRAM_BUDGET' });
  await clock.advanceAsync(80);
  // 500 + 300 fits; after one OOM 500 + 375 fits; after two 500 + 469 fits; after three 500 + 586 does not.
  await result;
  assert.equal(batcher.stats().oom, 3);
});

test('isOutOfMemoryError recognises codes and messages, not unrelated words', () => {
  assert.equal(isOutOfMemoryError({ code: 'E_OOM' }), true);
  assert.equal(isOutOfMemoryError(new Error('CUDA out of memory. Tried to allocate 2 GiB')), true);
  assert.equal(isOutOfMemoryError(new Error('[ONNXRuntimeError] OOM in BFCArena')), true);
  assert.equal(isOutOfMemoryError(new Error('no room in the bathroom')), false);
  assert.equal(isOutOfMemoryError(new Error('invalid input')), false);
  assert.equal(isOutOfMemoryError(undefined), false);
});

test('isOutOfMemoryError reads the allocation failures of onnxruntime, cuDNN and cuBLAS, and looks through causes', () => {
  for (const message of ['Failed to allocate memory for requested buffer of size 4194304', 'std::bad_alloc', 'CUDNN_STATUS_ALLOC_FAILED', 'CUBLAS_STATUS_ALLOC_FAILED']) {
    assert.equal(isOutOfMemoryError(new Error(message)), true, message);
  }
  // A pipeline that codes the runtime's failure as E_INFERENCE keeps the runtime's error as the cause.
  const wrapped = Object.assign(new Error('unet/model.onnx failed while running', { cause: new Error('[ONNXRuntimeError] OOM in BFCArena') }), { code: 'E_INFERENCE' });
  assert.equal(isOutOfMemoryError(wrapped), true);
  assert.equal(isOutOfMemoryError(Object.assign(new Error('crashed', { cause: new Error('invalid input') }), { code: 'E_INFERENCE' })), false);
  const cycle: { message: string; cause?: unknown } = { message: 'loop' };
  cycle.cause = cycle;
  assert.equal(isOutOfMemoryError(cycle), false);
});

test('a custom isOutOfMemory predicate decides what is bisected', async () => {
  const clock = new FakeClock();
  let runs = 0;
  const batcher = makeBatcher(clock, async (batch) => {
    runs++;
    if (runs === 1) throw Object.assign(new Error('status 2'), { status: 2 });
    return batch.payloads.map((p) => ({ ok: true, value: p }));
  }, { m: { weightBytes: 0, activationBytesPerMegapixel: MB } }, 1000 * MB, { isOutOfMemory: (e) => (e as { status?: number }).status === 2 });
  const results = [1, 2].map((p) => batcher.submit(item(p)));
  await clock.advanceAsync(80);
  assert.deepEqual(await Promise.all(results), [1, 2]);
  assert.equal(runs, 3);
});

test('planAdmission: start, split to fit, wait for running batches, evict only when weights block, reject', () => {
  const base = {
    budgetBytes: 1000,
    residentWeightBytes: 300,
    unloadingWeightBytes: 0,
    weightBytes: 300,
    modelState: 'ready' as const,
    perItemBytes: 100,
    requestedItems: 4,
    evictable: [],
  };
  assert.deepEqual(planAdmission({ ...base, usedBytes: 300 }), { kind: 'start', items: 4 });
  assert.deepEqual(planAdmission({ ...base, usedBytes: 750 }), { kind: 'start', items: 2 });
  assert.deepEqual(planAdmission({ ...base, usedBytes: 950 }), { kind: 'wait' });
  assert.deepEqual(planAdmission({ ...base, usedBytes: 0, weightBytes: 950 }), { kind: 'reject', needBytes: 1050 });
  const weightsBlock = {
    ...base,
    modelState: 'unloaded' as const,
    residentWeightBytes: 900,
    usedBytes: 900,
    evictable: [{ model: 'old', weightBytes: 300 }, { model: 'newer', weightBytes: 300 }],
  };
  // Needs 300 + 4 × 100 = 700 with 100 free: evicting 'old' gives 400 (one item) and 'newer' too gives 700 (four).
  assert.deepEqual(planAdmission(weightsBlock), { kind: 'evict', models: ['old', 'newer'] });
  assert.deepEqual(planAdmission({ ...weightsBlock, evictable: [] }), { kind: 'wait' });
  assert.deepEqual(planAdmission({ ...base, modelState: 'unloading', usedBytes: 300 }), { kind: 'wait' });
});

test('planFromMeasuredUse: learns the idle overhead, raises only the one running model, up to the cap', () => {
  const base = { residentWeightBytes: 500 * MB, idleOverheadBytes: 100 * MB, factorOf: () => 1, maxFactor: 4 };
  assert.deepEqual(planFromMeasuredUse({ ...base, measuredBytes: 650 * MB, inFlightActivationBytes: new Map() }), { kind: 'idle', idleOverheadBytes: 150 * MB });
  // 500 weights + 100 overhead + 200 estimated, and 800 more measured: the run used 1000, five times its estimate, capped at 4.
  assert.deepEqual(planFromMeasuredUse({ ...base, measuredBytes: 1600 * MB, inFlightActivationBytes: new Map([['m', 200 * MB]]) }), { kind: 'raise', model: 'm', factor: 4 });
  assert.deepEqual(planFromMeasuredUse({ ...base, measuredBytes: 1000 * MB, inFlightActivationBytes: new Map([['m', 200 * MB]]) }), { kind: 'raise', model: 'm', factor: 2 });
  assert.deepEqual(planFromMeasuredUse({ ...base, measuredBytes: 750 * MB, inFlightActivationBytes: new Map([['m', 200 * MB]]) }), { kind: 'keep' }, 'within the estimate');
  assert.deepEqual(planFromMeasuredUse({ ...base, measuredBytes: 5000 * MB, inFlightActivationBytes: new Map([['m', 200 * MB], ['n', 100 * MB]]) }), { kind: 'keep' }, 'two models: not attributable');
  assert.deepEqual(planFromMeasuredUse({ ...base, factorOf: () => 4, measuredBytes: 5000 * MB, inFlightActivationBytes: new Map([['m', 200 * MB]]) }), { kind: 'keep' }, 'at the cap already');
});

test('measured device memory above a running batch estimate raises the model estimate for the next batches', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, () => 100);
  const events: BatcherEvent[] = [];
  const batcher = makeBatcher(clock, gpu.run, { m: { weightBytes: 200 * MB, activationBytesPerMegapixel: 100 * MB } }, 1000 * MB, { onEvent: (e) => events.push(e) });
  batcher.observeDeviceUse(0);
  const first = [1, 2].map((p) => batcher.submit(item(p)));
  await clock.advanceAsync(80);
  assert.equal(batcher.stats().inFlightActivationBytes, 200 * MB);
  // Idle before the first run, the device held nothing; now weights 200 + the run 600 instead of the estimated 200.
  batcher.observeDeviceUse(800 * MB);
  const raised = events.find((e) => e.type === 'estimate-raised');
  assert.deepEqual(raised, { type: 'estimate-raised', model: 'm', activationFactor: 3, measuredBytes: 800 * MB, plannedBytes: 400 * MB });
  assert.equal(batcher.stats().models.m!.activationFactor, 3);
  await clock.advanceAsync(100);
  assert.deepEqual(await Promise.all(first), [1, 2]);
  // 200 weights + 300 per item: two fit the 1000 budget, the third waits.
  const next = [3, 4, 5].map((p) => batcher.submit(item(p)));
  await clock.advanceAsync(80);
  assert.equal(gpu.ran.at(-1)!.batch.payloads.length, 2);
  await clock.advanceAsync(500);
  assert.deepEqual(await Promise.all(next), [3, 4, 5]);
  assert.throws(() => batcher.observeDeviceUse(-1), /measuredBytes must be a finite number >= 0, got -1/);
});
