import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Worker } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import {
  createRedisConnection,
  FleetError,
  histogramKey,
  laneQueueName,
  laneQueuePrefix,
  LANES,
  laneStatsKey,
  LATENCY_METRICS,
  parseRedisUrl,
  policyKey,
  redactRedisUrl,
  type JobData,
  type JobResult,
  type Lane,
  type RedisClient,
} from '../../contract/index.js';
import { createProducer, type Producer } from '../../producer/index.js';
import { PolicyStore } from '../../router/index.js';
import { ensureRedis, redisAnswers, redisServerInstalled, startRedisCluster, type StartedRedisCluster } from '../../cli/local-redis.js';
import { canaryPolicy } from '../helpers/canary-policy.js';
import { startTestIngress } from '../helpers/ingress.js';
import { countAllJobs, testPrefix } from '../helpers/redis.js';
import { raceEnqueues } from '../helpers/admission-race.js';

const account = { id: 'acct-cluster', tier: 'pro' } as const;
const REQUESTS: Record<Lane, Record<string, unknown>> = {
  flash: { prompt: 'a red bicycle', account },
  large: { prompt: 'a harbor at dawn', intent: 'export', account },
  typography: { prompt: 'poster with the words "GRAND OPENING"', account },
  upscale: { prompt: 'sharpen', intent: 'upscale', source: { key: 'renders/a.png' }, scale: 2, account },
};

/** Which master serves each slot, from CLUSTER SLOTS. */
async function slotOwners(node: Redis): Promise<(slot: number) => string> {
  const ranges = await node.cluster('SLOTS');
  return (slot) => {
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    assert.ok(range, `slot ${slot} is not served`);
    const [host, port] = range[2]!;
    return `${host}:${port}`;
  };
}

/** A bare BullMQ worker on the cluster that completes jobs (or fails those whose prompt says so). */
function startFakeWorker(url: string, prefix: string, lane: Lane): { close(): Promise<void> } {
  const connection = createRedisConnection(url, { role: 'worker', connectionName: 'test-worker' });
  connection.on('error', () => {});
  const worker = new Worker<JobData, JobResult>(
    laneQueueName(lane),
    async (job) => {
      if (job.data.request.prompt.includes('fail')) throw new Error('[E_MODEL_LOAD] model is missing');
      return {
        image: { url: `file:///tmp/${job.id}.png`, key: `${lane}/${job.id}.png`, width: 64, height: 64, format: 'png', bytes: 1 },
        model: job.data.model,
        lane,
        seed: job.data.request.seed,
        timings: { endToEndMs: Date.now() - job.data.enqueuedAt },
      };
    },
    { connection, prefix: laneQueuePrefix(prefix, lane) },
  );
  worker.on('error', () => {});
  return {
    close: async () => {
      await worker.close();
      connection.disconnect();
    },
  };
}

describe('the fleet on a 3-master Redis Cluster', { skip: redisServerInstalled() ? false : 'redis-server is not installed' }, () => {
  let cluster: StartedRedisCluster;
  let node: Redis;
  let owner: (slot: number) => string;

  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    node = new Redis(cluster.nodeUrls[0]!);
    owner = await slotOwners(node);
  });
  after(async () => {
    node?.disconnect();
    await cluster?.stop();
  });

  test('redis+cluster:// URLs parse, redact and open an ioredis Cluster', async () => {
    const parsed = parseRedisUrl('rediss+cluster://user:s3cret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002');
    assert.deepEqual(parsed, {
      cluster: true,
      tls: true,
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: 'user',
      password: 's3cret',
    });
    assert.equal(redactRedisUrl('redis+cluster://:s3cret@h1:1,h2:2'), 'redis+cluster://***@h1:1,h2:2');
    assert.equal(parseRedisUrl('redis://127.0.0.1:6379').cluster, false);
    assert.throws(() => parseRedisUrl('redis+cluster://h1:notaport'), RangeError);
    assert.equal(await redisAnswers(cluster.url), true);
    const ensured = await ensureRedis(cluster.url, (message) => assert.fail(`fleet up would say: ${message}`));
    assert.equal(ensured.started, false);
    const client = createRedisConnection(cluster.url);
    try {
      assert.ok(client instanceof Cluster);
      await new Promise((resolve) => client.once('ready', resolve));
      assert.equal(await client.ping(), 'PONG');
      assert.equal(((await (client as Cluster).nodes('master')) as unknown[]).length, 3);
    } finally {
      client.disconnect();
    }
  });

  test('each lane keeps its keys in one slot, and the lanes spread over the masters', async () => {
    const mastersOf = async (prefix: string) => {
      const slots = await Promise.all(LANES.map(async (lane) => (await node.cluster('KEYSLOT', laneQueuePrefix(prefix, lane))) as number));
      return new Set(slots.map(owner));
    };
    // The default prefix: flash and upscale on one master, large and typography on another.
    const fleet = await mastersOf('fleet');
    assert.ok(fleet.size >= 2, `lanes of prefix "fleet" all on ${[...fleet].join()}`);
    // Any prefix: with 4 lanes on 3 masters, all on one master happens 1 time in 27.
    let together = 0;
    for (let i = 0; i < 100; i++) if ((await mastersOf(`p${randomUUID().slice(0, 8)}`)).size === 1) together++;
    assert.ok(together < 20, `${together} of 100 random prefixes had every lane on one master`);

    // The keys BullMQ actually writes for a lane all sit on the master that owns the lane's slot.
    const prefix = testPrefix();
    const producer = createProducer({ redis: cluster.url, prefix });
    try {
      await producer.ready(10_000);
      for (const lane of LANES) assert.equal((await producer.enqueue(REQUESTS[lane])).lane, lane);
      for (const lane of LANES) {
        const expected = owner((await node.cluster('KEYSLOT', laneQueuePrefix(prefix, lane))) as number);
        for (const url of cluster.nodeUrls) {
          const direct = new Redis(url);
          try {
            const keys = await direct.keys(`${laneQueuePrefix(prefix, lane)}*`);
            const here = url.endsWith(`:${expected.split(':')[1]}`);
            assert.equal(keys.length > 0, here, `${lane} keys on ${url}: ${keys.length} (expected on ${expected})`);
          } finally {
            direct.disconnect();
          }
        }
      }
    } finally {
      await producer.close();
    }
  });

  test('policy and metrics keys each share one slot, so the store MULTI and the histogram pipeline work', async () => {
    const prefix = testPrefix();
    const policySlots = new Set(await Promise.all(['seq', 'versions', 'active', 'stack', 'history', 'seeding', 'changed'].map((n) => node.cluster('KEYSLOT', policyKey(prefix, n)))));
    assert.equal(policySlots.size, 1);
    const metricKeys = LANES.flatMap((lane) => [...LATENCY_METRICS.map((m) => histogramKey(prefix, lane, m, 29_000_000)), laneStatsKey(prefix, lane, 29_000_001)]);
    assert.equal(new Set(await Promise.all(metricKeys.map((k) => node.cluster('KEYSLOT', k)))).size, 1);

    const client = createRedisConnection(cluster.url, { role: 'worker' });
    try {
      const pipeline = client.pipeline();
      for (const key of metricKeys) pipeline.hincrby(key, '3', 1).expire(key, 60);
      const results = await pipeline.exec();
      assert.ok(results?.every(([error]) => error === null));

      const store = new PolicyStore(client, prefix);
      const first = await store.active();
      assert.equal(first.version, 1);
      const applied = await store.apply(canaryPolicy(25), { comment: 'cluster canary' });
      assert.equal(applied.version, 2);
      assert.equal((await store.rollback()).version, 1);
      assert.equal((await store.rollback({ to: 2 })).version, 2);
      assert.deepEqual((await store.history()).map((h) => h.action), ['seed', 'apply', 'rollback', 'rollback']);
    } finally {
      client.disconnect();
    }
  });

  describe('producer', () => {
    const prefix = testPrefix();
    let producer: Producer;
    before(async () => {
      producer = createProducer({ redis: cluster.url, prefix, maxWaiting: { large: 2 }, attempts: 1 });
      await producer.ready(10_000);
    });
    after(async () => {
      await producer?.close();
    });

    test('enqueue on every lane, idempotency, backpressure and getJob', async () => {
      for (const lane of LANES) {
        const receipt = await producer.enqueue(REQUESTS[lane]);
        assert.equal(receipt.lane, lane);
        assert.equal((await producer.getJob(receipt.id)).state, 'waiting');
      }
      const once = await producer.enqueue({ ...REQUESTS.typography, idempotencyKey: 'order-42' });
      const twice = await producer.enqueue({ ...REQUESTS.typography, idempotencyKey: 'order-42' });
      assert.equal(twice.id, once.id);
      assert.equal(twice.duplicate, true);

      await producer.enqueue(REQUESTS.large);
      await assert.rejects(() => producer.enqueue(REQUESTS.large), (e: unknown) => e instanceof FleetError && e.code === 'E_BACKPRESSURE');
      await assert.rejects(() => producer.getJob('flash.nope'), (e: unknown) => e instanceof FleetError && e.code === 'E_NOT_FOUND');
      const counts = await countAllJobs(LANES.map((lane) => producer.laneQueue(lane)));
      assert.equal(counts.reduce((a, b) => a + b, 0), 6);
    });

    test('waitForResult: completed, failed with its code, or E_TIMEOUT', async () => {
      const worker = startFakeWorker(cluster.url, prefix, 'flash');
      try {
        const ok = await producer.enqueue({ prompt: 'a calm lake', account });
        const done = await producer.waitForResult(ok.id, { timeoutMs: 10_000 });
        assert.equal(done.state, 'completed');
        assert.equal(done.result?.image.key, `flash/${ok.id}.png`);
        const bad = await producer.enqueue({ prompt: 'please fail', account });
        const failed = await producer.waitForResult(bad.id, { timeoutMs: 10_000 });
        assert.equal(failed.state, 'failed');
        assert.equal(failed.error?.code, 'E_MODEL_LOAD');
      } finally {
        await worker.close();
      }
      const stuck = await producer.enqueue(REQUESTS.upscale);
      await assert.rejects(() => producer.waitForResult(stuck.id, { timeoutMs: 200 }), (e: unknown) => e instanceof FleetError && e.code === 'E_TIMEOUT');
    });

    test('a newly applied policy reaches the producer within 1 s (pub/sub on the cluster)', async () => {
      const admin: RedisClient = createRedisConnection(cluster.url, { role: 'worker' });
      try {
        const store = new PolicyStore(admin, prefix);
        const free = { prompt: 'a fox', account: { id: 'acct-free', tier: 'free' } };
        const before = await producer.route(free);
        const version = (await store.apply(canaryPolicy(100), { comment: 'all free previews to flash-v2' })).version;
        const started = Date.now();
        for (;;) {
          const decision = await producer.route(free);
          if (decision.policyVersion === version) {
            assert.equal(decision.model, 'flash-v2');
            break;
          }
          assert.ok(Date.now() - started < 1_000, `still on v${decision.policyVersion} (was v${before.policyVersion}) after 1 s`);
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        admin.disconnect();
      }
    });
  });

  test('backpressure is exact across producers on the cluster: the depth check and the add are one step in the lane slot', async () => {
    const prefix = testPrefix();
    const producers = [0, 1].map(() => createProducer({ redis: cluster.url, prefix, maxWaiting: { typography: 30 } }));
    try {
      await Promise.all(producers.map((p) => p.ready(10_000)));
      const counts = await raceEnqueues(producers, REQUESTS.typography, 50);
      assert.deepEqual(counts, { accepted: 30, E_BACKPRESSURE: 70 });
      const held = await producers[0]!.laneQueue('typography').getJobCounts('waiting', 'prioritized');
      assert.equal((held.waiting ?? 0) + (held.prioritized ?? 0), 30);
    } finally {
      await Promise.all(producers.map((p) => p.close()));
    }
  });

  test('ingress: POST /generate, GET /jobs/:id, ?wait= and /healthz', async () => {
    const prefix = testPrefix();
    const ingress = await startTestIngress({ redis: cluster.url, prefix });
    const worker = startFakeWorker(cluster.url, prefix, 'large');
    try {
      assert.equal((await ingress.get('/healthz')).status, 200);
      const accepted = await ingress.post('/generate', REQUESTS.typography);
      assert.equal(accepted.status, 202);
      const { id, lane } = (await accepted.json()) as { id: string; lane: string };
      assert.equal(lane, 'typography');
      const view = (await (await ingress.get(`/jobs/${id}`)).json()) as { state: string };
      assert.equal(view.state, 'waiting');
      const waited = await ingress.post('/generate?wait=10', REQUESTS.large);
      assert.equal(waited.status, 200);
      assert.equal(((await waited.json()) as { state: string }).state, 'completed');
      assert.equal((await ingress.post('/generate', { prompt: '' })).status, 400);
    } finally {
      await worker.close();
      await ingress.close();
    }
  });
});
