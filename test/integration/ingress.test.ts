import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { laneQueueName, laneQueuePrefix, LANES, type JobData, type JobResult } from '../../contract/index.js';
import { startTestIngress } from '../helpers/ingress.js';
import { MALFORMED } from '../helpers/malformed-requests.js';
import { cleanupPrefix, countAllJobs, REDIS_URL, testPrefix } from '../helpers/redis.js';

const account = { id: 'acct-http', tier: 'pro' };

describe('HTTP ingress on real Redis', () => {
  const prefix = testPrefix();
  let ingress: Awaited<ReturnType<typeof startTestIngress>>;

  before(async () => {
    ingress = await startTestIngress({ redis: REDIS_URL, prefix, maxWaiting: { large: 1 } });
  });
  after(async () => {
    await ingress.close();
    await cleanupPrefix(prefix);
  });

  test('POST /generate answers 202 with the receipt; GET /jobs/:id shows it', async () => {
    const response = await ingress.post('/generate', { prompt: 'watercolor fox', account });
    assert.equal(response.status, 202);
    const body = (await response.json()) as { id: string; lane: string; model: string; policy: { version: number; rule: string }; statusUrl: string };
    assert.equal(body.lane, 'flash');
    assert.equal(body.model, 'flash-v1');
    assert.equal(body.statusUrl, `/jobs/${body.id}`);
    const status = await ingress.get(body.statusUrl);
    assert.equal(status.status, 200);
    const view = (await status.json()) as { id: string; state: string; lane: string; policy: unknown };
    assert.equal(view.id, body.id);
    assert.equal(view.state, 'waiting');
    assert.deepEqual(view.policy, body.policy);
  });

  test('malformed requests: 400 with code and field, nothing enqueued', async () => {
    const queues = LANES.map((lane) => ingress.producer.laneQueue(lane));
    const before = await countAllJobs(queues);
    for (const c of MALFORMED) {
      const response = await ingress.post('/generate', JSON.stringify(c.body));
      assert.equal(response.status, 400, c.name);
      const body = (await response.json()) as { error: { code: string; field: string; message: string } };
      assert.equal(body.error.code, 'E_VALIDATION', c.name);
      assert.equal(body.error.field, c.field, c.name);
    }
    const broken = await ingress.post('/generate', '{"prompt": "a cat", ');
    assert.equal(broken.status, 400);
    assert.equal(((await broken.json()) as { error: { code: string } }).error.code, 'E_VALIDATION');
    const tooBig = await ingress.post('/generate', JSON.stringify({ prompt: 'x'.repeat(70_000), account }));
    assert.equal(tooBig.status, 413);
    assert.equal(((await tooBig.json()) as { error: { code: string } }).error.code, 'E_BODY_TOO_LARGE');
    const form = await fetch(`${ingress.base}/generate`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'a cat' });
    assert.equal(form.status, 415);
    const badWait = await ingress.post('/generate?wait=abc', { prompt: 'a cat', account });
    assert.equal(badWait.status, 400);
    assert.equal(((await badWait.json()) as { error: { field: string } }).error.field, 'wait');
    assert.deepEqual(await countAllJobs(queues), before);
  });

  test('unknown job and unknown route are 404 E_NOT_FOUND', async () => {
    for (const path of ['/jobs/flash.unknown', '/jobs/nonsense', '/nope']) {
      const response = await ingress.get(path);
      assert.equal(response.status, 404, path);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'E_NOT_FOUND');
    }
  });

  test('backpressure is 429 with Retry-After', async () => {
    const exportRequest = { prompt: 'a harbor at dusk', intent: 'export', account };
    assert.equal((await ingress.post('/generate', exportRequest)).status, 202);
    const refused = await ingress.post('/generate', exportRequest);
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'E_BACKPRESSURE');
  });

  test('the same idempotency key over HTTP gives one job', async () => {
    const request = { prompt: 'a quiet street', account, idempotencyKey: 'http-key-1' };
    const [a, b] = await Promise.all([ingress.post('/generate', request), ingress.post('/generate', request)]);
    const ids = [((await a.json()) as { id: string }).id, ((await b.json()) as { id: string }).id];
    assert.equal(ids[0], ids[1]);
  });

  test('?wait=S answers 200 with the result when a worker finishes in time', async () => {
    const lane = 'typography';
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker<JobData, JobResult>(
      laneQueueName(lane),
      async (job) => ({
        image: { url: `file:///tmp/${job.id}.png`, key: `${job.id}.png`, width: 1024, height: 1024, format: 'png', bytes: 10 },
        model: job.data.model,
        lane,
        seed: job.data.request.seed,
        timings: { endToEndMs: 5 },
      }),
      { connection, prefix: laneQueuePrefix(prefix, lane) },
    );
    try {
      const response = await ingress.post('/generate?wait=10', { prompt: 'logo, vector, bold text', account: { id: 'a1', tier: 'pro' } });
      assert.equal(response.status, 200);
      const body = (await response.json()) as { state: string; result: JobResult; lane: string };
      assert.equal(body.state, 'completed');
      assert.equal(body.lane, 'typography');
      // The public view names the artifact by its key; a file store's file:/// URL is the server's disk.
      assert.equal(body.result.image.url, undefined);
      assert.match(body.result.image.key, /^typography\./);
    } finally {
      await worker.close();
      connection.disconnect();
    }
    const late = await ingress.post('/generate?wait=0.2', { prompt: 'nobody drains this', account });
    assert.equal(late.status, 202);
  });

  test('/healthz and /metrics', async () => {
    const health = await ingress.get('/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', redis: 'ok' });
    const metrics = await (await ingress.get('/metrics')).text();
    assert.match(metrics, /fleet_jobs_enqueued_total\{lane="flash",model="flash-v1",role="ingress"\} \d+/);
    assert.match(metrics, /fleet_requests_refused_total\{code="E_VALIDATION",role="ingress"\} \d+/);
    assert.match(metrics, /fleet_ingress_request_duration_seconds_bucket/);
  });
});

describe('HTTP ingress with a bearer token', () => {
  const prefix = testPrefix();
  let ingress: Awaited<ReturnType<typeof startTestIngress>>;
  before(async () => {
    ingress = await startTestIngress({ redis: REDIS_URL, prefix, token: 's3cret-token' });
  });
  after(async () => {
    await ingress.close();
    await cleanupPrefix(prefix);
  });

  test('refuses without the token, accepts with it, keeps /healthz open, logs no token', async () => {
    const request = { prompt: 'a cat', account };
    const anonymous = await ingress.post('/generate', request);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'E_UNAUTHORIZED');
    assert.equal((await ingress.post('/generate', request, { authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await ingress.post('/generate', request, { authorization: 'Bearer s3cret-token' })).status, 202);
    assert.equal((await ingress.get('/healthz')).status, 200);
    assert.ok(ingress.logs.length > 0);
    assert.ok(!ingress.logs.join('').includes('s3cret-token'));
  });
});
