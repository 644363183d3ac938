import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Command } from 'commander';
import { Registry } from 'prom-client';
import { createLogger, FleetError, readConfig, redactRedisUrl, storeKeySchema } from '../../contract/index.js';
import { createProducer } from '../../producer/index.js';
import { withRedis } from '../../cli/open-redis.js';
import { ingressCommand, startIngress } from '../../cli/commands/ingress-command.js';
import { upCommand } from '../../cli/commands/up-command.js';
import { redisAnswers, startRedisServer, type StartedRedisServer } from '../../cli/local-redis.js';
import { assertStoreKey } from '../../workers/stores/artifact-store.js';
import { FileStore } from '../../workers/stores/file-store.js';
import { S3Store } from '../../workers/stores/s3-store.js';
import { startMetricsServer } from '../../workers/metrics/metrics-server.js';
import { startTestIngress } from '../helpers/ingress.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { S3_TEST_CREDENTIALS, startS3rver } from '../helpers/s3.js';
import { makeTestCertificates, opensslInstalled, type TestCertificates } from '../helpers/tls.js';

const request = { prompt: 'a red bicycle', account: { id: 'acct-sec', tier: 'pro' } };

/** Runs `use` with some environment variables set (undefined: removed), restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, use: () => Promise<T> | T): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  try {
    return await use();
  } finally {
    apply(saved);
  }
}

const optionDefault = (command: Command, flag: string) => command.options.find((o) => o.long === flag)?.defaultValue as unknown;

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

describe('network exposure: loopback unless told otherwise', () => {
  test('config, fleet ingress, fleet up and fleet worker default to 127.0.0.1', async () => {
    const config = readConfig({});
    assert.equal(config.ingressHost, '127.0.0.1');
    assert.equal(config.metricsHost, '127.0.0.1');
    assert.equal(readConfig({ FLEET_HOST: '0.0.0.0', FLEET_METRICS_HOST: '0.0.0.0' }).ingressHost, '0.0.0.0', 'told otherwise');
    await withEnv({ FLEET_HOST: undefined, FLEET_METRICS_HOST: undefined }, async () => {
      assert.equal(optionDefault(ingressCommand(), '--host'), '127.0.0.1');
      assert.equal(optionDefault(upCommand(), '--host'), '127.0.0.1');
      const { workerCommand } = await import('../../cli/commands/worker-command.js');
      assert.equal(optionDefault(workerCommand(), '--metrics-host'), '127.0.0.1');
    });
  });

  test('a started ingress listens on 127.0.0.1 only', async () => {
    const prefix = testPrefix();
    const command = ingressCommand();
    const host = optionDefault(command, '--host') as string;
    const ingress = await withEnv({ LOG_LEVEL: 'silent', FLEET_TOKEN: undefined }, () => startIngress({ redis: REDIS_URL, prefix, host, port: 0 }));
    try {
      assert.ok(await canConnect('127.0.0.1', ingress.port));
      const external = externalAddress();
      if (external !== undefined) assert.equal(await canConnect(external, ingress.port), false, `ingress reachable on ${external}`);
    } finally {
      await ingress.close();
      await cleanupPrefix(prefix);
    }
  });

  test('worker metrics listen on 127.0.0.1 by default', async () => {
    const metrics = await startMetricsServer(new Registry(), 0);
    try {
      const address = metrics.server.address();
      assert.ok(typeof address === 'object' && address !== null);
      assert.equal(address.address, '127.0.0.1');
      const external = externalAddress();
      if (external !== undefined) assert.equal(await canConnect(external, metrics.port), false);
    } finally {
      await metrics.close();
    }
  });
});

describe('bearer token (FLEET_TOKEN)', () => {
  const prefix = testPrefix();
  const token = 'tkn-7f3a9c2e41d8b6';
  let ingress: Awaited<ReturnType<typeof startTestIngress>>;
  before(async () => {
    ingress = await startTestIngress({ redis: REDIS_URL, prefix, token });
  });
  after(async () => {
    await ingress?.close();
    await cleanupPrefix(prefix);
  });

  test('guards /generate, /jobs and /metrics; /healthz stays open; the token is never logged', async () => {
    const auth = { authorization: `Bearer ${token}` };
    for (const headers of [{} as Record<string, string>, { authorization: token }, { authorization: `Bearer ${token}x` }, { authorization: 'Bearer ' }, { authorization: `bearer ${token.toUpperCase()}` }]) {
      assert.equal((await ingress.post('/generate', request, headers)).status, 401, JSON.stringify(headers));
    }
    const accepted = await ingress.post('/generate', request, auth);
    assert.equal(accepted.status, 202);
    const { id } = (await accepted.json()) as { id: string };
    assert.equal((await ingress.get(`/jobs/${id}`)).status, 401);
    assert.equal((await ingress.get(`/jobs/${id}`, auth)).status, 200);
    assert.equal((await ingress.get('/metrics')).status, 401);
    assert.equal((await ingress.get('/metrics', auth)).status, 200);
    assert.equal((await ingress.get('/healthz')).status, 200);
    const body = (await (await ingress.post('/generate', request)).json()) as { error: { code: string } };
    assert.equal(body.error.code, 'E_UNAUTHORIZED');
    assert.ok(ingress.logs.length > 0);
    assert.ok(!ingress.logs.join('').includes(token));
  });
});

describe('Redis with a password', () => {
  const password = 'p@ss:w/rd#1 x';
  let redis: StartedRedisServer;
  before(async () => {
    redis = await startRedisServer({ password });
  });
  after(async () => {
    await redis?.stop();
  });

  test('producer and ingress work through redis://:password@…; a wrong password is E_REDIS_UNAVAILABLE', async () => {
    assert.ok(redis.url.includes(encodeURIComponent(password)));
    const prefix = testPrefix();
    const ingress = await startTestIngress({ redis: redis.url, prefix });
    try {
      assert.equal((await ingress.get('/healthz')).status, 200);
      const accepted = await ingress.post('/generate', request);
      assert.equal(accepted.status, 202, await accepted.clone().text());
      const { id } = (await accepted.json()) as { id: string };
      assert.equal((await ingress.get(`/jobs/${id}`)).status, 200);
      assert.equal((await ingress.producer.enqueue({ ...request, idempotencyKey: 'k1' })).duplicate, false);
      assert.equal((await ingress.producer.enqueue({ ...request, idempotencyKey: 'k1' })).duplicate, true);
      assert.ok(!ingress.logs.join('').includes(password) && !ingress.logs.join('').includes(encodeURIComponent(password)));
      assert.equal(redactRedisUrl(redis.url), `redis://:***@127.0.0.1:${redis.port}`);
    } finally {
      await ingress.close();
    }

    const wrong = createProducer({ redis: `redis://:wrong@127.0.0.1:${redis.port}`, prefix });
    try {
      await assert.rejects(() => wrong.ready(1500), (e: unknown) => e instanceof FleetError && e.code === 'E_REDIS_UNAVAILABLE');
      await assert.rejects(() => wrong.enqueue(request), (e: unknown) => e instanceof FleetError && e.code === 'E_REDIS_UNAVAILABLE');
    } finally {
      await wrong.close();
    }
  });
});

describe('Redis over TLS (rediss://)', { skip: opensslInstalled() ? false : 'openssl is not installed' }, () => {
  const password = 'tls-pw-5d1e';
  let certs: TestCertificates;
  let redis: StartedRedisServer;
  before(async () => {
    certs = makeTestCertificates();
    redis = await startRedisServer({ password, tls: certs });
  });
  after(async () => {
    await redis?.stop();
    certs?.remove();
  });

  test('REDIS_TLS_CA_FILE from the environment reaches the producer, the ingress and the CLI', async () => {
    assert.match(redis.url, /^rediss:\/\//);
    const config = readConfig({ REDIS_URL: redis.url, REDIS_TLS_CA_FILE: certs.caFile });
    assert.deepEqual(config.redisTls, { caFile: certs.caFile, rejectUnauthorized: true });
    const prefix = testPrefix();
    const ingress = await startTestIngress({ redis: config.redisUrl, redisTls: config.redisTls, prefix });
    try {
      assert.equal((await ingress.get('/healthz')).status, 200);
      const accepted = await ingress.post('/generate', request);
      assert.equal(accepted.status, 202);
      const { id } = (await accepted.json()) as { id: string };
      assert.equal((await ingress.producer.getJob(id)).state, 'waiting');
      assert.ok(!ingress.logs.join('').includes(password));
    } finally {
      await ingress.close();
    }
    assert.equal(await redisAnswers(redis.url, 3000, { caFile: certs.caFile }), true);
    assert.equal(await redisAnswers(redis.url, 1000), false, 'an untrusted certificate was accepted');
    const pong = await withEnv({ REDIS_TLS_CA_FILE: certs.caFile, REDIS_TLS_INSECURE: undefined }, () => withRedis(redis.url, (r) => r.ping()));
    assert.equal(pong, 'PONG');
  });

  test('an untrusted certificate is refused unless REDIS_TLS_INSECURE=1; plain TCP is not served', async () => {
    const untrusted = createProducer({ redis: redis.url, redisTls: readConfig({}).redisTls, prefix: testPrefix() });
    try {
      await assert.rejects(() => untrusted.ready(1500), (e: unknown) => e instanceof FleetError && e.code === 'E_REDIS_UNAVAILABLE');
    } finally {
      await untrusted.close();
    }
    const insecure = createProducer({ redis: redis.url, redisTls: readConfig({ REDIS_TLS_INSECURE: '1' }).redisTls, prefix: testPrefix() });
    try {
      await insecure.ready(5000);
      assert.equal(await insecure.redis.ping(), 'PONG');
    } finally {
      await insecure.close();
    }
    const plain = createProducer({ redis: redis.url.replace('rediss://', 'redis://'), prefix: testPrefix() });
    try {
      await assert.rejects(() => plain.ready(1000), (e: unknown) => e instanceof FleetError && e.code === 'E_REDIS_UNAVAILABLE');
    } finally {
      await plain.close();
    }
  });
});

describe('secrets never reach the logs', () => {
  test('passwords in URLs, tokens, authorization headers and AWS keys are scrubbed at any depth, in messages and errors', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ destination, bindings: { redisUrl: 'redis://:pw-base-1@10.0.0.5:6379', fleet: 'redis://:pw-base-2@10.0.0.6:6379' } });
    const secret = (n: number) => `sekrit-${n}-zq`;
    logger.info({ redis: `redis://:${secret(3)}@10.0.0.5:6379/0` }, `connecting to rediss://default:${secret(4)}@cache.internal:6380`);
    logger.info('printf %s and %o', `redis://user:${secret(5)}@h:1`, { url: `redis+cluster://:${secret(6)}@10.0.0.1:7000,10.0.0.2:7000` });
    logger.error({ err: new Error(`connect ECONNREFUSED redis://:${secret(7)}@10.0.0.5:6379`) }, 'redis failed');
    logger.error(new Error('enqueue failed', { cause: new Error(`cause: redis://:${secret(8)}@h:6379`) }));
    logger.error({ err: Object.assign(new Error('WRONGPASS invalid username-password pair'), { command: { name: 'auth', args: [secret(9)] } }) }, 'auth failed');
    logger.info({ headers: { Authorization: `Bearer ${secret(10)}`, 'X-Api-Key': secret(11) }, req: { headers: { authorization: `Bearer ${secret(12)}`, cookie: `session=${secret(13)}` } } });
    logger.info({ token: secret(14), options: { fleetToken: secret(15), ingress: { ingressToken: secret(16) } } }, `sent Authorization: Bearer ${secret(17)}`);
    logger.info({ store: { s3: { credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: secret(18) } } }, a: { b: { c: { d: { secretAccessKey: secret(19) } } } } });
    logger.info({ env: { AWS_SECRET_ACCESS_KEY: secret(20), FLEET_TOKEN: secret(21), REDIS_URL: `redis://:${secret(22)}@h:6379`, AWS_SESSION_TOKEN: secret(23) } });
    logger.warn({ link: new URL(`https://user:${secret(24)}@example.com/x`) }, `signed https://b.s3.amazonaws.com/k?X-Amz-Signature=${secret(25)}&X-Amz-Credential=${secret(26)}&x=1`);
    logger.warn(`config: aws_secret_access_key = ${secret(27)}X/K7MDENG/bPxRfiCY and password=${secret(28)}`);
    logger.child({ redis: `redis://:${secret(29)}@h:6379` }).info({ nested: [{ password: secret(30) }] }, 'child');

    const output = lines.join('');
    const leaked = [1, 2].map((n) => `pw-base-${n}`).concat(Array.from({ length: 28 }, (_, i) => secret(i + 3))).filter((s) => output.includes(s));
    assert.deepEqual(leaked, [], `leaked: ${leaked.join(', ')}\n${output}`);
    // What is not secret survives, so the logs stay useful.
    for (const kept of ['10.0.0.5:6379', 'cache.internal:6380', 'redis+cluster://', 'ECONNREFUSED', 'WRONGPASS', 'enqueue failed', 'example.com/x', 'x=1']) {
      assert.ok(output.includes(kept), `${kept} missing from the logs`);
    }
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(parsed.length, 12);
    const errLine = parsed[2] as { err: { type: string; message: string; stack: string } };
    assert.equal(errLine.err.type, 'Error');
    assert.match(errLine.err.message, /^connect ECONNREFUSED redis:\/\/\*\*\*@10\.0\.0\.5:6379$/);
    assert.match(errLine.err.stack, /ECONNREFUSED/);
    assert.equal((parsed[3] as { msg: string }).msg, 'enqueue failed');
  });
});

describe('artifact and source keys cannot leave the store prefix', () => {
  const HOSTILE_KEYS = [
    '..', '.', '../x.png', 'a/../../x.png', 'renders/../../etc/passwd', 'a/./b.png', '/etc/passwd', '//host/share/x', 'a//b.png', 'a/', '/',
    '%2e%2e/x.png', '%2E%2E%2Fx.png', 'a/%2e%2e/%2e%2e/x', '..\\x.png', 'renders\\..\\..\\x.png', 'C:\\x.png', 'a\u0000.png', 'a.png\u0000../../x',
    '~/x.png', '$HOME/x', 'file:///etc/passwd', 's3://other-bucket/x', 'a/\u2025/x', 'a/\uff0e\uff0e/x', 'x'.repeat(513), '', ' ', 'a b.png', 'a/\n/b',
  ];
  const VALID_KEYS = ['a.png', 'flash/flash.123e4567-e89b-12d3-a456-426614174000.png', 'renders/2024/01/x_y-z.webp', 'a..b.png', '.hidden', 'a/.b/c..'];

  test('storeKeySchema and assertStoreKey refuse every hostile key and accept ordinary ones', () => {
    for (const key of HOSTILE_KEYS) {
      assert.equal(storeKeySchema.safeParse(key).success, false, `schema accepted ${JSON.stringify(key)}`);
      assert.throws(() => assertStoreKey(key), RangeError, JSON.stringify(key));
    }
    for (const key of VALID_KEYS) {
      assert.equal(storeKeySchema.safeParse(key).success, true, key);
      assert.doesNotThrow(() => assertStoreKey(key));
    }
  });

  test('FileStore refuses escaping keys and symbolic links out of its root; nothing is written outside', async () => {
    const base = mkdtempSync(join(tmpdir(), 'fleet-store-sec-'));
    try {
      const root = join(base, 'renders');
      const outside = join(base, 'outside');
      mkdirSync(root);
      mkdirSync(outside);
      writeFileSync(join(outside, 'secret.txt'), 'top secret');
      symlinkSync(outside, join(root, 'link'));
      symlinkSync(join(outside, 'secret.txt'), join(root, 'secret.png'));
      const store = new FileStore(root);
      for (const key of HOSTILE_KEYS) {
        await assert.rejects(() => store.put(key, Buffer.from('x'), 'image/png'), RangeError, JSON.stringify(key));
        await assert.rejects(() => store.get(key), (e: unknown) => e instanceof FleetError && e.code === 'E_SOURCE', JSON.stringify(key));
        await assert.rejects(() => store.exists(key), RangeError, JSON.stringify(key));
      }
      await assert.rejects(() => store.put('link/x.png', Buffer.from('x'), 'image/png'), /leaves the store/);
      await assert.rejects(() => store.get('link/secret.txt'), (e: unknown) => e instanceof FleetError && e.code === 'E_SOURCE');
      await assert.rejects(() => store.get('secret.png'), (e: unknown) => e instanceof FleetError && e.code === 'E_SOURCE');
      await assert.rejects(() => store.exists('secret.png'), /leaves the store/);
      assert.deepEqual(readdirSync(outside), ['secret.txt']);
      assert.deepEqual(readdirSync(base).sort(), ['outside', 'renders']);
      const stored = await store.put('flash/ok.png', Buffer.from('png'), 'image/png');
      assert.equal(stored.key, 'flash/ok.png');
      assert.equal((await store.get('flash/ok.png')).toString(), 'png');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  describe('S3Store on a real S3 protocol server (s3rver)', () => {
    let s3: Awaited<ReturnType<typeof startS3rver>>;
    before(async () => {
      s3 = await startS3rver('fleet-sec');
    });
    after(async () => {
      await s3?.stop();
    });

    test('refuses escaping keys before any request; ordinary keys land under the prefix', async () => {
      const store = new S3Store({ bucket: s3.bucket, prefix: 'tenant-a', endpoint: s3.endpoint, credentials: S3_TEST_CREDENTIALS, maxAttempts: 1 });
      const other = new S3Store({ bucket: s3.bucket, prefix: 'tenant-b', endpoint: s3.endpoint, credentials: S3_TEST_CREDENTIALS, maxAttempts: 1 });
      const root = new S3Store({ bucket: s3.bucket, endpoint: s3.endpoint, credentials: S3_TEST_CREDENTIALS, maxAttempts: 1 });
      try {
        await other.put('secret.png', Buffer.from('tenant b'), 'image/png');
        for (const key of [...HOSTILE_KEYS, '../tenant-b/secret.png', '..%2ftenant-b%2fsecret.png']) {
          await assert.rejects(() => store.put(key, Buffer.from('x'), 'image/png'), RangeError, JSON.stringify(key));
          await assert.rejects(() => store.get(key), RangeError, JSON.stringify(key));
          await assert.rejects(() => store.exists(key), RangeError, JSON.stringify(key));
        }
        const stored = await store.put('flash/ok.png', Buffer.from('png'), 'image/png');
        assert.equal(stored.url, `s3://${s3.bucket}/tenant-a/flash/ok.png`);
        assert.equal((await store.get('flash/ok.png')).toString(), 'png');
        assert.deepEqual(await root.list(), ['tenant-a/flash/ok.png', 'tenant-b/secret.png']);
        assert.equal((await other.get('secret.png')).toString(), 'tenant b');
      } finally {
        await Promise.all([store.close(), other.close(), root.close()]);
      }
    });
  });
});
