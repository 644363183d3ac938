import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FleetError } from '../../contract/index.js';
import { ModelRepository } from '../../workers/models/model-repository.js';
import { loadPipeline, OnnxSessionFactory, type DiffusionPipeline, type GenerateItem, type RawImage } from '../../workers/pipelines/index.js';
import { buildModels } from '../../scripts/build-models.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');
const SIZE = 256;

async function loadDiffusion(name: string): Promise<DiffusionPipeline> {
  const pipeline = await loadPipeline(await new ModelRepository(MODELS).describe(name), { sessionFactory: factory });
  assert.equal(pipeline.kind, 'diffusion');
  return pipeline as DiffusionPipeline;
}

const factory = new OnnxSessionFactory();
const item = (prompt: string, seed: number, extra: Partial<GenerateItem> = {}): GenerateItem => ({ prompt, seed, width: SIZE, height: SIZE, ...extra });

function maxDifference(a: RawImage, b: RawImage): number {
  let max = 0;
  for (let i = 0; i < a.pixels.length; i++) max = Math.max(max, Math.abs(a.pixels[i]! - b.pixels[i]!));
  return max;
}

function meanDifference(a: RawImage, b: RawImage): number {
  let sum = 0;
  for (let i = 0; i < a.pixels.length; i++) sum += Math.abs(a.pixels[i]! - b.pixels[i]!);
  return sum / a.pixels.length;
}

/** Mean |neighbour difference| (roughness) and standard deviation (contrast) over all channels. */
function imageStats(image: RawImage): { roughness: number; contrast: number } {
  const { pixels, width, height } = image;
  let rough = 0;
  let count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 1; x < width; x++) {
      for (let c = 0; c < 3; c++) rough += Math.abs(pixels[(y * width + x) * 3 + c]! - pixels[(y * width + x - 1) * 3 + c]!);
      count += 3;
    }
  }
  const mean = pixels.reduce((s, v) => s + v, 0) / pixels.length;
  const variance = pixels.reduce((s, v) => s + (v - mean) ** 2, 0) / pixels.length;
  return { roughness: rough / count, contrast: Math.sqrt(variance) };
}

describe('diffusion pipeline (flash-v1, LCM, int64 timestep)', () => {
  let flash: DiffusionPipeline;
  before(async () => {
    await buildModels({ outDir: MODELS });
    flash = await loadDiffusion('flash-v1');
  });
  after(() => flash.release());

  it('gives the same bytes for the same prompt and seed', async () => {
    const [a] = await flash.run([item('a red fox in the forest', 42)]);
    const [b] = await flash.run([item('a red fox in the forest', 42)]);
    assert.equal(a!.width, SIZE);
    assert.equal(a!.pixels.length, SIZE * SIZE * 3);
    assert.deepEqual(a!.pixels, b!.pixels);
  });

  it('gives different images for a different seed or prompt', async () => {
    const [base, otherSeed, otherPrompt] = await flash.run([
      item('a red fox in the forest', 42),
      item('a red fox in the forest', 43),
      item('blue ocean at sunset', 42),
    ]);
    assert.ok(meanDifference(base!, otherSeed!) > 10, `seed changes the image (${meanDifference(base!, otherSeed!)})`);
    assert.ok(meanDifference(base!, otherPrompt!) > 10, `prompt changes the image (${meanDifference(base!, otherPrompt!)})`);
  });

  it('runs a batch of 4 to exactly the same bytes as 4 single runs (an image never depends on its batch-mates)', async () => {
    const items = [item('a cat', 1), item('a dog', 2), item('neon city at night', 3), item('', 4)];
    const batched = await flash.run(items);
    assert.equal(batched.length, 4);
    for (let i = 0; i < items.length; i++) {
      const [single] = await flash.run([items[i]!]);
      assert.equal(maxDifference(batched[i]!, single!), 0, `item ${i} differs by ${maxDifference(batched[i]!, single!)}`);
      assert.ok(Buffer.from(batched[i]!.pixels).equals(Buffer.from(single!.pixels)));
    }
  });

  it('produces smooth, colourful images rather than noise', async () => {
    const [image] = await flash.run([item('a red fox', 5)]);
    const { roughness, contrast } = imageStats(image!);
    assert.ok(roughness < 8, `roughness ${roughness}`);
    assert.ok(contrast > 30, `contrast ${contrast}`);
  });

  it('adds an unconditional pass when guidanceScale > 1', async () => {
    const [plain, guided, guidedNegative] = await Promise.all([
      flash.run([item('a red fox', 9)]),
      flash.run([item('a red fox', 9, { guidanceScale: 3 })]),
      flash.run([item('a red fox', 9, { guidanceScale: 3, negativePrompt: 'blue' })]),
    ]).then((r) => r.map((images) => images[0]!));
    assert.ok(meanDifference(plain!, guided!) > 1);
    assert.ok(meanDifference(guided!, guidedNegative!) > 1);
  });

  it('refuses sizes and steps the model does not allow, and mixed batches', async () => {
    await assert.rejects(flash.run([item('x', 1, { width: 300 })]), (e: unknown) => e instanceof FleetError && e.code === 'E_VALIDATION' && e.field === 'width');
    await assert.rejects(flash.run([item('x', 1, { width: 1024, height: 1024 })]), (e: unknown) => e instanceof FleetError && e.code === 'E_VALIDATION');
    await assert.rejects(flash.run([item('x', 1, { steps: 99 })]), (e: unknown) => e instanceof FleetError && e.field === 'steps');
    await assert.rejects(flash.run([item('x', 1), item('y', 2, { steps: 2 })]), RangeError);
    assert.deepEqual(await flash.run([]), []);
  });
});

describe('diffusion pipeline, other exports', () => {
  it('runs large-v1 (Euler, float32 [batch] timestep) and typography-v1 (float32 [1] timestep, calm backgrounds)', async () => {
    const large = await loadDiffusion('large-v1');
    const typography = await loadDiffusion('typography-v1');
    try {
      const [big] = await large.run([item('a castle on a hill', 3, { steps: 12 })]);
      const [calmA, calmB] = await typography.run([item('sale poster', 3), item('sale poster', 4)]);
      const bigStats = imageStats(big!);
      const calmStats = imageStats(calmA!);
      assert.ok(bigStats.roughness < 8, `large roughness ${bigStats.roughness}`);
      assert.ok(calmStats.contrast < bigStats.contrast / 2, `typography contrast ${calmStats.contrast} vs ${bigStats.contrast}`);
      assert.ok(calmStats.roughness < 2, `typography roughness ${calmStats.roughness}`);
      assert.ok(meanDifference(calmA!, calmB!) > 2);
    } finally {
      await Promise.all([large.release(), typography.release()]);
    }
  });
});
