import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { Command } from 'commander';
import { Registry } from 'prom-client';
import { FleetError, readConfig, redactRedisUrl } from '../../contract/index.js';
import { createProducer } from '../../producer/index.js';
import { withRedis } from '../../cli/open-redis.js';
import { ingressCommand, startIngress } from '../../cli/commands/ingress-command.js';
import { upCommand } from '../../cli/commands/up-command.js';
import { redisAnswers, startRedisServer, type StartedRedisServer } from '../../cli/local-redis.js';
import { S3Store } from '../../workers/stores/s3-store.js';
import { startMetricsServer } from '../../workers/metrics/metrics-server.js';
import { HOSTILE_KEYS } from '../helpers/hostile-keys.js';
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

describe('artifact and source keys cannot leave the store prefix', () => {
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
