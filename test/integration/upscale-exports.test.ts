// Real-ESRGAN-style exports dropped into a models folder, served by a real worker on real Redis: the official
// pytorch2onnx.py signature (static 1×3×64×64 `input.1`, opset 11; test/helpers/realesrgan-graph.ts cites it) as
// upscale-x4, and a dynamic fp16 pixel-unshuffle x2plus-shaped export as upscale-x2.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { GenerateRequestInput, JobView } from '../../contract/index.js';
import type { Producer } from '../../producer/index.js';
import { buildRrdbNetGraph, type RrdbNetGraphSpec } from '../helpers/realesrgan-graph.js';
import { cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-exports', tier: 'pro' as const };

function dropIn(root: string, name: string, scale: 2 | 4, graph: RrdbNetGraphSpec, tile?: { sizePx: number; overlapPx: number }): void {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), buildRrdbNetGraph({ seed: 3, ...graph }));
  const manifest = {
    schemaVersion: 1, pipeline: 'upscale', name, lanes: ['upscale'], sizes: { min: 8, max: 1024 }, scale, valueRange: 1,
    ...(tile === undefined ? {} : { tile }), residentBytes: 1_000_000, activationBytesPerMegapixel: 100_000_000, costUnitsPerImage: 1,
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
}

async function photoLike(width: number, height: number): Promise<Buffer> {
  const svg = `<svg width="${width}" height="${height}"><rect width="100%" height="100%" fill="#c05028"/><circle cx="${width / 2}" cy="${height / 2}" r="${height / 3}" fill="#2050c0"/><rect x="3" y="4" width="${width / 3}" height="5" fill="#f0f0a0"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

async function psnrAgainstBicubic(source: Buffer, output: Buffer): Promise<number> {
  const { data, info } = await sharp(output).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const bicubic = await sharp(source).removeAlpha().resize(info.width, info.height, { kernel: 'cubic' }).raw().toBuffer();
  let squared = 0;
  for (let i = 0; i < data.length; i++) squared += (data[i]! - bicubic[i]!) ** 2;
  return 10 * Math.log10((255 * 255 * data.length) / squared);
}

describe('Real-ESRGAN-shaped exports through a real worker: static 64×64 ×4, dynamic fp16 pixel-unshuffle ×2', () => {
  const prefix = testPrefix();
  const models = mkdtempSync(join(tmpdir(), 'fleet-exports-'));
  let producer: Producer;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;

  before(async () => {
    // The static export's overlap comes from its graph; the dynamic one computes its view shape at run time, so
    // its manifest declares the overlap (twice its 13.5 px receptive field, plus 2).
    dropIn(models, 'upscale-x4', 4, { scale: 4, staticSidePx: 64 });
    dropIn(models, 'upscale-x2', 2, { scale: 2, precision: 'float16' }, { sizePx: 48, overlapPx: 30 });
    fleet = await startTestWorker(prefix, { lanes: ['upscale'], modelsDir: models });
    producer = await startTestProducer(prefix);
  });
  after(async () => {
    await producer.close();
    await fleet.stop();
    await cleanupPrefix(prefix);
    rmSync(models, { recursive: true, force: true });
  });

  async function upscale(request: Omit<GenerateRequestInput, 'account' | 'prompt' | 'intent'>): Promise<JobView> {
    const receipt = await producer.enqueue({ prompt: 'upscale', intent: 'upscale', account, ...request });
    const view = await producer.waitForResult(receipt.id, { timeoutMs: 60_000 });
    assert.equal(view.state, 'completed', `${receipt.id}: ${JSON.stringify(view.error)}`);
    return view;
  }

  test('×4 on the static export: tiles of 64, a side shorter than a tile reflect-padded, output cropped', async () => {
    const source = await photoLike(150, 45);
    await fleet.store.put('sources/static.png', source, 'image/png');
    const view = await upscale({ scale: 4, source: { key: 'sources/static.png' } });
    assert.equal(view.model, 'upscale-x4');
    const output = await fleet.store.get(view.result!.image.key);
    const meta = await sharp(output).metadata();
    assert.deepEqual([meta.width, meta.height], [600, 180]);
    assert.ok((await psnrAgainstBicubic(source, output)) > 24, 'an upscale of the source');
  });

  test('×2 on the fp16 pixel-unshuffle export: odd sides padded to its factor of 2', async () => {
    const source = await photoLike(77, 51);
    await fleet.store.put('sources/odd.png', source, 'image/png');
    const view = await upscale({ source: { key: 'sources/odd.png' } });
    assert.equal(view.model, 'upscale-x2');
    const output = await fleet.store.get(view.result!.image.key);
    const meta = await sharp(output).metadata();
    assert.deepEqual([meta.width, meta.height], [154, 102]);
    assert.ok((await psnrAgainstBicubic(source, output)) > 24, 'an upscale of the source');
  });
});
