import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_BATCHER_OPTIONS,
  DEFAULT_LANE_CONFIG,
  FakeClock,
  MicroBatcher,
  OutOfMemoryError,
  VramBudgetError,
  BatcherStoppedError,
  realClock,
  resolveBatcherOptions,
} from '../../batching/index.js';
import type { BatcherOptions } from '../../batching/index.js';

const base: BatcherOptions<unknown, unknown> = {
  run: async () => [],
  budgetBytes: 1000,
  models: { m: { weightBytes: 10, activationBytesPerMegapixel: 10 } },
  lanes: { flash: {} },
};

test('resolveBatcherOptions fills defaults from one object', () => {
  const resolved = resolveBatcherOptions(base);
  assert.deepEqual(resolved.lanes.get('flash'), DEFAULT_LANE_CONFIG);
  assert.deepEqual(DEFAULT_LANE_CONFIG, { maxBatchSize: 4, maxLatencyMs: 80, sloMs: 2000, weight: 1, maxBatchesInFlight: Infinity, prefetchBatches: undefined });
  assert.equal(resolved.clock, realClock);
  assert.equal(resolved.maxBypassMs, DEFAULT_BATCHER_OPTIONS.maxBypassMs);
  assert.equal(resolved.flushWhenIdle, true);
  assert.equal(resolved.adaptive.enabled, true);
  const custom = resolveBatcherOptions({ ...base, lanes: { large: { maxBatchSize: 2, maxLatencyMs: undefined } }, adaptive: { enabled: false } });
  assert.deepEqual(custom.lanes.get('large'), { ...DEFAULT_LANE_CONFIG, maxBatchSize: 2 });
  assert.equal(custom.adaptive.enabled, false);
  assert.equal(custom.adaptive.smoothing, 0.3);
});

test('resolveBatcherOptions fails fast, naming the option and the value', () => {
  const cases: Array<[Partial<BatcherOptions<unknown, unknown>>, RegExp]> = [
    [{ lanes: { flash: { maxBatchSize: 0 } } }, /^lanes\.flash\.maxBatchSize must be an integer >= 1, got 0$/],
    [{ lanes: { flash: { maxBatchSize: 2.5 } } }, /maxBatchSize must be an integer >= 1, got 2.5/],
    [{ lanes: { flash: { maxLatencyMs: -1 } } }, /lanes\.flash\.maxLatencyMs must be >= 0, got -1/],
    [{ lanes: { flash: { weight: 0 } } }, /lanes\.flash\.weight must be > 0, got 0/],
    [{ lanes: {} }, /lanes must declare at least one lane/],
    [{ budgetBytes: 0 }, /^budgetBytes must be > 0, got 0$/],
    [{ budgetBytes: Number.NaN }, /budgetBytes must be > 0, got NaN/],
    [{ models: { m: { weightBytes: -1, activationBytesPerMegapixel: 1 } } }, /models\.m\.weightBytes must be >= 0, got -1/],
    [{ models: { m: { weightBytes: 1, activationBytesPerMegapixel: 0 } } }, /models\.m\.activationBytesPerMegapixel must be > 0, got 0/],
    [{ oomEstimateGrowth: 1 }, /oomEstimateGrowth must be > 1, got 1/],
    [{ maxActivationFactor: 0.5 }, /maxActivationFactor must be >= 1, got 0.5/],
    [{ maxBatchesInFlight: 0 }, /maxBatchesInFlight must be an integer >= 1, got 0/],
    [{ prefetchBatches: -1 }, /prefetchBatches must be an integer >= 0, got -1/],
    [{ adaptive: { smoothing: 0 } }, /adaptive\.smoothing must be in \(0, 1\], got 0/],
  ];
  for (const [patch, message] of cases) {
    assert.throws(() => resolveBatcherOptions({ ...base, ...patch }), (error: Error) => error instanceof RangeError && message.test(error.message), String(message));
  }
  assert.throws(() => new MicroBatcher({ ...base, lanes: { flash: { maxBatchSize: 0 } } }), RangeError, 'the constructor validates');
});

test('error classes carry stable codes, retryability and cause', () => {
  const cause = new Error('cudaMalloc failed');
  const oom = new OutOfMemoryError('sdxl', 3, cause);
  assert.equal(oom.code, 'E_OOM');
  assert.equal(oom.retryable, true);
  assert.equal(oom.cause, cause);
  assert.equal(cause.message, 'cudaMalloc failed', 'the wrapped message is untouched');
  const budget = new VramBudgetError('sdxl', 2000, 1000);
  assert.equal(budget.code, 'E_VRAM_BUDGET');
  assert.equal(budget.retryable, false);
  assert.match(budget.message, /needs 2000 bytes .* budget is 1000 bytes/);
  assert.equal(new BatcherStoppedError('draining').code, 'E_SHUTDOWN');
});

test('FakeClock fires timers in due order, only when time reaches them, and not once cleared', async () => {
  const clock = new FakeClock(1000);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('b@20'), 20);
  clock.setTimeout(() => fired.push('a@10'), 10);
  const cleared = clock.setTimeout(() => fired.push('never'), 15);
  clock.setTimeout(() => fired.push('c@20'), 20);
  clock.clearTimeout(cleared);
  assert.equal(clock.nextTimerAtMs(), 1010);
  clock.advance(9);
  assert.deepEqual(fired, []);
  clock.advance(11);
  assert.deepEqual(fired, ['a@10', 'b@20', 'c@20']);
  assert.equal(clock.now(), 1020);
  // advanceAsync lets promise chains between timers schedule further timers within the same advance.
  const chained: number[] = [];
  clock.setTimeout(() => void Promise.resolve().then(() => clock.setTimeout(() => chained.push(clock.now()), 5)), 5);
  await clock.advanceAsync(10);
  assert.deepEqual(chained, [1030]);
  assert.equal(clock.pendingTimers, 0);
});
