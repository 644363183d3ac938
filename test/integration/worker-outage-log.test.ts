import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedisServer } from '../../cli/local-redis.js';
import { createProducer } from '../../producer/index.js';
import { waitUntil } from '../helpers/fleet-cli.js';
import { testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';

const account = { id: 'acct-outage-log', tier: 'pro' as const };

describe("a worker's lane consumers during a Redis outage", () => {
  let server: Awaited<ReturnType<typeof startRedisServer>>;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  const prefix = testPrefix();

  before(async () => {
    server = await startRedisServer();
    fleet = await startTestWorker(prefix, { redisUrl: server.url, lanes: ['flash', 'large'] });
  });
  after(async () => {
    await fleet?.stop();
    await server?.stop();
  });

  test('log the outage once with a count, never a "lane worker error" per reconnect attempt, and serve again after it', async () => {
    const lines = () => fleet.logs.map((line) => JSON.parse(line) as { msg: string; errors?: number });
    const exited = new Promise((resolve) => server.process.once('exit', resolve));
    server.process.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    await waitUntil('the outage line', () => lines().some((l) => /unreachable; reconnecting/.test(l.msg)));
    // Long enough for every connection (two lanes, the depth queues, heartbeat) to retry a few times.
    await waitUntil('a few seconds of outage', () => Date.now() - killedAt > 3000);
    server = await startRedisServer({ port: server.port });
    await waitUntil('the recovery line', () => lines().some((l) => /is back after/.test(l.msg)), 20_000);

    const all = lines();
    const back = all.find((l) => /is back after/.test(l.msg))!;
    console.log(`outage of ~3 s: ${back.errors} connection errors counted in one line`);
    assert.ok(back.errors! >= 4, `errors counted: ${back.errors}`);
    assert.equal(all.filter((l) => /unreachable; reconnecting/.test(l.msg)).length, 1, 'one line per outage');
    assert.deepEqual(all.filter((l) => l.msg === 'lane worker error'), [], 'no line per reconnect attempt');

    const producer = createProducer({ redis: server.url, prefix });
    try {
      await producer.ready();
      const view = await producer.waitForResult((await producer.enqueue({ prompt: 'after the outage', account })).id, { timeoutMs: 30_000 });
      assert.equal(view.state, 'completed');
    } finally {
      await producer.close();
    }
  });
});
