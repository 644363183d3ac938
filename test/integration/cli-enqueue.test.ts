import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { LANES } from '../../contract/index.js';
import { createProducer } from '../../producer/index.js';
import { fleetJson, runFleet } from '../helpers/fleet-cli.js';
import { cleanupPrefix, countAllJobs, REDIS_URL, testPrefix } from '../helpers/redis.js';

describe('fleet enqueue: one request from the command line', () => {
  const prefix = testPrefix();
  after(() => cleanupPrefix(prefix));

  test('an edit with its mask and strength is enqueued as the ingress would take it', async () => {
    const receipt = await fleetJson<{ id: string; lane: string; policy: { rule: string } }>([
      'enqueue', '--prefix', prefix, '--redis', REDIS_URL,
      '--prompt', 'a red fox', '--intent', 'edit', '--source', 'sources/fox.png', '--mask', 'masks/fox.png', '--strength', '0.6', '--seed', '7',
    ]);
    const producer = createProducer({ redis: REDIS_URL, prefix });
    try {
      const view = await producer.getJob(receipt.id);
      assert.equal(view.lane, receipt.lane);
      assert.equal(view.policy.rule, receipt.policy.rule);
      assert.deepEqual(
        { intent: view.request.intent, source: view.request.source, mask: view.request.mask, strength: view.request.strength, seed: view.request.seed },
        { intent: 'edit', source: { key: 'sources/fox.png' }, mask: { key: 'masks/fox.png' }, strength: 0.6, seed: 7 },
      );
    } finally {
      await producer.close();
    }
  });

  test('a mask without an edit, a strength of 0 or over 1: exit 2 naming the field, nothing enqueued', async () => {
    const base = ['enqueue', '--prefix', prefix, '--redis', REDIS_URL, '--prompt', 'a red fox'];
    const producer = createProducer({ redis: REDIS_URL, prefix });
    const jobs = async () => (await countAllJobs(LANES.map((lane) => producer.laneQueue(lane)))).reduce((a, b) => a + b, 0);
    try {
      const before = await jobs();
      for (const [args, pattern] of [
        [['--mask', 'masks/fox.png'], /\[E_VALIDATION\] mask: is only allowed when intent is 'edit' \(field mask\); nothing was enqueued/],
        [['--intent', 'edit', '--source', 'sources/fox.png', '--strength', '0'], /\[E_VALIDATION\] strength: must be greater than 0.*\(field strength\); nothing was enqueued/],
        [['--intent', 'edit', '--source', 'sources/fox.png', '--strength', '1.5'], /strength must be a number 0–1/],
      ] as const) {
        const run = await runFleet([...base, ...args]);
        assert.equal(run.code, 2, `${args.join(' ')}: exit ${run.code}\n${run.stderr}`);
        assert.match(run.stderr, pattern);
      }
      assert.equal(await jobs(), before, 'a refused request is never enqueued');
    } finally {
      await producer.close();
    }
  });
});
