import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { FleetError } from '../../contract/index.js';
import { S3Store } from '../../workers/index.js';
import { FLEET_BIN, runFleet, type FleetRun } from '../helpers/fleet-cli.js';
import { REDIS_URL, testPrefix } from '../helpers/redis.js';
import { S3_TEST_CREDENTIALS, startS3rver, testS3Client } from '../helpers/s3.js';
import { MODELS_DIR } from '../helpers/worker.js';

/** One line on stderr naming the problem, no stack trace. */
function assertOneLine(run: FleetRun, pattern: RegExp, what: string): void {
  const lines = run.stderr.split('\n').filter((line) => line.trim() !== '' && !/^(Usage|Options|Commands|  -|  [a-z])/.test(line));
  assert.match(run.stderr, pattern, `${what}: ${run.stderr}`);
  assert.ok(!/^\s+at /m.test(run.stderr), `${what}: a stack trace\n${run.stderr}`);
  assert.ok(lines.length <= 2, `${what}: ${lines.length} lines\n${run.stderr}`);
}

describe('a misconfigured fleet stops at once with a clear message (exit 2)', () => {
  let taken: Server;
  let takenPort: number;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  const s3Env = () => ({ FLEET_S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1' });
  before(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    takenPort = (taken.address() as { port: number }).port;
    s3 = await startS3rver('fleet-present');
  });
  after(async () => {
    await new Promise((r) => taken.close(r));
    await s3?.stop();
  });

  test('fleet up and fleet worker refuse every bad option before starting anything', async () => {
    const prefix = testPrefix();
    const common = ['--prefix', prefix, '--models', MODELS_DIR];
    const cases: Array<[string[], RegExp]> = [
      [['up', '--lanes', 'video'], /unknown lane "video"/],
      [['up', '--gpus', 'abc'], /--gpus must be GPU indexes/],
      [['up', '--gpus', '0,,1'], /--gpus must be GPU indexes .* got "0,,1"/],
      [['up', '--gpus', '1,1'], /names a GPU twice/],
      [['up', '--vram', 'lots'], /--vram: size must look like 8GiB/],
      [['up', '--store', 'ftp://x'], /store URL must be file:\/\/DIR or s3:\/\/bucket\/prefix, got "ftp:\/\/x"/],
      [['up', '--models', '/nonexistent/models'], /--models \/nonexistent\/models is not a folder/],
      [['up', '--port', '0', '--metrics-port', String(takenPort)], new RegExp(`--metrics-port ${takenPort} on 127\\.0\\.0\\.1: already in use`)],
      [['up', '--port', String(takenPort)], new RegExp(`--port ${takenPort} on 127\\.0\\.0\\.1: already in use`)],
      [['worker', '--lanes', 'flash,video'], /unknown lane "video"/],
      [['worker', '--gpu', 'abc'], /gpu must be an integer/],
      [['worker', '--vram', '0'], /--vram must be more than 0 bytes/],
      [['worker', '--store', 'ftp://x'], /store URL must be/],
      [['worker', '--models', '/nonexistent/models'], /is not a folder/],
      [['worker', '--metrics-port', String(takenPort)], /already in use/],
      [['worker', '--lanes', 'flash', '--overflow-lanes', 'flash', '--metrics-port', '0'], /overflowLanes must not repeat a lane of lanes/],
      [['worker', '--lock-duration-ms', '5'], /lock-duration-ms must be an integer 1000–600000/],
      // The spelling before the unit was in the name is still parsed (and checked).
      [['worker', '--shutdown-timeout', '0'], /shutdown-timeout must be an integer 1–3600/],
    ];
    const redis = new Redis(REDIS_URL);
    try {
      for (const [args, pattern] of cases) {
        const run = await runFleet([...args, ...(args.includes('--models') ? ['--prefix', prefix] : common)], { timeoutMs: 30_000 });
        assert.equal(run.code, 2, `fleet ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
        assertOneLine(run, pattern, `fleet ${args.join(' ')}`);
        // Refused before anything started: no worker registered, no lane or policy key written.
        assert.deepEqual(await redis.keys(`*${prefix}*`), [], `fleet ${args.join(' ')} wrote to Redis before refusing`);
      }
    } finally {
      redis.disconnect();
    }
  });

  test('a bad environment value: one line, exit 2, for every command', async () => {
    for (const [env, pattern, commands] of [
      [{ FLEET_PORT: 'abc' }, /^fleet: \[E_CONFIG\] FLEET_PORT must be an integer 0–65535, got "abc"$/m, [['status'], ['policy', 'show'], ['ingress']]],
      [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/, [['status']]],
      [{ FLEET_PREFIX: 'a b' }, /FLEET_PREFIX/, [['status']]],
    ] as const) {
      for (const args of commands) {
        const run = await runFleet([...args], { env: { ...env } });
        assert.equal(run.code, 2, `${JSON.stringify(env)} fleet ${args.join(' ')}: ${run.stderr}`);
        assertOneLine(run, pattern, `${JSON.stringify(env)} fleet ${args.join(' ')}`);
      }
    }
    // The suite runs the CLI compiled (helpers/compiled-fleet.ts); the shipped bin/fleet.js, through tsx, answers alike.
    const compiled = await runFleet(['policy', 'show'], { env: { FLEET_PORT: 'abc' } });
    const shipped = await runFleet(['policy', 'show'], { env: { FLEET_PORT: 'abc' }, bin: FLEET_BIN });
    assert.deepEqual(shipped, compiled);
    assert.equal(shipped.code, 2);
  });

  test('Redis unreachable: the message names the Redis (password redacted) and what was being done; only enqueue says "not enqueued"', async () => {
    const env = { REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:1' };
    const status = await runFleet(['status'], { env });
    assert.equal(status.code, 1);
    assertOneLine(status, /^fleet: \[E_REDIS_UNAVAILABLE\] Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/? did not answer while connecting \(running fleet status/m, 'fleet status');
    assert.ok(!status.stderr.includes('not enqueued'));
    const enqueue = await runFleet(['enqueue', '--prompt', 'a cat'], { env });
    assert.equal(enqueue.code, 1);
    assertOneLine(enqueue, /did not answer while .*; the request was not enqueued/, 'fleet enqueue');
    for (const run of [status, enqueue]) assert.ok(!run.stderr.includes('hunter2'), run.stderr);
  });

  test('a worker whose S3 bucket does not exist exits 2 with E_STORE; fleet up does not restart it and exits 2 with its message', async () => {
    const prefix = testPrefix();
    const worker = await runFleet(['worker', '--prefix', prefix, '--store', 's3://fleet-missing/renders', '--models', MODELS_DIR, '--metrics-port', '0'], { env: s3Env(), timeoutMs: 60_000 });
    assert.equal(worker.code, 2, worker.stderr);
    assertOneLine(worker, /\[E_CONFIG\] the worker cannot start: \[E_STORE\] store s3:\/\/fleet-missing\/renders at .*: bucket fleet-missing does not exist/, 'fleet worker');

    const started = Date.now();
    const up = await runFleet(['up', '--prefix', prefix, '--port', '0', '--metrics-port', '0', '--store', 's3://fleet-missing/renders', '--models', MODELS_DIR], { env: s3Env(), timeoutMs: 90_000 });
    assert.equal(up.code, 2, up.stderr);
    assert.match(up.stderr, /fleet up: worker 0 cannot start: \[E_CONFIG\] the worker cannot start: \[E_STORE\] store .*bucket fleet-missing does not exist/);
    assert.ok(!/^\s+at /m.test(up.stderr), up.stderr);
    assert.equal((up.stderr.match(/bucket fleet-missing does not exist/g) ?? []).length, 2, 'the worker was started more than once (once in its own line, once in fleet up\'s)');
    assert.ok(Date.now() - started < 60_000);
  });

  test('a bucket lost mid-run fails puts with E_STORE (retryable), not E_INTERNAL', async () => {
    const store = new S3Store({ bucket: s3.bucket, prefix: 'run', endpoint: s3.endpoint, credentials: S3_TEST_CREDENTIALS, maxAttempts: 2, backoffMs: 1 });
    try {
      await store.check();
      await store.put('flash/a.png', Buffer.from('png'), 'image/png');
      const client = testS3Client(s3.endpoint);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: 'run/flash/a.png' }));
        await client.send(new DeleteBucketCommand({ Bucket: s3.bucket }));
      } finally {
        client.destroy();
      }
      await assert.rejects(store.put('flash/b.png', Buffer.from('png'), 'image/png'), (e: unknown) => e instanceof FleetError && e.code === 'E_STORE' && e.retryable && /bucket fleet-present does not exist/.test(e.message));
      await assert.rejects(store.get('flash/b.png'), (e: unknown) => e instanceof FleetError && e.code === 'E_STORE');
      await assert.rejects(store.check(), (e: unknown) => e instanceof FleetError && e.code === 'E_STORE' && /does not exist/.test(e.message));
    } finally {
      await store.close();
    }
  });

  test('an S3 client that cannot be made is E_STORE at check() and at every request, tried again each time, and close() still resolves', async () => {
    const admin = testS3Client(s3.endpoint);
    // The test before deletes the bucket.
    await admin.send(new CreateBucketCommand({ Bucket: s3.bucket })).finally(() => admin.destroy());
    let loads = 0;
    const store = new S3Store({
      bucket: s3.bucket,
      prefix: 'run',
      endpoint: s3.endpoint,
      credentials: S3_TEST_CREDENTIALS,
      loadSdk: async () => {
        loads++;
        if (loads <= 2) throw new Error('Cannot find package @aws-sdk/client-s3');
        return import('@aws-sdk/client-s3');
      },
    });
    const isStoreError = (e: unknown) => e instanceof FleetError && e.code === 'E_STORE' && /the S3 client could not be made: Cannot find package/.test(e.message);
    await assert.rejects(store.check(), isStoreError);
    await assert.rejects(store.put('flash/c.png', Buffer.from('png'), 'image/png'), isStoreError);
    await store.close();
    await store.put('flash/c.png', Buffer.from('png'), 'image/png');
    assert.equal(loads, 3, 'a failed load is not kept');
    assert.deepEqual(await store.get('flash/c.png'), Buffer.from('png'));
    await store.close();
  });
});
