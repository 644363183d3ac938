import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../cli/local-redis.js';
import { createProducer } from '../../producer/index.js';
import { startTestIngress } from '../helpers/ingress.js';
import { testPrefix } from '../helpers/redis.js';

const request = { prompt: 'a lighthouse', account: { id: 'acct-outage', tier: 'pro' } };

describe('ingress while its Redis stops and comes back', () => {
  let server: Awaited<ReturnType<typeof startRedisServer>>;
  let ingress: Awaited<ReturnType<typeof startTestIngress>>;

  before(async () => {
    server = await startRedisServer();
    ingress = await startTestIngress({ redis: server.url, prefix: testPrefix() });
  });
  after(async () => {
    await ingress?.close();
    await server?.stop();
  });

  test('503 E_REDIS_UNAVAILABLE while Redis is down, and recovery by itself once it is back', async () => {
    assert.equal((await ingress.post('/generate', request)).status, 202);

    const exited = new Promise((resolve) => server.process.once('exit', resolve));
    server.process.kill('SIGKILL');
    await exited;

    const started = Date.now();
    const refused = await ingress.post('/generate', request);
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'E_REDIS_UNAVAILABLE');
    assert.ok(Date.now() - started < 5000, 'refusal must not hang');
    assert.equal((await ingress.get('/healthz')).status, 503);

    const restarted = await startRedisServer({ port: server.port });
    server = { ...restarted };
    let status = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      status = (await ingress.post('/generate', request)).status;
      if (status === 202) break;
      assert.equal(status, 503, 'while reconnecting the ingress refuses with 503, never drops');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 202);
    assert.equal((await ingress.get('/healthz')).status, 200);
  });

  test('a Redis that hangs (SIGSTOP) is answered 503 within seconds, not left hanging, and recovers on SIGCONT', async () => {
    assert.equal((await ingress.post('/generate', request)).status, 202);
    const pid = server.process.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const response = await ingress.post('/generate', request);
      assert.equal(response.status, 503);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'E_REDIS_UNAVAILABLE');
      assert.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    let status = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && status !== 202) {
      status = (await ingress.post('/generate', request)).status;
      if (status !== 202) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 202);
  });
});

describe('adds after Redis forgot its scripts (SCRIPT FLUSH)', () => {
  let server: Awaited<ReturnType<typeof startRedisServer>>;
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await server?.stop();
  });

  test('the adds load their scripts again: every job is added once, and no place stays reserved', async () => {
    const prefix = testPrefix();
    const producer = createProducer({ redis: server.url, prefix });
    const admin = new Redis(server.url);
    try {
      await producer.enqueue(request);
      assert.equal(await admin.script('FLUSH'), 'OK');
      // One event-loop turn's enqueues share one MULTI: each add in it fails NOSCRIPT, and each is admitted and added again.
      const receipts = await Promise.all(Array.from({ length: 5 }, () => producer.enqueue(request)));
      assert.equal(new Set(receipts.map((r) => r.id)).size, 5);
      const queue = producer.laneQueue(receipts[0]!.lane);
      const counts = await queue.getJobCounts('waiting', 'prioritized');
      assert.equal((counts.waiting ?? 0) + (counts.prioritized ?? 0), 6);
      assert.equal(await admin.zcard(queue.toKey('fleet-admitting')), 0);
      for (const { id } of receipts) assert.equal((await producer.getJob(id)).state, 'waiting');
    } finally {
      await producer.close();
      admin.disconnect();
    }
  });
});
