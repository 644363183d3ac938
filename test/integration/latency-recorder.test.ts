import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { bucketIndexOf, histogramKey, laneStatsKey, minuteOf } from '../../contract/index.js';
import { LatencyRecorder } from '../../workers/index.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';

describe('LatencyRecorder', () => {
  const prefix = testPrefix();
  // No offline queue: with Redis away a command fails at once instead of waiting (what the second test needs).
  const redis = new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  before(() => redis.connect());
  after(async () => {
    redis.disconnect();
    await cleanupPrefix(prefix);
  });

  test('adds job timings and counters to the per-minute hashes of their minute, in one flush', async () => {
    let nowMs = Date.UTC(2026, 10, 27, 10, 0, 30);
    const recorder = new LatencyRecorder(redis, prefix, () => nowMs);
    recorder.observeJob('flash', { queueWaitMs: 4, batchWaitMs: 60, inferenceMs: 310, postProcessMs: 12, uploadMs: 1, endToEndMs: 390 });
    recorder.observeJob('flash', { queueWaitMs: 4, endToEndMs: 2600 });
    recorder.count('flash', 'batches');
    recorder.count('flash', 'batchItems', 2);
    nowMs += 60_000;
    recorder.observeJob('large', { endToEndMs: 5000 });
    recorder.count('large', 'failed');
    await recorder.flush();

    const minute = minuteOf(Date.UTC(2026, 10, 27, 10, 0, 30));
    const endToEnd = await redis.hgetall(histogramKey(prefix, 'flash', 'endToEnd', minute));
    assert.deepEqual(endToEnd, { [bucketIndexOf(390)]: '1', [bucketIndexOf(2600)]: '1' });
    assert.deepEqual(await redis.hgetall(histogramKey(prefix, 'flash', 'queueWait', minute)), { [bucketIndexOf(4)]: '2' });
    assert.deepEqual(await redis.hgetall(histogramKey(prefix, 'flash', 'inference', minute)), { [bucketIndexOf(310)]: '1' });
    assert.deepEqual(await redis.hgetall(laneStatsKey(prefix, 'flash', minute)), { completed: '2', batches: '1', batchItems: '2' });
    assert.deepEqual(await redis.hgetall(laneStatsKey(prefix, 'large', minute + 1)), { completed: '1', failed: '1' });
    assert.deepEqual(await redis.hgetall(histogramKey(prefix, 'large', 'endToEnd', minute + 1)), { [bucketIndexOf(5000)]: '1' });
    assert.ok((await redis.ttl(laneStatsKey(prefix, 'flash', minute))) > 0, 'keys expire');
  });

  test('a command Redis refuses keeps its counts; the rest of the flush is applied once', async () => {
    const nowMs = Date.UTC(2026, 10, 27, 12, 0, 0);
    const minute = minuteOf(nowMs);
    const statsKey = laneStatsKey(prefix, 'typography', minute);
    await redis.set(statsKey, 'not a hash'); // HINCRBY on it fails with WRONGTYPE; the histogram commands do not
    const recorder = new LatencyRecorder(redis, prefix, () => nowMs);
    recorder.observeJob('typography', { endToEndMs: 900 });
    await assert.rejects(() => recorder.flush(), /WRONGTYPE/);
    const histogram = histogramKey(prefix, 'typography', 'endToEnd', minute);
    assert.deepEqual(await redis.hgetall(histogram), { [bucketIndexOf(900)]: '1' });
    await redis.del(statsKey);
    await recorder.flush();
    assert.deepEqual(await redis.hgetall(histogram), { [bucketIndexOf(900)]: '1' }, 'not counted twice');
    assert.deepEqual(await redis.hgetall(statsKey), { completed: '1' }, 'the refused count went out with the next flush');
    assert.ok((await redis.ttl(statsKey)) > 0, 'and its key got its TTL');
  });

  test('a flush that fails keeps its counts for the next one, and counts nothing twice', async () => {
    const nowMs = Date.UTC(2026, 10, 27, 11, 0, 0);
    const recorder = new LatencyRecorder(redis, prefix, () => nowMs);
    recorder.observeJob('upscale', { endToEndMs: 120 });
    const ended = new Promise((resolve) => redis.once('end', resolve));
    redis.disconnect();
    await ended;
    await assert.rejects(() => recorder.flush());
    recorder.observeJob('upscale', { endToEndMs: 120 });
    await redis.connect();
    await recorder.flush();
    const minute = minuteOf(nowMs);
    assert.deepEqual(await redis.hgetall(histogramKey(prefix, 'upscale', 'endToEnd', minute)), { [bucketIndexOf(120)]: '2' });
    assert.deepEqual(await redis.hgetall(laneStatsKey(prefix, 'upscale', minute)), { completed: '2' });
  });
});
