import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createProducer } from '../../producer/index.js';
import { raceEnqueues } from '../helpers/admission-race.js';
import { startTestIngress } from '../helpers/ingress.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';

const request = { prompt: 'a harbor at dusk', intent: 'export', account: { id: 'acct-bp', tier: 'pro' } };

describe('backpressure is exact across ingresses', () => {
  const prefixes: string[] = [];
  after(async () => {
    for (const prefix of prefixes) await cleanupPrefix(prefix);
  });

  test('two producers, 150 enqueues in flight each into a lane of 100: exactly 100 admitted', async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const producers = [0, 1].map(() => createProducer({ redis: REDIS_URL, prefix, maxWaiting: { large: 100 } }));
    try {
      const counts = await raceEnqueues(producers, request, 150);
      assert.deepEqual(counts, { accepted: 100, E_BACKPRESSURE: 200 });
      const held = await producers[0]!.laneQueue('large').getJobCounts('waiting', 'prioritized');
      assert.equal((held.waiting ?? 0) + (held.prioritized ?? 0), 100);
      // A place frees as a job leaves the waiting state, and exactly one more gets in.
      const [oldest] = await producers[0]!.laneQueue('large').getJobs(['prioritized'], 0, 0);
      await oldest!.remove();
      assert.deepEqual(await raceEnqueues(producers, request, 5), { accepted: 1, E_BACKPRESSURE: 9 });
    } finally {
      await Promise.all(producers.map((p) => p.close()));
    }
  });

  test('over HTTP, two ingresses: 202 exactly up to the limit, then 429 with Retry-After', async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const ingresses = await Promise.all([0, 1].map(() => startTestIngress({ redis: REDIS_URL, prefix, maxWaiting: { large: 40 } })));
    try {
      const responses = await Promise.all(ingresses.flatMap((ingress) => Array.from({ length: 50 }, () => ingress.post('/generate', request))));
      const statuses = responses.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 202).length, 40);
      assert.equal(statuses.filter((s) => s === 429).length, 60);
      assert.ok(responses.filter((r) => r.status === 429).every((r) => Number(r.headers.get('retry-after')) >= 1));
    } finally {
      await Promise.all(ingresses.map((i) => i.close()));
    }
  });
});
