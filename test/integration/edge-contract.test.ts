import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { FleetError, readModelCatalogue, type ModelCatalogue } from '../../contract/index.js';
import type { Producer } from '../../producer/index.js';
import { loadDefaultPolicy, PolicyStore } from '../../router/index.js';
import { storeSourceImageInspector } from '../../workers/index.js';
import { fleetJson, runFleet, waitUntil } from '../helpers/fleet-cli.js';
import { startTestIngress } from '../helpers/ingress.js';
import { cleanupPrefix, countAllJobs, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-edge', tier: 'pro' as const };

const png = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: { r: 90, g: 120, b: 200 } } }).png().toBuffer();

describe('the edge contract on real Redis with a real worker: requests and policies checked against the models workers serve', () => {
  const prefix = testPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'fleet-edge-'));
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  let producer: Producer;
  let catalogue: ModelCatalogue;
  const allJobs = () => countAllJobs((['flash', 'large', 'typography', 'upscale'] as const).map((lane) => producer.laneQueue(lane)));

  before(async () => {
    fleet = await startTestWorker(prefix);
    producer = await startTestProducer(prefix, { sources: storeSourceImageInspector(fleet.store) });
    // Nothing here needs a render: paused lanes keep accepted jobs waiting (and the worker's stop quick).
    for (const lane of ['flash', 'large', 'typography', 'upscale'] as const) await producer.laneQueue(lane).pause();
    const admin = producer.redis;
    await waitUntil('the worker to publish its catalogue', async () => (catalogue = await readModelCatalogue(admin, prefix)).workers === 1);
    await fleet.store.put('sources/big.png', await png(1100, 600), 'image/png');
    await fleet.store.put('sources/ok.png', await png(300, 200), 'image/png');
    await fleet.store.put('sources/text.png', Buffer.from('not an image at all'), 'image/png');
  });
  after(async () => {
    await producer?.close();
    await fleet?.stop();
    await cleanupPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the worker publishes each model with its lanes, cost and limits', () => {
    const flash = catalogue.models['flash-v1']!;
    assert.deepEqual({ kind: flash.kind, lanes: flash.lanes, steps: flash.steps, cost: flash.costUnitsPerImage }, { kind: 'diffusion', lanes: ['flash'], steps: { default: 4, max: 8 }, cost: 1 });
    const x4 = catalogue.models['upscale-x4']!;
    assert.deepEqual({ kind: x4.kind, scale: x4.scale, sizes: x4.sizes }, { kind: 'upscale', scale: 4, sizes: { min: 16, max: 1024, multipleOf: 1 } });
    assert.ok(catalogue.models['large-v1']!.lanes.includes('large'));
  });

  test('more steps than the model runs, or a source over its size: 400 E_VALIDATION naming the field and the range; nothing enqueued', async () => {
    const before = await allJobs();
    await assert.rejects(producer.enqueue({ prompt: 'a red bicycle', steps: 50, account }), (e: unknown) => {
      assert.ok(e instanceof FleetError);
      assert.equal(e.code, 'E_VALIDATION');
      assert.equal(e.field, 'steps');
      assert.match(e.message, /flash-v1 runs 1–8 steps, got 50/);
      assert.deepEqual(e.details?.allowed, { min: 1, max: 8 });
      return true;
    });
    await assert.rejects(producer.enqueue({ prompt: 'sharpen', intent: 'upscale', source: { key: 'sources/big.png' }, scale: 4, account }), (e: unknown) => {
      assert.ok(e instanceof FleetError);
      assert.equal(e.field, 'source.key');
      assert.match(e.message, /upscale-x4 takes sources of 16–1024 px per side, multiple of 1, got 1100x600/);
      return true;
    });
    await assert.rejects(producer.enqueue({ prompt: 'sharpen', intent: 'upscale', source: { key: 'sources/missing.png' }, account }), (e: unknown) => e instanceof FleetError && e.code === 'E_SOURCE' && e.field === 'source.key');
    await assert.rejects(producer.enqueue({ prompt: 'sharpen', intent: 'upscale', source: { key: 'sources/text.png' }, account }), (e: unknown) => e instanceof FleetError && e.code === 'E_SOURCE');
    assert.deepEqual(await allJobs(), before);
    // Within the limits the same requests are accepted; the ×2 model takes the big source.
    assert.equal((await producer.enqueue({ prompt: 'a red bicycle', steps: 8, account })).lane, 'flash');
    assert.equal((await producer.enqueue({ prompt: 'sharpen', intent: 'upscale', source: { key: 'sources/big.png' }, account })).model, 'upscale-x2');
  });

  test('over HTTP the refusal is a 400 with the field; the routing features are those of the effective request', async () => {
    const ingress = await startTestIngress({ redis: REDIS_URL, prefix });
    try {
      const response = await ingress.post('/generate', { prompt: 'a harbor at dusk', intent: 'export', steps: 90, account });
      assert.equal(response.status, 400);
      const body = (await response.json()) as { error: { code: string; field: string; message: string } };
      assert.deepEqual([body.error.code, body.error.field], ['E_VALIDATION', 'steps']);
      assert.match(body.error.message, /large-v1 runs 1–50 steps/);
    } finally {
      await ingress.close();
    }
    const preview = await producer.route({ prompt: 'a fox', account });
    assert.equal(preview.features.megapixels, (512 * 512) / 1e6, 'a request without a size has its lane default');
    const upscale = await producer.route({ prompt: 'sharpen', intent: 'upscale', source: { key: 'sources/ok.png' }, account });
    assert.equal(upscale.features.scale, 2, 'the default scale');
    assert.equal(upscale.features.megapixels, (600 * 400) / 1e6, "an upscale's size is its source's × scale");
  });

  test('the same idempotency key with another request is 409 E_IDEMPOTENCY_CONFLICT; with the same request, the same job', async () => {
    const request = { prompt: 'a calm lake', account, idempotencyKey: 'edge-order-1' };
    const first = await producer.enqueue(request);
    assert.equal((await producer.enqueue(request)).id, first.id);
    const before = await allJobs();
    await assert.rejects(producer.enqueue({ ...request, prompt: 'a stormy sea' }), (e: unknown) => e instanceof FleetError && e.code === 'E_IDEMPOTENCY_CONFLICT' && e.httpStatus === 409 && e.field === 'idempotencyKey');
    await assert.rejects(producer.enqueue({ ...request, steps: 2 }), (e: unknown) => (e as FleetError).code === 'E_IDEMPOTENCY_CONFLICT');
    assert.deepEqual(await allJobs(), before);
  });

  test('fleet policy apply and test refuse a policy the workers cannot serve, with the rule id; --force applies with a warning', async () => {
    const store = new PolicyStore(producer.redis, prefix);
    const activeBefore = (await store.active()).version;
    const broken = { name: 'broken', rules: [{ id: 'to-nowhere', when: { intent: ['export'] }, lane: 'large', model: 'large-v9' }, { id: 'wrong-lane', lane: 'flash', model: 'large-v1' }] };
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify(broken));
    const requests = join(dir, 'requests.jsonl');
    writeFileSync(requests, [{ prompt: 'a fox', account }, { prompt: 'a harbor', intent: 'export', account }].map((r) => JSON.stringify(r)).join('\n'));

    const refused = await runFleet(['policy', 'apply', file, '--prefix', prefix]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /rule to-nowhere: routes to model large-v9, which no worker serves/);
    assert.match(refused.stderr, /rule wrong-lane: routes lane flash to model large-v1, which workers serve only on large/);
    assert.ok(!/\n\s+at /.test(refused.stderr), `a stack trace: ${refused.stderr}`);
    assert.equal(await store.activeVersion(), activeBefore);

    const tested = await runFleet(['policy', 'test', file, '--requests', requests, '--prefix', prefix]);
    assert.equal(tested.code, 1);
    assert.match(tested.stderr, /rule to-nowhere/);

    const forced = await runFleet(['policy', 'apply', file, '--force', '--prefix', prefix]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /warning: 2 target\(s\) the fleet cannot serve/);
    assert.equal(await store.activeVersion(), activeBefore + 1);
    await store.rollback();
  });

  test('policy test prices renders with the models\' own cost units; show --json round-trips into apply; a models table is refused', async () => {
    const dearer = { name: 'previews-on-large', rules: [{ id: 'everything', lane: 'large', model: 'large-v1' }] };
    const file = join(dir, 'dearer.json');
    writeFileSync(file, JSON.stringify(dearer));
    const requests = join(dir, 'previews.jsonl');
    writeFileSync(requests, [1, 2, 3].map((i) => JSON.stringify({ prompt: `a fox ${i}`, account })).join('\n'));
    const impact = await fleetJson<{ costPerRender: { active: number; candidate: number; ratio: number; unknownCost: number } }>(['policy', 'test', file, '--requests', requests, '--prefix', prefix]);
    assert.deepEqual(impact.costPerRender, { active: 1, candidate: 6, ratio: 6, unknownCost: 0 });

    const shown = await runFleet(['policy', 'show', '--json', '--prefix', prefix]);
    assert.equal(shown.code, 0, shown.stderr);
    const showFile = join(dir, 'shown.json');
    writeFileSync(showFile, shown.stdout);
    const reapplied = await fleetJson<{ version: number; document: unknown }>(['policy', 'apply', showFile, '--prefix', prefix]);
    assert.deepEqual(reapplied.document, (JSON.parse(shown.stdout) as { document: unknown }).document);

    const legacy = join(dir, 'legacy.json');
    writeFileSync(legacy, JSON.stringify({ ...loadDefaultPolicy(), models: { 'flash-v1': { costUnits: 1 } } }));
    const refused = await runFleet(['policy', 'apply', legacy, '--prefix', prefix]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /models: cost units come from the models themselves/);
  });
});
