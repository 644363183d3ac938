import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { bucketRangeOf, minuteOf, modelStatsKey } from '../../contract/index.js';
import { figuresOf, readModelCounts, subtractModelCounts } from '../../router/index.js';
import { LatencyRecorder } from '../../workers/index.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';

const policy = { version: 3, rule: 'previews' };

describe('per-model series: written by every worker, merged fleet-wide in Redis', () => {
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  before(() => redis.ping());
  after(async () => {
    redis.disconnect();
    await cleanupPrefix(prefix);
  });

  test('two workers count one model; their latencies, failures by code, cost and OCR checks add up', async () => {
    let nowMs = Date.UTC(2026, 11, 2, 1, 0, 50);
    const start = nowMs;
    const [a, b] = [new LatencyRecorder(redis, prefix, () => nowMs), new LatencyRecorder(redis, prefix, () => nowMs)];
    const data = { lane: 'typography' as const, model: 'typography-v2', policy };
    for (let i = 0; i < 19; i++) a.observeModelJob(data, { timings: { endToEndMs: 400, inferenceMs: 250 }, costUnits: 4, text: { expected: 'SALE', read: i < 18 ? 'SALE' : 'SAIE', cer: i < 18 ? 0 : 0.25, passed: i < 18, attempts: 1 } });
    nowMs += 20_000; // the next minute: the window spans two
    for (let i = 0; i < 2; i++) b.observeModelJob(data, { timings: { endToEndMs: 3000, inferenceMs: 2500 }, costUnits: 4, text: { checked: false, reason: 'no text' } });
    b.countModelFailure(data, 'E_INFERENCE');
    b.countModelFailure(data, 'E_MODEL_SHAPE');
    // The baseline model on the same lane is its own series; an experiment job counts in none.
    b.observeModelJob({ ...data, model: 'typography-v1' }, { timings: { endToEndMs: 100 }, costUnits: 4 });
    b.observeModelJob({ ...data, policy: { version: 0, rule: 'experiment:x1' } }, { timings: { endToEndMs: 100 }, costUnits: 4 });
    await Promise.all([a.flush(), b.flush()]);

    const counts = await readModelCounts(redis, prefix, 'typography', 'typography-v2', start, nowMs);
    const figures = figuresOf(counts);
    assert.equal(figures.samples, 23);
    assert.equal(figures.completed, 21);
    assert.deepEqual(figures.failedByCode, { E_INFERENCE: 1, E_MODEL_SHAPE: 1 });
    assert.equal(figures.errorRate, 2 / 23);
    assert.equal(figures.costPerJob, 4);
    assert.equal(figures.textChecked, 19);
    assert.equal(figures.ocrPassRate, 18 / 19);
    const [lo, hi] = bucketRangeOf(400);
    assert.ok(figures.endToEndP50Ms! >= lo && figures.endToEndP50Ms! <= hi, `p50 ${figures.endToEndP50Ms} within the bucket of 400 ms`);
    assert.ok(figures.endToEndP95Ms! > 400, 'the slow job lifts the p95');
    assert.equal(figuresOf(await readModelCounts(redis, prefix, 'typography', 'typography-v1', start, nowMs)).samples, 1, 'the baseline counted apart, the experiment job nowhere');
    assert.ok((await redis.ttl(modelStatsKey(prefix, 'typography', 'typography-v2', minuteOf(start)))) > 0, 'keys expire');

    // A window between two readings is their difference, to the instant.
    a.countModelFailure(data, 'E_INFERENCE');
    await a.flush();
    const later = await readModelCounts(redis, prefix, 'typography', 'typography-v2', start, nowMs);
    const between = figuresOf(subtractModelCounts(later, counts));
    assert.equal(between.samples, 1);
    assert.deepEqual(between.failedByCode, { E_INFERENCE: 1 });
    assert.equal(between.endToEndP95Ms, null);
  });
});
