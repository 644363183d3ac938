import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { LANES } from '../../contract/index.js';
import { createProducer } from '../../producer/index.js';
import { fleetJson, runFleet } from '../helpers/fleet-cli.js';
import { cleanupPrefix, countAllJobs, REDIS_URL, testPrefix } from '../helpers/redis.js';

describe('fleet enqueue: one request from the command line', () => {
  const prefix = testPrefix();
  const storeDir = mkdtempSync(join(tmpdir(), 'fleet-enqueue-store-'));
  const store = `file://${storeDir}`;
  const base = ['enqueue', '--prefix', prefix, '--redis', REDIS_URL, '--store', store, '--prompt', 'a red fox'];
  const png = (width: number, height: number, channels: 1 | 3) =>
    sharp(Buffer.alloc(width * height * channels, 200), { raw: { width, height, channels } }).png().toBuffer();

  before(async () => {
    mkdirSync(join(storeDir, 'sources'));
    mkdirSync(join(storeDir, 'masks'));
    writeFileSync(join(storeDir, 'sources/fox.png'), await png(512, 512, 3));
    writeFileSync(join(storeDir, 'sources/poster.png'), await png(1600, 1200, 3));
    writeFileSync(join(storeDir, 'masks/fox.png'), await png(512, 512, 1));
    writeFileSync(join(storeDir, 'masks/small.png'), await png(128, 128, 1));
  });
  after(async () => {
    await cleanupPrefix(prefix);
    rmSync(storeDir, { recursive: true, force: true });
  });

  test('an edit with its mask and strength is enqueued as the ingress would take it, routed by the size of its stored source', async () => {
    const receipt = await fleetJson<{ id: string; lane: string; model: string; policy: { rule: string } }>([
      ...base, '--intent', 'edit', '--source', 'sources/fox.png', '--mask', 'masks/fox.png', '--strength', '0.6', '--seed', '7',
    ]);
    // The default policy's small-edit rule; a 1600x1200 source below takes the large one, so the source was read.
    assert.deepEqual([receipt.lane, receipt.model, receipt.policy.rule], ['flash', 'flash-v1', 'edits']);
    const producer = createProducer({ redis: REDIS_URL, prefix });
    try {
      const view = await producer.getJob(receipt.id);
      assert.deepEqual(
        { lane: view.lane, intent: view.request.intent, source: view.request.source, mask: view.request.mask, strength: view.request.strength, seed: view.request.seed },
        { lane: 'flash', intent: 'edit', source: { key: 'sources/fox.png' }, mask: { key: 'masks/fox.png' }, strength: 0.6, seed: 7 },
      );
    } finally {
      await producer.close();
    }
    const large = await fleetJson<{ lane: string; model: string; policy: { rule: string } }>([...base, '--intent', 'edit', '--source', 'sources/poster.png']);
    assert.deepEqual([large.lane, large.model, large.policy.rule], ['large', 'large-v1', 'edit-large']);
  });

  test('bad edit input (a mask without an edit, strength out of range, an empty mask key, a missing source, a mask of another size): exit 2 naming the field, nothing enqueued', async () => {
    const producer = createProducer({ redis: REDIS_URL, prefix });
    const jobs = async () => (await countAllJobs(LANES.map((lane) => producer.laneQueue(lane)))).reduce((a, b) => a + b, 0);
    const edit = ['--intent', 'edit', '--source', 'sources/fox.png'];
    try {
      const before = await jobs();
      for (const [args, pattern] of [
        [['--mask', 'masks/fox.png'], /\[E_VALIDATION\] mask: is only allowed when intent is 'edit' \(field mask\); nothing was enqueued/],
        [[...edit, '--strength', '0'], /\[E_VALIDATION\] strength: must be greater than 0.*\(field strength\); nothing was enqueued/],
        [[...edit, '--strength', '1.5'], /\[E_VALIDATION\] strength: must be at most 1.*\(field strength\); nothing was enqueued/],
        [[...edit, '--strength', 'half'], /strength must be a number, got "half"/],
        [[...edit, '--mask', ''], /\[E_VALIDATION\] mask\.key: .*\(field mask\.key\); nothing was enqueued/],
        [['--intent', 'edit', '--source', 'sources/gone.png'], /\[E_SOURCE\] source\.key: no stored object sources\/gone\.png \(field source\.key\); nothing was enqueued/],
        [[...edit, '--mask', 'masks/small.png'], /\[E_VALIDATION\] mask\.key: the mask is 128x128 but its source is 512x512.*\(field mask\.key\); nothing was enqueued/],
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
