import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { BackpressureError, laneQueueName, laneQueuePrefix, NotFoundError, ValidationError, type JobData, type JobResult } from '../../contract/index.js';
import type { Producer } from '../../producer/index.js';
import { cleanupPrefix, countAllJobs, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { MALFORMED } from '../helpers/malformed-requests.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-7', tier: 'pro' as const };

describe('producer on real Redis', () => {
  const prefix = testPrefix();
  let producer: Producer;

  before(async () => {
    producer = await startTestProducer(prefix, { maxWaiting: { upscale: 2 } });
  });
  after(async () => {
    await producer.close();
    await cleanupPrefix(prefix);
  });

  test('enqueue routes, records the policy, applies lane defaults and tier priority', async () => {
    const receipt = await producer.enqueue({ prompt: 'logo, vector, bold text', account: { id: 'a1', tier: 'enterprise' } });
    assert.equal(receipt.lane, 'typography');
    assert.equal(receipt.model, 'typography-v1');
    assert.deepEqual(receipt.policy, { version: 1, rule: 'typography-words' });
    assert.match(receipt.id, /^typography\./);
    const view = await producer.getJob(receipt.id);
    assert.equal(view.state, 'waiting');
    assert.deepEqual((await producer.laneQueue('typography').getJob(receipt.id))?.data.size, { width: 1024, height: 1024 });
    assert.ok(Number.isInteger(view.request.seed));
    const job = await producer.laneQueue('typography').getJob(receipt.id);
    assert.equal(job?.opts.priority, 1);
  });

  test('the same idempotency key gives one job, also when sent concurrently', async () => {
    const request = { prompt: 'a calm lake', account, idempotencyKey: 'editor-req-42' };
    const receipts = await Promise.all(Array.from({ length: 10 }, () => producer.enqueue(request)));
    assert.equal(new Set(receipts.map((r) => r.id)).size, 1);
    assert.equal(receipts.filter((r) => !r.duplicate).length, 1);
    const again = await producer.enqueue(request);
    assert.equal(again.id, receipts[0]!.id);
    assert.equal(again.duplicate, true);
    const counts = await producer.laneQueue('flash').getJobCounts('waiting', 'prioritized');
    assert.equal((counts.waiting ?? 0) + (counts.prioritized ?? 0), 1);
    // Another account's identical key is another job.
    const other = await producer.enqueue({ ...request, account: { id: 'acct-8', tier: 'pro' } });
    assert.notEqual(other.id, again.id);
  });

  test('a lane over its depth refuses with E_BACKPRESSURE and a retry-after', async () => {
    const up = { prompt: 'upscale', intent: 'upscale', source: { key: 'renders/a.png' }, account };
    await producer.enqueue(up);
    await producer.enqueue(up);
    await assert.rejects(producer.enqueue(up), (error: unknown) => error instanceof BackpressureError && error.code === 'E_BACKPRESSURE' && error.retryAfterSeconds >= 1);
  });

  test('malformed requests are refused with their field and enqueue nothing', async () => {
    const before = await countAllJobs(['flash', 'large', 'typography', 'upscale'].map((l) => producer.laneQueue(l as 'flash')));
    for (const c of MALFORMED) {
      await assert.rejects(producer.enqueue(c.body), (e: unknown) => e instanceof ValidationError && e.field === c.field, c.name);
    }
    const afterCounts = await countAllJobs(['flash', 'large', 'typography', 'upscale'].map((l) => producer.laneQueue(l as 'flash')));
    assert.deepEqual(afterCounts, before);
  });

  test('getJob of an unknown id is E_NOT_FOUND', async () => {
    await assert.rejects(producer.getJob('flash.nope'), NotFoundError);
    await assert.rejects(producer.getJob('garbage'), NotFoundError);
  });

  test('waitForResult returns the completed job, the failed job with its code, or E_TIMEOUT', async () => {
    const lane = 'large';
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker<JobData, JobResult>(
      laneQueueName(lane),
      async (job) => {
        if (job.data.request.prompt.includes('fail')) throw new Error('[E_MODEL_LOAD] model large-v1 is missing');
        return {
          image: { url: `file:///tmp/${job.id}.png`, key: `${job.id}.png`, width: 64, height: 64, format: 'png', bytes: 1 },
          model: job.data.model,
          lane,
          seed: job.data.request.seed,
          timings: { endToEndMs: Date.now() - job.data.enqueuedAt },
        };
      },
      { connection, prefix: laneQueuePrefix(prefix, lane), autorun: true },
    );
    try {
      const ok = await producer.enqueue({ prompt: 'a harbor', intent: 'export', account });
      const done = await producer.waitForResult(ok.id, { timeoutMs: 10_000 });
      assert.equal(done.state, 'completed');
      assert.equal(done.result?.image.key, `${ok.id}.png`);

      const bad = await producer.enqueue({ prompt: 'please fail', intent: 'export', account });
      const failed = await producer.waitForResult(bad.id, { timeoutMs: 30_000 });
      assert.equal(failed.state, 'failed');
      assert.equal(failed.error?.code, 'E_MODEL_LOAD');
    } finally {
      await worker.close();
      connection.disconnect();
    }
    const stuck = await producer.enqueue({ prompt: 'nobody drains flash here', account });
    await assert.rejects(producer.waitForResult(stuck.id, { timeoutMs: 200 }), (e: unknown) => (e as { code?: string }).code === 'E_TIMEOUT');
  });

  test('closing a producer ends its pending waitForResult calls with E_SHUTDOWN; a wait after close is refused', async () => {
    const own = await startTestProducer(prefix);
    const stuck = await own.enqueue({ prompt: 'nobody drains flash here either', account });
    // Long enough that only close() can end it before the test's own timeout.
    const waiting = own.waitForResult(stuck.id, { timeoutMs: 600_000 });
    const outcome = waiting.then(
      () => 'resolved',
      (error: unknown) => (error as { code?: string }).code,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await own.close();
    const stillWaiting = new Promise<string>((resolve) => setTimeout(() => resolve('still waiting 5 s after close'), 5000).unref());
    assert.equal(await Promise.race([outcome, stillWaiting]), 'E_SHUTDOWN');
    await assert.rejects(own.waitForResult(stuck.id, { timeoutMs: 1000 }), (e: unknown) => (e as { code?: string }).code === 'E_SHUTDOWN');
    // The job itself is untouched: it waits for a worker.
    assert.equal((await producer.getJob(stuck.id)).state, 'waiting');
  });
});
