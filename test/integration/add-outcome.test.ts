import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FleetError } from '../../contract/index.js';
import { createProducer, type Producer } from '../../producer/index.js';
import { waitUntil } from '../helpers/fleet-cli.js';
import { ReplyHoldingProxy } from '../helpers/reply-holding-proxy.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';

const account = { id: 'acct-outcome', tier: 'pro' as const };

/** All flash jobs whose prompt holds `marker`, read past the proxy. */
async function jobsWith(direct: Producer, marker: string): Promise<string[]> {
  const jobs = await direct.laneQueue('flash').getJobs(['waiting', 'prioritized'], 0, -1);
  return jobs.filter((job) => job.data.request.prompt.includes(marker)).map((job) => job.id!);
}

describe('an add Redis does not answer is confirmed, or named, never reported as not enqueued', () => {
  const prefix = testPrefix();
  const url = new URL(REDIS_URL);
  const proxy = new ReplyHoldingProxy({ host: url.hostname, port: Number(url.port || 6379) });
  let proxied: string;
  let direct: Producer;
  before(async () => {
    proxied = `redis://127.0.0.1:${await proxy.start()}`;
    direct = createProducer({ redis: REDIS_URL, prefix });
  });
  after(async () => {
    await direct.close();
    await proxy.stop();
    await cleanupPrefix(prefix);
  });

  test('the add ran but its reply came after the command timeout: once Redis answers, the caller gets the receipt', async () => {
    const producer = createProducer({ redis: proxied, prefix, outcomeTimeoutMs: 15_000 });
    try {
      await producer.ready();
      proxy.holdRepliesFrom('marker-late-reply');
      const enqueued = producer.enqueue({ prompt: 'marker-late-reply, a red bicycle', account });
      await waitUntil('the add to reach Redis with its reply held', () => proxy.isHolding);
      // Past the request connection's 3 s command timeout, then Redis "answers" again.
      await new Promise((r) => setTimeout(r, 4000));
      // The add ran: the job is in Redis while the caller still waits for the reply.
      assert.equal((await jobsWith(direct, 'marker-late-reply')).length, 1);
      proxy.release();
      const receipt = await enqueued;
      assert.equal(receipt.duplicate, false);
      assert.deepEqual(await jobsWith(direct, 'marker-late-reply'), [receipt.id]);
    } finally {
      proxy.release();
      await producer.close();
    }
  });

  test('Redis silent past outcomeTimeoutMs: E_OUTCOME_UNKNOWN carries the job id, and polling that id finds the job', async () => {
    const producer = createProducer({ redis: proxied, prefix, outcomeTimeoutMs: 1500 });
    try {
      await producer.ready();
      proxy.holdRepliesFrom('marker-silent');
      const error = await producer.enqueue({ prompt: 'marker-silent, a lighthouse', account }).then(
        () => assert.fail('enqueue resolved while Redis was silent'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof FleetError);
      assert.equal(error.code, 'E_OUTCOME_UNKNOWN');
      assert.equal(error.httpStatus, 504);
      const id = error.details?.id as string;
      assert.match(id, /^flash\./);
      assert.equal(error.details?.statusUrl, `/jobs/${id}`);
      proxy.release();
      assert.equal((await direct.getJob(id)).request.prompt, 'marker-silent, a lighthouse');
      await waitUntil('the job to be readable through the proxy too', async () => (await producer.getJob(id).then(() => true, () => false)));
    } finally {
      proxy.release();
      await producer.close();
    }
  });

  test('the connection drops halfway through a MULTI: no add is resent without it, and no caller hears "not enqueued" for a job in Redis', async () => {
    const producer = createProducer({ redis: proxied, prefix, outcomeTimeoutMs: 15_000 });
    try {
      await producer.ready();
      proxy.cutConnectionAt('marker-cut-second');
      // One turn's enqueues share one MULTI; Redis answers MULTI and the first add's QUEUED, then the connection goes.
      const outcomes = await Promise.all(
        ['marker-cut-first, a kite', 'marker-cut-second, a boat'].map((prompt) =>
          producer.enqueue({ prompt, account }).then(
            (receipt) => ({ prompt, id: receipt.id, error: undefined }),
            (error: unknown) => ({ prompt, id: undefined, error: error as FleetError }),
          ),
        ),
      );
      const inRedis = await jobsWith(direct, 'marker-cut');
      for (const outcome of outcomes) {
        if (outcome.id !== undefined) {
          assert.ok(inRedis.includes(outcome.id), `${outcome.prompt}: accepted but not in Redis`);
          continue;
        }
        assert.ok(outcome.error instanceof FleetError, `${outcome.prompt}: ${outcome.error}`);
        assert.equal(outcome.error.code, 'E_REDIS_UNAVAILABLE', `${outcome.prompt}: ${outcome.error.message}`);
        assert.match(outcome.error.message, /not enqueued/);
      }
      // Every job in Redis was accepted: none was added behind a "not enqueued".
      assert.deepEqual(inRedis.sort(), outcomes.flatMap((o) => (o.id === undefined ? [] : [o.id])).sort());
    } finally {
      await producer.close();
    }
  });

  test('an add never sent (no connection) is E_REDIS_UNAVAILABLE saying not enqueued, naming the Redis', async () => {
    const producer = createProducer({ redis: 'redis://:pw-never-shown@127.0.0.1:1', prefix, connectTimeoutMs: 300 });
    try {
      const error = await producer.enqueue({ prompt: 'never sent', account }).then(
        () => assert.fail('enqueued without Redis'),
        (e: unknown) => e as FleetError,
      );
      assert.equal(error.code, 'E_REDIS_UNAVAILABLE');
      assert.match(error.message, /^Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/? did not answer while .*; the request was not enqueued/);
      assert.ok(!error.message.includes('pw-never-shown'));
      const read = await producer.getJob('flash.x').then(() => undefined, (e: unknown) => e as FleetError);
      assert.equal(read?.code, 'E_REDIS_UNAVAILABLE');
      assert.ok(!read!.message.includes('not enqueued'), `a read says: ${read!.message}`);
    } finally {
      await producer.close();
    }
  });

  test('enqueue waits for a connection that is still being made instead of refusing', async () => {
    const producer = createProducer({ redis: REDIS_URL, prefix, connectTimeoutMs: 5000 });
    try {
      assert.notEqual(producer.redis.status, 'ready');
      const receipt = await producer.enqueue({ prompt: 'right after createProducer', account });
      assert.match(receipt.id, /^flash\./);
    } finally {
      await producer.close();
    }
  });
});
