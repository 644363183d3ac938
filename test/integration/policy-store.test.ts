import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { policyKey } from '../../contract/index.js';
import { createProducer, type Producer } from '../../producer/index.js';
import { loadDefaultPolicy, PolicyStore, RedisPolicySource } from '../../router/index.js';
import { canaryPolicy } from '../helpers/canary-policy.js';
import { PROMPTS_MISSING, PROMPTS_PATH, readPrompts } from '../helpers/prompts.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';

const run = promisify(execFile);
const preview = { prompt: 'a calm lake at dawn', account: { id: 'acct-hot', tier: 'pro' } };

/** The default policy with pro previews moved to flash-v2, so a switch is visible on one request. */
function previewsOnV2() {
  const base = loadDefaultPolicy();
  return { ...base, name: 'previews-on-v2', rules: base.rules.map((r) => (r.id === 'previews' ? { ...r, model: 'flash-v2' } : r)) };
}

async function untilVersion(producer: Producer, version: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const receipt = await producer.enqueue(preview);
    if (receipt.policy.version === version) return Date.now() - started;
    if (Date.now() - started > timeoutMs) assert.fail(`still on v${receipt.policy.version} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('policy store, hot switch and rollback on real Redis', () => {
  let redis: Redis;

  before(() => {
    redis = new Redis(REDIS_URL);
  });
  after(() => redis.disconnect());

  /** Each test its own prefix: a store and a producer on it, so no test depends on what another applied. */
  async function withPolicyFleet(body: (fleet: { prefix: string; store: PolicyStore; producer: Producer }) => Promise<void>): Promise<void> {
    const prefix = testPrefix();
    const producer = createProducer({ redis: REDIS_URL, prefix });
    try {
      await producer.ready();
      await body({ prefix, store: new PolicyStore(redis, prefix), producer });
    } finally {
      await producer.close();
      await cleanupPrefix(prefix);
    }
  }

  test('an empty store serves the shipped default as version 1', () =>
    withPolicyFleet(async ({ store, producer }) => {
      const receipt = await producer.enqueue(preview);
      assert.deepEqual(receipt.policy, { version: 1, rule: 'previews' });
      assert.equal((await store.active()).author, 'image-fleet');
    }));

  test('apply switches a running producer within 1 s; in-flight jobs keep their version', () =>
    withPolicyFleet(async ({ store, producer }) => {
      const inFlight = await producer.enqueue(preview);
      const applied = await store.apply(previewsOnV2(), { author: 'ops@test', comment: 'try flash-v2' });
      assert.equal(applied.version, 2);
      const switchMs = await untilVersion(producer, 2, 1000);
      assert.ok(switchMs < 1000, `switched after ${switchMs} ms`);
      const next = await producer.enqueue(preview);
      assert.equal(next.model, 'flash-v2');
      const old = await producer.getJob(inFlight.id);
      assert.deepEqual(old.policy, { version: 1, rule: 'previews' });
      assert.equal(old.model, 'flash-v1');
    }));

  test('an invalid policy is refused with the exact path and the active one stays', () =>
    withPolicyFleet(async ({ store, producer }) => {
      await store.apply(previewsOnV2(), { comment: 'try flash-v2' });
      await untilVersion(producer, 2, 1000);
      const broken = { ...previewsOnV2(), rules: [{ id: 'only', when: { tier: ['gold'] }, lane: 'flash', model: 'flash-v1' }, { id: 'd', lane: 'flash', model: 'flash-v1' }] };
      await assert.rejects(store.apply(broken), (e: unknown) => (e as { code: string }).code === 'E_POLICY_INVALID' && (e as { field: string }).field === 'rules.0.when.tier.0');
      assert.equal(await store.activeVersion(), 2);
      assert.equal((await producer.enqueue(preview)).policy.version, 2);
    }));

  test('rollback returns to the previous version in one step, and --to N goes anywhere', () =>
    withPolicyFleet(async ({ store, producer }) => {
      await store.apply(previewsOnV2(), { author: 'ops@test', comment: 'try flash-v2' });
      await store.apply(canaryPolicy(25), { comment: 'canary' });
      assert.equal(await store.activeVersion(), 3);
      const back = await store.rollback({ comment: 'canary looked bad' });
      assert.deepEqual([back.previous, back.version], [3, 2]);
      await untilVersion(producer, 2, 1000);
      const again = await store.rollback();
      assert.equal(again.version, 1);
      await untilVersion(producer, 1, 1000);
      await assert.rejects(store.rollback(), (e: unknown) => (e as { code: string }).code === 'E_NOT_FOUND');
      await store.rollback({ to: 3 });
      await untilVersion(producer, 3, 1000);
      const history = await store.history();
      assert.deepEqual(history.map((h) => `${h.action}:${h.version}`), ['seed:1', 'apply:2', 'apply:3', 'rollback:2', 'rollback:1', 'rollback:3']);
      assert.equal(history[3]!.comment, 'canary looked bad');
      const versions = await store.versions();
      assert.deepEqual(versions.map((v) => v.version), [1, 2, 3]);
      assert.equal(versions[1]!.author, 'ops@test');
      assert.ok(versions.every((v) => v.createdAt > 0));
    }));

  test('concurrent applies and rollbacks keep versions, stack and history consistent', async () => {
    const concurrentPrefix = testPrefix();
    const stores = Array.from({ length: 6 }, () => new PolicyStore(redis, concurrentPrefix));
    try {
      await stores[0]!.active();
      await Promise.all(stores.map((s, i) => s.apply(previewsOnV2(), { comment: `apply ${i}` })));
      await Promise.all(stores.slice(0, 3).map((s) => s.rollback()));
      const history = await stores[0]!.history();
      for (let i = 1; i < history.length; i++) assert.equal(history[i]!.previous, history[i - 1]!.version, `activation ${i} records what was active`);
      assert.deepEqual((await stores[0]!.versions()).map((v) => v.version), [1, 2, 3, 4, 5, 6, 7]);
      assert.equal(await stores[0]!.activeVersion(), history.at(-1)!.version);
      assert.equal(history.filter((h) => h.action === 'rollback').length, 3);
    } finally {
      await cleanupPrefix(concurrentPrefix);
    }
  });

  test('without the change message, the periodic check still switches within 1 s', () =>
    withPolicyFleet(async ({ prefix, store }) => {
      await store.apply(previewsOnV2(), { comment: 'a second version to switch to' });
      const source = new RedisPolicySource({ redis, prefix, pollIntervalMs: 500 });
      await source.start();
      try {
        const target = source.current().version === 1 ? 2 : 1;
        await redis.set(policyKey(prefix, 'active'), String(target)); // no PUBLISH
        const started = Date.now();
        while (source.current().version !== target) {
          assert.ok(Date.now() - started < 1000, 'poll fallback took over 1 s');
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        await source.close();
      }
    }));

  test('fleet policy explain --jsonl routes every recorded request to its lane', async (t) => {
    const prompts = readPrompts();
    if (prompts === undefined) return t.skip(PROMPTS_MISSING);
    const explainPrefix = testPrefix();
    try {
      const child = execFile(process.execPath, ['bin/fleet.js', 'policy', 'explain', '--jsonl', '--redis', REDIS_URL, '--prefix', explainPrefix]);
      child.stdin!.end(readFileSync(PROMPTS_PATH));
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      const code = await new Promise((resolve) => child.on('exit', resolve));
      assert.equal(code, 0);
      const decisions = out.trim().split('\n').map((l) => JSON.parse(l) as { lane: string; policyVersion: number });
      assert.equal(decisions.length, prompts.length);
      assert.deepEqual(decisions.map((d) => d.lane), prompts.map((p) => p.lane));
      assert.ok(decisions.every((d) => d.policyVersion === 1));
      const invalid = await run(process.execPath, ['bin/fleet.js', 'policy', 'apply', 'package.json', '--redis', REDIS_URL, '--prefix', explainPrefix]).catch((e) => e);
      assert.equal(invalid.code, 1);
      assert.match(invalid.stderr, /E_POLICY_INVALID/);
    } finally {
      await cleanupPrefix(explainPrefix);
    }
  });
});
