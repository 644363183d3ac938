import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, MicroBatcher, flushMicrotasks } from '../../batching/index.js';
import type { Batch, BatcherOptions, ItemOutcome } from '../../batching/index.js';

const MiB = 1024 * 1024;

interface Ran {
  batch: Batch<number>;
  startMs: number;
}

/** A GPU that takes `msFor(batch)` of fake time and answers each payload p with p * 10. */
function fakeGpu(clock: FakeClock, msFor: (batch: Batch<number>) => number = (b) => 10 + 5 * b.payloads.length) {
  const ran: Ran[] = [];
  let running = 0;
  let maxRunning = 0;
  const run = (batch: Batch<number>): Promise<ItemOutcome<number>[]> => {
    ran.push({ batch, startMs: clock.now() });
    running++;
    maxRunning = Math.max(maxRunning, running);
    return new Promise((resolve) => {
      clock.setTimeout(() => {
        running--;
        resolve(batch.payloads.map((p) => ({ ok: true, value: p * 10 })));
      }, msFor(batch));
    });
  };
  return { ran, run, get maxRunning() { return maxRunning; } };
}

function makeBatcher(clock: FakeClock, run: BatcherOptions<number, number>['run'], extra: Partial<BatcherOptions<number, number>> = {}) {
  return new MicroBatcher<number, number>({
    run,
    clock,
    budgetBytes: 1024 * MiB,
    models: { m: { weightBytes: 100 * MiB, activationBytesPerMegapixel: 10 * MiB } },
    lanes: { flash: { maxBatchSize: 4, maxLatencyMs: 80 }, large: { maxBatchSize: 2, maxLatencyMs: 200 } },
    ...extra,
  });
}

const item = (payload: number, key = 's4', lane = 'flash') => ({ lane, key, model: 'm', widthPx: 512, heightPx: 512, payload });

test('a partial group waits maxLatencyMs, then flushes (lone-item rule off)', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock);
  const batcher = makeBatcher(clock, gpu.run, { flushWhenIdle: false });
  const results = [1, 2, 3].map((p) => batcher.submit(item(p)));
  await clock.advanceAsync(79);
  assert.equal(gpu.ran.length, 0, 'nothing runs before the oldest item has waited 80 ms');
  await clock.advanceAsync(1);
  assert.equal(gpu.ran.length, 1);
  assert.deepEqual(gpu.ran[0]!.batch.payloads, [1, 2, 3]);
  assert.equal(gpu.ran[0]!.startMs, 80);
  await clock.advanceAsync(100);
  assert.deepEqual(await Promise.all(results), [10, 20, 30]);
});

test('a full group flushes at once, and a batch never mixes keys', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock);
  const batcher = makeBatcher(clock, gpu.run, { flushWhenIdle: false });
  const results = [1, 2, 3, 4, 5].map((p) => batcher.submit(item(p, p === 3 ? 's8' : 's4')));
  await clock.advanceAsync(0);
  assert.equal(gpu.ran.length, 1, 'the s4 group reached 4 items');
  assert.deepEqual(gpu.ran[0]!.batch.payloads, [1, 2, 4, 5]);
  assert.equal(gpu.ran[0]!.batch.key, 's4');
  await clock.advanceAsync(80);
  assert.equal(gpu.ran.length, 2);
  assert.deepEqual(gpu.ran[1]!.batch.payloads, [3]);
  assert.equal(gpu.ran[1]!.batch.key, 's8');
  await clock.advanceAsync(100);
  assert.deepEqual(await Promise.all(results), [10, 20, 30, 40, 50]);
});

test('lone-item rule: an item with nothing in flight and no backlog starts at once; otherwise it waits', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, () => 200);
  const batcher = makeBatcher(clock, gpu.run);
  const first = batcher.submit(item(1));
  await clock.advanceAsync(0);
  assert.equal(gpu.ran.length, 1, 'idle GPU, empty backlog: starts at once');
  assert.equal(gpu.ran[0]!.startMs, 0);
  // Something is in flight now: the next lone item waits for batch-mates.
  void batcher.submit(item(2));
  await clock.advanceAsync(79);
  assert.equal(gpu.ran.length, 1);
  await clock.advanceAsync(1);
  assert.equal(gpu.ran.length, 2);
  assert.equal(gpu.ran[1]!.startMs, 80, 'waited its full maxLatencyMs since the GPU was busy');
  await clock.advanceAsync(300);
  assert.equal(await first, 10);
  assert.equal(batcher.stats().batchesInFlight, 0);
  // The GPU is idle again, but a known upstream backlog turns the rule off.
  batcher.setBacklog('flash', 3);
  const t0 = clock.now();
  void batcher.submit(item(3));
  await clock.advanceAsync(79);
  assert.equal(gpu.ran.length, 2);
  await clock.advanceAsync(1);
  assert.equal(gpu.ran.length, 3);
  assert.equal(gpu.ran[2]!.startMs - t0, 80);
});

test('lone-item rule: a waiting group goes as soon as the GPU turns idle', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, () => 30);
  const batcher = makeBatcher(clock, gpu.run);
  void batcher.submit(item(1));
  await clock.advanceAsync(10);
  void batcher.submit(item(2));
  await clock.advanceAsync(30);
  assert.equal(gpu.ran.length, 2);
  assert.equal(gpu.ran[1]!.startMs, 30, 'started when the first batch ended, not at 10 + 80');
});

test('items submitted in the same tick are grouped before the lone-item rule applies', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock);
  const batcher = makeBatcher(clock, gpu.run);
  void batcher.submit(item(1));
  void batcher.submit(item(2));
  await clock.advanceAsync(0);
  assert.equal(gpu.ran.length, 1);
  assert.deepEqual(gpu.ran[0]!.batch.payloads, [1, 2]);
});

test('a per-item failure does not fail its batch-mates; a rejected run() fails the whole batch', async () => {
  const clock = new FakeClock();
  let calls = 0;
  const batcher = makeBatcher(clock, async (batch) => {
    calls++;
    if (calls === 2) throw new Error('session crashed');
    return batch.payloads.map((p) => (p === 2 ? { ok: false, error: new Error(`bad ${p}`) } : { ok: true, value: p }));
  }, { flushWhenIdle: false });
  const settled = Promise.allSettled([1, 2, 3, 4].map((p) => batcher.submit(item(p))));
  await clock.advanceAsync(0);
  const outcomes = await settled;
  assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  assert.equal((outcomes[1] as PromiseRejectedResult).reason.message, 'bad 2');
  const second = Promise.allSettled([5, 6].map((p) => batcher.submit(item(p))));
  await clock.advanceAsync(80);
  const failed = await second;
  assert.ok(failed.every((o) => o.status === 'rejected' && (o.reason as Error).message === 'session crashed'));
  assert.equal(batcher.stats().itemsRejected, 3);
  assert.equal(batcher.stats().itemsResolved, 3);
});

test('run() returning the wrong number of outcomes fails those items with a TypeError', async () => {
  const clock = new FakeClock();
  const batcher = makeBatcher(clock, async () => [{ ok: true, value: 1 }]);
  const results = Promise.allSettled([batcher.submit(item(1)), batcher.submit(item(2))]);
  await clock.advanceAsync(0);
  for (const r of await results) assert.ok(r.status === 'rejected' && r.reason instanceof TypeError);
});

test("wantedItems: a lane wants a batch's worth beyond what waits, and nothing more while that batch waits for the GPU", async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, () => 100);
  const batcher = makeBatcher(clock, gpu.run, { flushWhenIdle: false, maxBatchesInFlight: 1 });
  assert.equal(batcher.wantedItems('flash'), 4);
  const results = [1, 2].map((p) => batcher.submit(item(p)));
  assert.equal(batcher.wantedItems('flash'), 2, 'two wait for batch-mates');
  results.push(...[3, 4].map((p) => batcher.submit(item(p))));
  await clock.advanceAsync(0);
  assert.equal(gpu.ran.length, 1, 'the four form a batch and start');
  assert.equal(batcher.wantedItems('flash'), 4, 'what runs does not count against the prefetch');
  assert.equal(batcher.heldItems('flash'), 4);
  // The GPU is busy (maxBatchesInFlight 1): a second batch waits and the lane wants nothing more.
  for (const p of [5, 6, 7, 8]) void batcher.submit(item(p));
  await clock.advanceAsync(99);
  assert.equal(batcher.wantedItems('flash'), 0, 'a busy worker does not hoard jobs');
  await clock.advanceAsync(1);
  assert.equal(gpu.ran.length, 2, 'the second batch started as the first ended');
  assert.equal(batcher.wantedItems('flash'), 4);
  assert.equal(gpu.maxRunning, 1);
  assert.deepEqual(await Promise.all(results), [10, 20, 30, 40]);
  void batcher.close();
  assert.equal(batcher.wantedItems('flash'), 0, 'a stopping batcher wants nothing');
});

test('prefetchBatches 0 means the same on a lane and on the batcher: a batch only while the lane could start one', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, () => 100);
  const batcher = makeBatcher(clock, gpu.run, {
    flushWhenIdle: false,
    prefetchBatches: 2,
    lanes: { flash: { maxBatchSize: 4, maxLatencyMs: 80 }, large: { maxBatchSize: 2, maxLatencyMs: 200, maxBatchesInFlight: 1, prefetchBatches: 0 } },
  });
  batcher.setBacklog('large', 5);
  assert.equal(batcher.wantedItems('flash'), 8, 'the batcher default: two batches of four');
  assert.equal(batcher.wantedItems('large'), 2, 'idle: one batch');
  const first = [1, 2].map((p) => batcher.submit(item(p, 's4', 'large')));
  await clock.advanceAsync(0);
  assert.equal(gpu.ran.length, 1, 'a full batch starts at once');
  assert.equal(batcher.wantedItems('large'), 0, 'running at its cap of one batch: nothing fetched ahead');
  await clock.advanceAsync(99);
  assert.equal(batcher.wantedItems('large'), 0);
  await clock.advanceAsync(1);
  assert.deepEqual(await Promise.all(first), [10, 20]);
  assert.equal(batcher.wantedItems('large'), 2, 'the batch ended: room for the next one');
  assert.throws(() => makeBatcher(clock, gpu.run, { lanes: { flash: { prefetchBatches: -1 } } }), /lanes\.flash\.prefetchBatches must be an integer >= 0, got -1/);

  const everyLane = makeBatcher(clock, gpu.run, { flushWhenIdle: false, prefetchBatches: 0, lanes: { flash: { maxBatchSize: 4, maxBatchesInFlight: 1 } } });
  assert.equal(everyLane.wantedItems('flash'), 4, 'batcher-wide 0: one batch while the lane could start one');
  const held = [1, 2, 3, 4].map((p) => everyLane.submit(item(p)));
  await clock.advanceAsync(0);
  assert.equal(everyLane.wantedItems('flash'), 0, 'and none while it is at its cap');
  await clock.advanceAsync(100);
  await Promise.all(held);
});

test('drain runs held items without waiting for the timer; submit is refused after', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, () => 30);
  const unloaded: string[] = [];
  const batcher = makeBatcher(clock, gpu.run, { flushWhenIdle: false, unload: async (m) => void unloaded.push(m) });
  const results = [1, 2].map((p) => batcher.submit(item(p)));
  await clock.advanceAsync(5);
  let stopped = false;
  const drained = batcher.drain().then(() => (stopped = true));
  assert.equal(batcher.state, 'draining');
  await assert.rejects(batcher.submit(item(9)), { code: 'E_SHUTDOWN' });
  await clock.advanceAsync(0);
  assert.equal(gpu.ran.length, 1);
  assert.equal(gpu.ran[0]!.startMs, 5, 'drain does not wait out maxLatencyMs');
  assert.equal(stopped, false);
  await clock.advanceAsync(30);
  await drained;
  assert.equal(batcher.state, 'stopped');
  assert.deepEqual(unloaded, ['m']);
  assert.deepEqual(await Promise.all(results), [10, 20]);
  assert.equal(batcher.drain(), batcher.drain(), 'drain is idempotent');
});

test('close rejects items not started with E_SHUTDOWN and waits for running batches', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, () => 50);
  const batcher = makeBatcher(clock, gpu.run, { flushWhenIdle: false });
  const running = [1, 2, 3, 4].map((p) => batcher.submit(item(p)));
  await clock.advanceAsync(0);
  const queued = batcher.submit(item(5));
  let stopped = false;
  const closed = batcher.close().then(() => (stopped = true));
  await assert.rejects(queued, { code: 'E_SHUTDOWN', retryable: true });
  await clock.advanceAsync(49);
  assert.equal(stopped, false, 'a running batch is not abandoned');
  await clock.advanceAsync(1);
  await closed;
  assert.deepEqual(await Promise.all(running), [10, 20, 30, 40]);
  assert.equal(batcher.state, 'stopped');
});

test('unknown lane or model and bad sizes are refused', async () => {
  const clock = new FakeClock();
  const batcher = makeBatcher(clock, fakeGpu(clock).run);
  await assert.rejects(batcher.submit(item(1, 's4', 'nope')), RangeError);
  await assert.rejects(batcher.submit({ ...item(1), model: 'other' }), /model other is not declared/);
  await assert.rejects(batcher.submit({ ...item(1), widthPx: 0 }), /widthPx must be an integer >= 1, got 0/);
  assert.throws(() => batcher.wantedItems('nope'), RangeError);
});

test('events report batch starts and ends', async () => {
  const clock = new FakeClock();
  const events: string[] = [];
  const batcher = makeBatcher(clock, fakeGpu(clock, () => 20).run, { onEvent: (e) => events.push(e.type) });
  void batcher.submit(item(1));
  await clock.advanceAsync(20);
  await flushMicrotasks();
  assert.deepEqual(events, ['batch-start', 'model-load', 'batch-end']);
});

test('lane maxBatchesInFlight 1: the next items wait for the running batch and start together, other lanes go on', async () => {
  const clock = new FakeClock();
  const gpu = fakeGpu(clock, (b) => (b.lane === 'large' ? 1000 : 10));
  const batcher = makeBatcher(clock, gpu.run, {
    lanes: { flash: { maxBatchSize: 4, maxLatencyMs: 80 }, large: { maxBatchSize: 2, maxLatencyMs: 0, maxBatchesInFlight: 1 } },
    adaptive: { enabled: false },
  });
  const first = batcher.submit(item(1, 's30', 'large'));
  await clock.advanceAsync(0);
  assert.equal(gpu.ran.length, 1, 'the lone export starts at once');
  const later = [2, 3].map((p) => batcher.submit(item(p, 's30', 'large')));
  const preview = batcher.submit(item(9, 's4', 'flash'));
  await clock.advanceAsync(500);
  assert.deepEqual(gpu.ran.map((r) => r.batch.lane), ['large', 'flash'], 'a second large batch does not start beside the first; flash does');
  assert.equal(batcher.heldItems('large'), 3, 'one running, two waiting for it');
  assert.equal(await preview, 90);
  await clock.advanceAsync(500);
  assert.equal(await first, 10);
  await clock.advanceAsync(0);
  assert.equal(gpu.ran.length, 3);
  assert.deepEqual(gpu.ran[2]!.batch.payloads, [2, 3], 'the two that waited run as one batch');
  assert.equal(gpu.ran[2]!.startMs, 1000);
  await clock.advanceAsync(1000);
  assert.deepEqual(await Promise.all(later), [20, 30]);
  assert.throws(() => makeBatcher(clock, gpu.run, { lanes: { large: { maxBatchesInFlight: 0 } } }), /lanes\.large\.maxBatchesInFlight must be an integer >= 1, got 0/);
});
