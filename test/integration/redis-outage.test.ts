import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedisServer } from '../../cli/local-redis.js';
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

