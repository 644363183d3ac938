import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { FleetError } from '../../contract/index.js';
import { ModelRepository } from '../../workers/models/model-repository.js';
import { loadPipeline, type RawImage, type UpscalePipeline } from '../../workers/pipelines/index.js';
import { planAxis } from '../../workers/pipelines/tile-plan.js';
import { buildModels } from '../../scripts/build-models.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');

/** A deterministic test card: gradients plus hard-edged squares (edges make seams visible). */
function testCard(width: number, height: number): RawImage {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const square = (Math.floor(x / 7) + Math.floor(y / 5)) % 2 === 0;
      pixels[o] = Math.round((255 * x) / width);
      pixels[o + 1] = square ? 220 : 30;
      pixels[o + 2] = Math.round((255 * y) / height);
    }
  }
  return { pixels, width, height, channels: 3 };
}

async function load(name: string): Promise<UpscalePipeline> {
  const pipeline = await loadPipeline(await new ModelRepository(MODELS).describe(name));
  assert.equal(pipeline.kind, 'upscale');
  return pipeline as UpscalePipeline;
}

describe('tile plan', () => {
  it('covers the axis exactly once with keep ranges away from tile edges', () => {
    for (const [length, tile, overlap] of [[100, 32, 8], [33, 32, 8], [32, 32, 8], [1000, 256, 16], [257, 256, 16]] as const) {
      const tiles = planAxis(length, tile, overlap);
      let covered = 0;
      for (const t of tiles) {
        assert.equal(t.keepStart, covered);
        assert.ok(t.start >= 0 && t.start + t.length <= length);
        assert.ok(t.keepStart === 0 || t.keepStart - t.start >= overlap / 2 - 1);
        assert.ok(t.keepEnd === length || t.start + t.length - t.keepEnd >= overlap / 2 - 1);
        covered = t.keepEnd;
      }
      assert.equal(covered, length);
    }
    assert.throws(() => planAxis(10, 8, 8), RangeError);
  });
});

describe('upscale pipeline', () => {
  let x2: UpscalePipeline;
  let x4: UpscalePipeline;
  before(async () => {
    await buildModels({ outDir: MODELS });
    [x2, x4] = await Promise.all([load('upscale-x2'), load('upscale-x4')]);
  });
  after(() => Promise.all([x2.release(), x4.release()]));

  it('decodes a PNG and returns an image scale times the size', async () => {
    const card = testCard(100, 70);
    const png = await sharp(card.pixels, { raw: { width: 100, height: 70, channels: 3 } }).png().toBuffer();
    const out2 = await x2.upscale(png);
    assert.deepEqual([out2.width, out2.height, out2.pixels.length], [200, 140, 200 * 140 * 3]);
    const out4 = await x4.upscale(card);
    assert.deepEqual([out4.width, out4.height], [400, 280]);
    // It is an upscale of the source, not something else: a pixel's colour survives.
    const src = (30 * 100 + 50) * 3;
    const dst = ((30 * 4 + 2) * 400 + 50 * 4 + 2) * 3;
    assert.ok(Math.abs(out4.pixels[dst]! - card.pixels[src]!) < 12);
  });

  it('reassembles tiles without seams: tiled equals untiled', async () => {
    const card = testCard(150, 90);
    for (const pipeline of [x2, x4]) {
      const whole = await pipeline.upscale(card, { tileSizePx: 512 });
      const tiled = await pipeline.upscale(card, { tileSizePx: 40, tileOverlapPx: 8, tilesPerBatch: 3 });
      assert.deepEqual(tiled.pixels, whole.pixels, `x${pipeline.scale}`);
    }
  });

  it('fails E_SOURCE on bytes that are not an image and E_VALIDATION on a size it does not take', async () => {
    await assert.rejects(x2.upscale(new TextEncoder().encode('not an image')), (e: unknown) => e instanceof FleetError && e.code === 'E_SOURCE');
    await assert.rejects(x2.upscale(testCard(8, 8)), (e: unknown) => e instanceof FleetError && e.code === 'E_VALIDATION');
  });
});
