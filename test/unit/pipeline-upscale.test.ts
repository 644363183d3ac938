import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { FleetError } from '../../contract/index.js';
import { ModelRepository } from '../../workers/models/model-repository.js';
import { parseUpscaleManifest } from '../../workers/models/model-manifest.js';
import type { UpscaleModel } from '../../workers/models/model-description.js';
import { upscaleModelFromManifest } from '../../workers/models/upscale-model-from-manifest.js';
import { tilingFactsOfOnnx } from '../../workers/models/onnx-tiling-facts.js';
import {
  createUpscalePipeline,
  describeUpscaleModel,
  loadPipeline,
  OnnxSessionFactory,
  type ModelSession,
  type RawImage,
  type UpscalePipeline,
} from '../../workers/pipelines/index.js';
import { planAxis } from '../../workers/pipelines/tile-plan.js';
import { buildModels } from '../../scripts/build-models.js';
import { convertUpscalerPackage } from '../../scripts/tfjs/convert-upscaler-package.js';
import { buildRrdbNetGraph, type RrdbNetGraphSpec } from '../helpers/realesrgan-graph.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');
const factory = new OnnxSessionFactory({ executionProvider: 'cpu' });
const scratch = mkdtempSync(join(tmpdir(), 'upscale-models-'));
const sessions: ModelSession[] = [];

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

function maxDifference(a: RawImage, b: RawImage, columns = a.width * 3): number {
  assert.deepEqual([a.width, a.height], [b.width, b.height]);
  let max = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < columns; x++) max = Math.max(max, Math.abs(a.pixels[y * a.width * 3 + x]! - b.pixels[y * a.width * 3 + x]!));
  }
  return max;
}

async function sessionOf(name: string, bytes: Uint8Array): Promise<ModelSession> {
  const path = join(scratch, `${name}.onnx`);
  writeFileSync(path, bytes);
  const session = await factory.create(path);
  sessions.push(session);
  return session;
}

function manifest(name: string, scale: number, extra: Record<string, unknown> = {}): UpscaleModel {
  const parsed = parseUpscaleManifest(
    { schemaVersion: 1, pipeline: 'upscale', name, lanes: ['upscale'], sizes: { min: 1, max: 4096 }, scale, residentBytes: 0, activationBytesPerMegapixel: 0, costUnitsPerImage: 1, ...extra },
    `${name} (test)`,
  );
  return upscaleModelFromManifest(parsed, scratch);
}

/** A pipeline as loadPipeline builds one: the graph's tiling facts plus describeUpscaleModel's probes. */
async function pipelineOf(name: string, bytes: Uint8Array, extra: Record<string, unknown> = {}): Promise<UpscalePipeline> {
  const session = await sessionOf(name, bytes);
  const graph = tilingFactsOfOnnx(bytes);
  const model = await describeUpscaleModel(session, graph.receptiveFieldPx === undefined ? {} : { receptiveFieldPx: graph.receptiveFieldPx, sizeMultiple: graph.sizeMultiple });
  return createUpscalePipeline(manifest(name, model.scale, extra), session, model);
}

const realEsrgan = (spec: RrdbNetGraphSpec) => buildRrdbNetGraph({ seed: 7, ...spec });

after(async () => {
  await Promise.all(sessions.map((s) => s.release()));
  rmSync(scratch, { recursive: true, force: true });
});

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

describe('shipped upscalers (trained, converted at build time)', () => {
  let x2: UpscalePipeline;
  let x4: UpscalePipeline;
  before(async () => {
    await buildModels({ outDir: MODELS });
    const repository = new ModelRepository(MODELS);
    x2 = (await loadPipeline(await repository.describe('upscale-x2'))) as UpscalePipeline;
    x4 = (await loadPipeline(await repository.describe('upscale-x4'))) as UpscalePipeline;
  });
  after(() => Promise.all([x2.release(), x4.release()]));

  it('decodes a PNG and returns an image scale times the size, close to the source', async () => {
    const card = testCard(40, 28);
    const png = await sharp(card.pixels, { raw: { width: 40, height: 28, channels: 3 } }).png().toBuffer();
    const out2 = await x2.upscale(png);
    assert.deepEqual([out2.width, out2.height, out2.pixels.length], [80, 56, 80 * 56 * 3]);
    const out4 = await x4.upscale(card);
    assert.deepEqual([out4.width, out4.height], [160, 112]);
    // It is an upscale of the source, not something else: close to sharp's bicubic resize of it.
    for (const out of [out2, out4]) {
      const bicubic = await sharp(card.pixels, { raw: { width: 40, height: 28, channels: 3 } }).resize(out.width, out.height, { kernel: 'cubic' }).raw().toBuffer();
      let squared = 0;
      for (let i = 0; i < bicubic.length; i++) squared += (bicubic[i]! - out.pixels[i]!) ** 2;
      const psnr = 10 * Math.log10((255 * 255 * bicubic.length) / squared);
      assert.ok(psnr > 20, `PSNR against bicubic ${psnr.toFixed(1)} dB at ×${out.width / 40}`);
    }
  });

  it('fails E_SOURCE on bytes that are not an image and E_VALIDATION on a size it does not take', async () => {
    await assert.rejects(x2.upscale(new TextEncoder().encode('not an image')), (e: unknown) => e instanceof FleetError && e.code === 'E_SOURCE');
    await assert.rejects(x2.upscale(testCard(8, 8)), (e: unknown) => e instanceof FleetError && e.code === 'E_VALIDATION');
  });
});

describe('describeUpscaleModel: what the dims, the graph and a probe show', () => {
  it('reads a static pytorch2onnx export from its dims: 64×64 tile, batch 1, ×4', async () => {
    const session = await sessionOf('static-x4', realEsrgan({ scale: 4, staticSidePx: 64 }));
    const model = await describeUpscaleModel(session, { valueRange: 1 });
    assert.deepEqual(
      { input: model.inputName, output: model.outputName, scale: model.scale, tile: model.staticTile, batch: model.fixedBatch, precision: model.precision },
      { input: 'input.1', output: '1895', scale: 4, tile: { heightPx: 64, widthPx: 64 }, batch: 1, precision: 'float32' },
    );
  });

  it('probes a dynamic fp16 pixel-unshuffle export: multiple of 2, ×2, float16', async () => {
    const session = await sessionOf('dynamic-x2plus-fp16', realEsrgan({ scale: 2, precision: 'float16' }));
    const model = await describeUpscaleModel(session, { valueRange: 1 });
    assert.deepEqual([model.sizeMultiple, model.scale, model.precision, model.staticTile], [2, 2, 'float16', undefined]);
  });

  it('takes the value range as declared, [0,1] when not (the packages declare theirs)', async () => {
    const slim = await convertUpscalerPackage('@upscalerjs/esrgan-slim', './3x');
    const thick = await convertUpscalerPackage('@upscalerjs/esrgan-thick', './2x');
    assert.deepEqual([slim.valueRange, thick.valueRange], [255, 1]);
    const session = await sessionOf('slim-x3', slim.onnx);
    assert.deepEqual([(await describeUpscaleModel(session, { valueRange: 255 })).valueRange, (await describeUpscaleModel(session)).valueRange], [255, 1]);
  });

  it('reads the receptive field and the unshuffle factor from the graph', () => {
    assert.deepEqual(tilingFactsOfOnnx(realEsrgan({ scale: 4, staticSidePx: 64 })), { receptiveFieldPx: 6.25, sizeMultiple: 1 });
    // Convolutions after the unshuffle by 2 reach twice as far in input pixels.
    assert.deepEqual(tilingFactsOfOnnx(realEsrgan({ scale: 2, staticSidePx: 64 })), { receptiveFieldPx: 13.5, sizeMultiple: 2 });
    // A view shape computed at run time cannot be read: the probe finds the factor, the manifest gives the overlap.
    assert.equal(tilingFactsOfOnnx(realEsrgan({ scale: 2 })).receptiveFieldPx, undefined);
  });
});

describe('tiles reassemble within 1 LSB of a whole-image run', () => {
  it('a dynamic trained model (esrgan-medium ×2, [0,255]): overlap from its receptive field', async () => {
    const converted = await convertUpscalerPackage('@upscalerjs/esrgan-medium', './2x');
    const pipeline = await pipelineOf('medium-x2', converted.onnx);
    const card = testCard(100, 70);
    const whole = await pipeline.upscale(card, { tileSizePx: 512 });
    const tiled = await pipeline.upscale(card, { tileSizePx: 40, tilesPerBatch: 3 });
    assert.ok(maxDifference(tiled, whole) <= 1, `max difference ${maxDifference(tiled, whole)}`);
  });

  it('a static 64×64 export (x4plus-shaped) against the same weights exported with dynamic dims', async () => {
    const [fixed, dynamic] = await Promise.all([
      pipelineOf('static-x4-tiles', realEsrgan({ scale: 4, staticSidePx: 64 }), { valueRange: 1 }),
      pipelineOf('dynamic-x4-whole', realEsrgan({ scale: 4 }), { valueRange: 1 }),
    ]);
    const card = testCard(150, 90);
    const tiled = await fixed.upscale(card);
    const whole = await dynamic.upscale(card, { tileSizePx: 4096 });
    assert.deepEqual([tiled.width, tiled.height], [600, 360]);
    assert.ok(maxDifference(tiled, whole) <= 1, `max difference ${maxDifference(tiled, whole)}`);
  });

  it('a static pixel-unshuffle export (x2plus-shaped): tiles start on its block grid', async () => {
    const [fixed, dynamic] = await Promise.all([
      pipelineOf('static-x2plus', realEsrgan({ scale: 2, staticSidePx: 64 }), { valueRange: 1 }),
      pipelineOf('dynamic-x2plus', realEsrgan({ scale: 2 }), { valueRange: 1, tile: { sizePx: 4096, overlapPx: 30 } }),
    ]);
    const card = testCard(150, 90);
    assert.ok(maxDifference(await fixed.upscale(card), await dynamic.upscale(card)) <= 1);
  });

  it('an fp16 dynamic pixel-unshuffle export on odd sides: padded to its factor, cropped back', async () => {
    const pipeline = await pipelineOf('fp16-x2plus', realEsrgan({ scale: 2, precision: 'float16' }), { valueRange: 1, tile: { sizePx: 32, overlapPx: 30 } });
    const card = testCard(75, 47);
    const tiled = await pipeline.upscale(card);
    const whole = await pipeline.upscale(card, { tileSizePx: 4096 });
    assert.deepEqual([tiled.width, tiled.height], [150, 94]);
    assert.ok(maxDifference(tiled, whole) <= 1, `max difference ${maxDifference(tiled, whole)}`);
  });

  it('a source smaller than a static tile is reflect-padded, and matches the dynamic run away from the padded edges', async () => {
    const [fixed, dynamic] = await Promise.all([
      pipelineOf('static-x4-small', realEsrgan({ scale: 4, staticSidePx: 64 }), { valueRange: 1 }),
      pipelineOf('dynamic-x4-small', realEsrgan({ scale: 4 }), { valueRange: 1 }),
    ]);
    const card = testCard(40, 30);
    const padded = await fixed.upscale(card);
    const whole = await dynamic.upscale(card);
    assert.deepEqual([padded.width, padded.height], [160, 120]);
    // The receptive field is 6.25 px: columns and rows 7+ px from the right and bottom edges see no padding.
    const top = { ...padded, height: (30 - 7) * 4, pixels: padded.pixels.subarray(0, (30 - 7) * 4 * 160 * 3) };
    const wholeTop = { ...whole, height: top.height, pixels: whole.pixels.subarray(0, top.pixels.length) };
    assert.ok(maxDifference(top, wholeTop, (40 - 7) * 4 * 3) <= 1);
  });
});

describe('scales the models declare', () => {
  it('runs ×3 and ×8 models (esrgan-slim) at their own scale', async () => {
    for (const [definition, scale] of [['./3x', 3], ['./8x', 8]] as const) {
      const pipeline = await pipelineOf(`slim-x${scale}`, (await convertUpscalerPackage('@upscalerjs/esrgan-slim', definition)).onnx);
      const out = await pipeline.upscale(testCard(21, 13));
      assert.deepEqual([pipeline.scale, out.width, out.height], [scale, 21 * scale, 13 * scale]);
    }
  });

  it('refuses a manifest whose scale is not the model\'s', async () => {
    const session = await sessionOf('wrong-scale', realEsrgan({ scale: 4, staticSidePx: 64 }));
    const model = await describeUpscaleModel(session, { valueRange: 1 });
    assert.throws(() => createUpscalePipeline(manifest('wrong-scale', 2), session, model), (e: unknown) => e instanceof FleetError && e.code === 'E_MODEL_SHAPE' && /scale 2/.test(e.message));
  });
});
