import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock, MicroBatcher } from '../../batching/index.js';
import type { Batch, ItemOutcome } from '../../batching/index.js';

/** 1 MP and 0.25 MP images: activation bytes per item are exact multiples of the declared figure. */
const SIDES = [1000, 500] as const;
const LANES = ['flash', 'large', 'upscale'] as const;

interface Payload {
  id: number;
  lane: string;
  model: string;
  side: number;
  key: string;
}

const scenario = fc.record({
  budgetBytes: fc.integer({ min: 400, max: 3000 }),
  models: fc.array(
    fc.record({
      weightBytes: fc.integer({ min: 0, max: 800 }),
      activationBytesPerMegapixel: fc.integer({ min: 20, max: 600 }),
      fixedMs: fc.integer({ min: 1, max: 100 }),
      perItemMs: fc.integer({ min: 0, max: 40 }),
      /** Real activation use relative to the declared figure (only used by the OOM property). */
      realFactor: fc.double({ min: 1, max: 2.5, noNaN: true }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  lanes: fc.array(
    fc.record({
      maxBatchSize: fc.integer({ min: 1, max: 6 }),
      maxLatencyMs: fc.integer({ min: 0, max: 200 }),
      weight: fc.integer({ min: 1, max: 4 }),
      sloMs: fc.integer({ min: 50, max: 3000 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  arrivals: fc.array(
    fc.record({
      gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 120 })),
      lane: fc.nat(),
      model: fc.nat(),
      side: fc.nat(),
      key: fc.integer({ min: 0, max: 1 }),
    }),
    { minLength: 1, maxLength: 50 },
  ),
  itemFailures: fc.array(fc.nat({ max: 49 }), { maxLength: 5 }),
  flushWhenIdle: fc.boolean(),
  adaptive: fc.boolean(),
  maxBatchesInFlight: fc.integer({ min: 1, max: 4 }),
  maxBypassMs: fc.integer({ min: 0, max: 1000 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

interface RunRecord {
  startMs: number;
  endMs: number;
  ids: number[];
  oom: boolean;
}

async function simulate(s: Scenario, injectOom: boolean) {
  const clock = new FakeClock();
  const modelNames = s.models.map((_, i) => `m${i}`);
  const laneNames = s.lanes.map((_, i) => LANES[i]!);
  const spec = (model: string) => s.models[Number(model.slice(1))]!;
  const failing = new Set(s.itemFailures);
  const violations: string[] = [];
  const runs: RunRecord[] = [];
  const loadedWeights = new Map<string, number>();
  let runningDeclared = 0;
  let runningReal = 0;
  const accounted = (): number => [...loadedWeights.values()].reduce((a, b) => a + b, 0) + runningDeclared;

  const batcher = new MicroBatcher<Payload, number>({
    clock,
    budgetBytes: s.budgetBytes,
    models: Object.fromEntries(modelNames.map((m) => [m, { weightBytes: spec(m).weightBytes, activationBytesPerMegapixel: spec(m).activationBytesPerMegapixel }])),
    lanes: Object.fromEntries(laneNames.map((l, i) => [l, s.lanes[i]!])),
    flushWhenIdle: s.flushWhenIdle,
    adaptive: { enabled: s.adaptive },
    maxBatchesInFlight: s.maxBatchesInFlight,
    maxBypassMs: s.maxBypassMs,
    load: async (model) => {
      if (loadedWeights.has(model)) violations.push(`${model} loaded twice`);
      loadedWeights.set(model, spec(model).weightBytes);
      if (accounted() > s.budgetBytes) violations.push(`load of ${model} exceeds the budget`);
    },
    unload: async (model) => {
      if (!loadedWeights.delete(model)) violations.push(`${model} unloaded while not loaded`);
    },
    run: (batch: Batch<Payload>): Promise<ItemOutcome<number>[]> => {
      const { model, widthPx, heightPx, key, lane, payloads } = batch;
      for (const p of payloads) {
        if (p.model !== model || p.side !== widthPx || p.side !== heightPx || p.key !== key || p.lane !== lane) violations.push(`item ${p.id} in a batch of another key`);
      }
      if (!loadedWeights.has(model)) violations.push(`${model} runs without being loaded`);
      const declaredPerItem = spec(model).activationBytesPerMegapixel * (widthPx * heightPx) / 1e6;
      if (batch.activationBytes < declaredPerItem * payloads.length) violations.push('reserved less than the declared activations');
      const realNeed = declaredPerItem * spec(model).realFactor * payloads.length;
      const record: RunRecord = { startMs: clock.now(), endMs: clock.now(), ids: payloads.map((p) => p.id), oom: false };
      runs.push(record);
      if (injectOom && [...loadedWeights.values()].reduce((a, b) => a + b, 0) + runningReal + realNeed > s.budgetBytes) {
        record.oom = true;
        return Promise.reject(Object.assign(new Error('CUDA out of memory'), { code: 'E_OOM' }));
      }
      runningDeclared += batch.activationBytes;
      runningReal += realNeed;
      if (accounted() > s.budgetBytes) violations.push(`budget exceeded: ${accounted()} > ${s.budgetBytes}`);
      return new Promise((resolve) => {
        clock.setTimeout(() => {
          runningDeclared -= batch.activationBytes;
          runningReal -= realNeed;
          record.endMs = clock.now();
          resolve(payloads.map((p) => (failing.has(p.id) ? { ok: false, error: new Error(`item ${p.id} failed`) } : { ok: true, value: p.id * 10 })));
        }, spec(model).fixedMs + spec(model).perItemMs * payloads.length);
      });
    },
  });

  const submitted: Array<{ payload: Payload; submittedMs: number; settled: number; outcome?: PromiseSettledResult<number> }> = [];
  const promises: Promise<void>[] = [];
  for (const [id, arrival] of s.arrivals.entries()) {
    await clock.advanceAsync(arrival.gapMs);
    const lane = laneNames[arrival.lane % laneNames.length]!;
    const model = modelNames[arrival.model % modelNames.length]!;
    const side = SIDES[arrival.side % SIDES.length]!;
    const payload: Payload = { id, lane, model, side, key: `k${arrival.key}` };
    const entry: (typeof submitted)[number] = { payload, submittedMs: clock.now(), settled: 0 };
    submitted.push(entry);
    promises.push(
      batcher.submit({ lane, key: payload.key, model, widthPx: side, heightPx: side, payload }).then(
        (value) => void ((entry.settled += 1), (entry.outcome = { status: 'fulfilled', value })),
        (reason: unknown) => void ((entry.settled += 1), (entry.outcome = { status: 'rejected', reason })),
      ),
    );
  }
  await clock.runAllAsync();
  await Promise.all(promises);
  return { submitted, runs, violations, batcher, spec, laneConfig: (lane: string) => s.lanes[laneNames.indexOf(lane as never)]! };
}

const fitsAlone = (s: Scenario, m: { weightBytes: number; activationBytesPerMegapixel: number }, side: number) =>
  m.weightBytes + Math.ceil((m.activationBytesPerMegapixel * side * side) / 1e6) <= s.budgetBytes;

test('property: budget kept, keys never mixed, every item settled once with its own outcome, waits bounded', async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const { submitted, runs, violations, spec, laneConfig } = await simulate(s, false);
      assert.deepEqual(violations, []);
      const runsOf = new Map<number, RunRecord[]>();
      for (const run of runs) for (const id of run.ids) runsOf.set(id, [...(runsOf.get(id) ?? []), run]);
      for (const { payload, submittedMs, settled, outcome } of submitted) {
        assert.equal(settled, 1, `item ${payload.id} settled ${settled} times`);
        const ran = runsOf.get(payload.id) ?? [];
        if (!fitsAlone(s, spec(payload.model), payload.side)) {
          assert.equal(outcome?.status, 'rejected');
          assert.equal((outcome as PromiseRejectedResult).reason.code, 'E_VRAM_BUDGET');
          assert.equal(ran.length, 0);
          continue;
        }
        assert.equal(ran.length, 1, `item ${payload.id} ran ${ran.length} times`);
        if (s.itemFailures.includes(payload.id)) {
          assert.equal(outcome?.status, 'rejected');
          assert.equal((outcome as PromiseRejectedResult).reason.message, `item ${payload.id} failed`);
        } else {
          assert.deepEqual(outcome, { status: 'fulfilled', value: payload.id * 10 });
        }
        // Waited at most maxLatencyMs plus the run time of the batches the GPU ran meanwhile.
        const startMs = ran[0]!.startMs;
        const dueMs = submittedMs + laneConfig(payload.lane).maxLatencyMs;
        if (startMs > dueMs) {
          const ahead = runs.filter((r) => r !== ran[0] && r.startMs < startMs && r.endMs > dueMs).reduce((sum, r) => sum + (r.endMs - r.startMs), 0);
          assert.ok(startMs - dueMs <= ahead, `item ${payload.id} started ${startMs - dueMs} ms past due with ${ahead} ms of work ahead`);
        }
      }
    }),
    { numRuns: 120 },
  );
});

test('property: with real activations above the declared ones, out-of-memory errors are recovered and never lose an item', async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const { submitted, runs, violations, batcher } = await simulate(s, true);
      assert.deepEqual(violations, []);
      for (const { payload, settled, outcome } of submitted) {
        assert.equal(settled, 1);
        const okRuns = runs.filter((r) => !r.oom && r.ids.includes(payload.id));
        assert.ok(okRuns.length <= 1, `item ${payload.id} completed twice`);
        if (outcome?.status === 'fulfilled') {
          assert.equal(outcome.value, payload.id * 10);
        } else {
          const code = (outcome?.reason as { code?: string }).code;
          const ownFailure = (outcome?.reason as Error).message === `item ${payload.id} failed`;
          assert.ok(ownFailure || code === 'E_OOM' || code === 'E_VRAM_BUDGET', `item ${payload.id}: ${String(outcome?.reason)}`);
        }
      }
      assert.equal(batcher.stats().oom, runs.filter((r) => r.oom).length);
      assert.equal(batcher.stats().batchesInFlight, 0);
    }),
    { numRuns: 80 },
  );
});
