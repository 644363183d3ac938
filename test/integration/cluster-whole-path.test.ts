import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { redisServerInstalled, startRedisCluster, type StartedRedisCluster } from '../../cli/local-redis.js';
import { createProducer, type Producer } from '../../producer/index.js';
import { testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';

const account = { id: 'acct-cluster', tier: 'pro' as const };

describe('whole path on a 3-master Redis Cluster', { skip: redisServerInstalled() ? false : 'redis-server is not installed' }, () => {
  const prefix = testPrefix();
  let cluster: StartedRedisCluster;
  let producer: Producer;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;

  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    fleet = await startTestWorker(prefix, { redisUrl: cluster.url });
    producer = createProducer({ redis: cluster.url, prefix });
    await producer.ready(10_000);
  });
  after(async () => {
    await producer?.close();
    await fleet?.stop();
    await cluster?.stop();
  });

  test('producer → router → queue → batcher → ONNX → sharp → store, on every lane', async () => {
    await fleet.store.put('sources/cluster.png', await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3080c0' } }).png().toBuffer(), 'image/png');
    const requests = [
      { prompt: 'watercolor fox', seed: 1, account },
      { prompt: 'cinematic lighthouse', intent: 'export' as const, width: 512, height: 512, account },
      { prompt: 'poster', text: { content: 'OPEN LATE' }, width: 512, height: 512, account },
      { prompt: 'upscale', intent: 'upscale' as const, source: { key: 'sources/cluster.png' }, account },
    ];
    const receipts = await Promise.all(requests.map((r) => producer.enqueue(r)));
    assert.deepEqual(receipts.map((r) => r.lane), ['flash', 'large', 'typography', 'upscale']);
    const views = await Promise.all(receipts.map((r) => producer.waitForResult(r.id, { timeoutMs: 60_000 })));
    for (const view of views) {
      assert.equal(view.state, 'completed', `${view.id}: ${JSON.stringify(view.error)}`);
      assert.ok(await fleet.store.exists(view.result!.image.key));
    }
    assert.equal((views[2]!.result!.text as { passed: boolean }).passed, true);
    assert.equal(views[3]!.result!.image.width, 128);
  });
});
