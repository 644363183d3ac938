import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveBatchSize, DEFAULT_ADAPTIVE_OPTIONS, FakeClock, MicroBatcher } from '../../batching/index.js';
import type { Batch, BatcherOptions, ItemOutcome } from '../../batching/index.js';

const MB = 1_000_000;

function countChanges(controller: AdaptiveBatchSize, backlogs: number[]): number {
  let changes = 0;
  for (const backlog of backlogs) {
    const before = controller.target;
    controller.observeBacklog(backlog);
    if (controller.target !== before) changes++;
  }
  return changes;
}

test('adaptive target: deeper backlog gives fuller batches, a light one smaller', () => {
  const controller = new AdaptiveBatchSize(8, 1000, DEFAULT_ADAPTIVE_OPTIONS);
  assert.equal(controller.target, 8, 'starts at the max');
  for (let i = 0; i < 20; i++) controller.observeBacklog(1);
  assert.equal(controller.target, 1);
  for (let i = 0; i < 20; i++) controller.observeBacklog(3);
  assert.equal(controller.target, 3);
  for (let i = 0; i < 20; i++) controller.observeBacklog(500);
  assert.equal(controller.target, 8, 'capped at maxBatchSize');
});

test('adaptive target: latency nearing the SLO shrinks it, even under deep backlog', () => {
  const controller = new AdaptiveBatchSize(8, 1000, DEFAULT_ADAPTIVE_OPTIONS);
  for (let i = 0; i < 10; i++) controller.observeLatency(600);
  for (let i = 0; i < 20; i++) controller.observeBacklog(100);
  assert.equal(controller.target, 8, 'under 70 % of the SLO: no shrink');
  for (let i = 0; i < 10; i++) controller.observeLatency(900);
  for (let i = 0; i < 20; i++) controller.observeBacklog(100);
  // Latency EWMA ≈ 891 ms: f = (1000 - 891) / 300 ≈ 0.36, raw ≈ 1 + 7 × 0.36 ≈ 3.5.
  assert.ok(controller.target >= 3 && controller.target <= 4, `target ${controller.target}`);
  for (let i = 0; i < 10; i++) controller.observeLatency(1200);
  for (let i = 0; i < 20; i++) controller.observeBacklog(100);
  assert.equal(controller.target, 1, 'at or past the SLO: one item per batch');
});

test('adaptive target: smoothing and hysteresis stop it flipping on a noisy signal', () => {
  const noisy = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? 2 : 3));
  const smoothed = new AdaptiveBatchSize(4, 1000, DEFAULT_ADAPTIVE_OPTIONS);
  assert.ok(countChanges(smoothed, noisy) <= 2, 'settles and stays');
  const raw = new AdaptiveBatchSize(4, 1000, { ...DEFAULT_ADAPTIVE_OPTIONS, smoothing: 1, hysteresis: 0 });
  assert.ok(countChanges(raw, noisy) >= 50, 'without smoothing the same signal flips it every time');
});

test('adaptive target in the batcher: sparse arrivals stop waiting for a full batch; a burst fills batches', async () => {
  const clock = new FakeClock();
  const sizes: number[] = [];
  const waits: number[] = [];
  const batcher = new MicroBatcher<number, number>({
    clock,
    budgetBytes: 1000 * MB,
    models: { m: { weightBytes: 0, activationBytesPerMegapixel: MB } },
    lanes: { flash: { maxBatchSize: 4, maxLatencyMs: 80 } },
    flushWhenIdle: false,
    maxBatchesInFlight: 1,
    run: async (batch) => {
      sizes.push(batch.payloads.length);
      return batch.payloads.map((submittedMs) => {
        waits.push(clock.now() - submittedMs);
        return { ok: true, value: 0 };
      });
    },
  });
  const submit = () => batcher.submit({ lane: 'flash', key: 'k', model: 'm', widthPx: 512, heightPx: 512, payload: clock.now() });
  // One item every 50 ms: a fixed 4/80 batcher would wait 80 ms for pairs forever.
  for (let i = 0; i < 40; i++) {
    void submit();
    await clock.advanceAsync(50);
  }
  assert.equal(sizes[0], 2, 'first batch: the timer fired with two items');
  assert.equal(batcher.stats().lanes.flash!.targetBatchSize, 2);
  const lateWaits = waits.slice(-10);
  assert.ok(Math.max(...lateWaits) <= 50, `late waits ${lateWaits.join(',')} should be <= 50 ms`);
  const before = sizes.length;
  const burst = Array.from({ length: 40 }, submit);
  await clock.advanceAsync(0);
  await Promise.all(burst);
  const burstSizes = sizes.slice(before);
  assert.ok(burstSizes.every((s, i) => i === 0 || s >= burstSizes[i - 1]!), `burst batches grow: ${burstSizes.join(',')}`);
  assert.ok(burstSizes.filter((s) => s === 4).length >= 4, `burst batches: ${burstSizes.join(',')}`);
  assert.equal(batcher.stats().lanes.flash!.targetBatchSize, 4);
});

async function sizesUnderDeepBacklog(sloMs: number): Promise<number[]> {
  const clock = new FakeClock();
  const sizes: number[] = [];
  const batcher = new MicroBatcher<number, number>({
    clock,
    budgetBytes: 1000 * MB,
    models: { m: { weightBytes: 0, activationBytesPerMegapixel: MB } },
    lanes: { flash: { maxBatchSize: 4, maxLatencyMs: 80, sloMs } },
    maxBatchesInFlight: 1,
    run: (batch) => {
      sizes.push(batch.payloads.length);
      // 100 ms per item: a batch of 4 takes 400 ms, one of 1 takes 100 ms.
      return new Promise((resolve) => clock.setTimeout(() => resolve(batch.payloads.map(() => ({ ok: true, value: 0 }))), 100 * batch.payloads.length));
    },
  });
  batcher.setBacklog('flash', 50);
  const all: Promise<number>[] = [];
  for (let round = 0; round < 40; round++) {
    while (batcher.wantedItems('flash') > 0) all.push(batcher.submit({ lane: 'flash', key: 'k', model: 'm', widthPx: 512, heightPx: 512, payload: 0 }).catch(() => 0));
    await clock.advanceAsync(100);
  }
  const closed = batcher.close();
  await clock.runAllAsync();
  await Promise.allSettled([closed, ...all]);
  return sizes;
}

test('adaptive target in the batcher: batch latency near the SLO makes batches smaller', async () => {
  const loose = await sizesUnderDeepBacklog(100_000);
  assert.ok(loose.every((s) => s === 4), `loose SLO: ${loose.join(',')}`);
  const tight = await sizesUnderDeepBacklog(300);
  assert.equal(tight[0], 4, 'starts full under deep backlog');
  const late = tight.slice(-6);
  assert.ok(late.every((s) => s <= 2), `tight SLO (300 ms vs 400 ms for 4 items): ${tight.join(',')}`);
});

interface Saturation {
  gpuMs: Record<string, number>;
  items: Record<string, number>;
}

/**
 * Keeps every lane topped up to what it wants (`wantedItems`) for `durationMs` of fake time, re-checked after
 * each batcher event, as a lane consumer sets its concurrency.
 */
async function saturate(options: BatcherOptions<string, string>, itemFor: Record<string, { model: string; side: number }>, durationMs: number): Promise<Saturation> {
  const clock = options.clock as FakeClock;
  const pending: Promise<unknown>[] = [];
  let running = true;
  const topUp = (): void => {
    for (const [lane, { model, side }] of Object.entries(itemFor)) {
      while (running && batcher.wantedItems(lane) > 0) pending.push(batcher.submit({ lane, key: 'k', model, widthPx: side, heightPx: side, payload: lane }).catch(() => {}));
    }
  };
  // Out of the batcher's own pump: the host reacts to an event after it, as the lane consumers do.
  const batcher: MicroBatcher<string, string> = new MicroBatcher<string, string>({ ...options, onEvent: () => queueMicrotask(topUp) });
  topUp();
  for (const lane of Object.keys(itemFor)) batcher.setBacklog(lane, 1000);
  await clock.advanceAsync(durationMs);
  running = false;
  const stats = batcher.stats();
  const closed = batcher.close();
  await clock.runAllAsync();
  await Promise.all([closed, ...pending]);
  const gpuMs: Record<string, number> = {};
  const items: Record<string, number> = {};
  for (const lane of Object.keys(itemFor)) {
    gpuMs[lane] = stats.lanes[lane]!.gpuMs;
    items[lane] = stats.lanes[lane]!.itemsStarted;
  }
  return { gpuMs, items };
}

function timedRun(clock: FakeClock, msFor: (batch: Batch<string>) => number) {
  return (batch: Batch<string>): Promise<ItemOutcome<string>[]> =>
    new Promise((resolve) => clock.setTimeout(() => resolve(batch.payloads.map((p) => ({ ok: true, value: p }))), msFor(batch)));
}

test('fairness: two saturated lanes share GPU time by weight', async () => {
  for (const [wa, wb] of [[1, 1], [3, 1]] as const) {
    const clock = new FakeClock();
    const result = await saturate(
      {
        clock,
        budgetBytes: 1000 * MB,
        models: { m: { weightBytes: 0, activationBytesPerMegapixel: MB } },
        lanes: { a: { maxBatchSize: 4, weight: wa }, b: { maxBatchSize: 4, weight: wb } },
        maxBatchesInFlight: 1,
        run: timedRun(clock, (batch) => (batch.lane === 'a' ? 40 : 100)),
      },
      { a: { model: 'm', side: 512 }, b: { model: 'm', side: 512 } },
      20_000,
    );
    const ratio = result.gpuMs.a! / result.gpuMs.b!;
    assert.ok(Math.abs(ratio - wa / wb) / (wa / wb) < 0.1, `weights ${wa}:${wb} gave GPU ms ${result.gpuMs.a}:${result.gpuMs.b}`);
  }
});

test('fairness: big batches that need most of the budget are not starved by small ones, nor starve them', async () => {
  const clock = new FakeClock();
  const result = await saturate(
    {
      clock,
      budgetBytes: 10_000 * MB,
      models: { small: { weightBytes: 1000 * MB, activationBytesPerMegapixel: 1000 * MB }, big: { weightBytes: 3000 * MB, activationBytesPerMegapixel: 5000 * MB } },
      lanes: { preview: { maxBatchSize: 4, maxLatencyMs: 80 }, export: { maxBatchSize: 1, maxLatencyMs: 500 } },
      run: timedRun(clock, (batch) => (batch.lane === 'preview' ? 100 + 20 * batch.payloads.length : 800)),
    },
    { preview: { model: 'small', side: 500 }, export: { model: 'big', side: 1000 } },
    30_000,
  );
  const share = result.gpuMs.export! / (result.gpuMs.export! + result.gpuMs.preview!);
  assert.ok(share > 0.35 && share < 0.65, `export share of GPU time ${share.toFixed(2)} (${JSON.stringify(result)})`);
});
