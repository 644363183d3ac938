import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger, FleetError, storeKeySchema } from '../../contract/index.js';
import { assertStoreKey } from '../../workers/stores/artifact-store.js';
import { FileStore } from '../../workers/stores/file-store.js';
import { HOSTILE_KEYS, VALID_KEYS } from '../helpers/hostile-keys.js';

// The security checks that need nothing running (the ones on Redis, the ingress and S3 are in
// test/integration/security.test.ts).

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
});
