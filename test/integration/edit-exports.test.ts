// Edits over real exports: export-shaped oracle folders with a vae_encoder (Optimum's latent_parameters, the diffusers
// script's latent_sample) and a 9-channel inpainting UNet run `intent: 'edit'` through a real worker on real Redis.
// Inside the mask every pixel lands on the colour a noise-free reference run of the same schedule reaches; outside a
// hard mask the source's bytes come back untouched; a grey mask blends. The reference shows the oracle discriminates:
// a run that skipped the encoder, started a step early or late, or fed the inpainting channels in another order lands
// more than the tolerance away.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { errorCodeOf } from '../../contract/index.js';
import { createProducer, type Producer } from '../../producer/index.js';
import { CompiledPolicy, staticPolicySource } from '../../router/index.js';
import { INPAINT_MASKED_WEIGHT, oracleDecode, oracleEncode, oracleTarget, toByte } from '../../scripts/onnx/exports/oracle.js';
import { writeExport } from '../../scripts/onnx/exports/write-export.js';
import { storeSourceImageInspector } from '../../workers/index.js';
import { referenceEdit, type Rgb } from '../helpers/edit-oracle-reference.js';
import { EDIT_ORACLE_EXPORTS, type EditOracleExport } from '../helpers/oracle-exports.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';

const account = { id: 'acct-edits', tier: 'pro' as const };
/** The source's mean colour; its pixels alternate ±TEXTURE around it so "untouched" means every byte. */
const SOURCE: Rgb = [230, 40, 60];
const TEXTURE = 9;
/** Edits land within this many levels of the reference (the real noise's mean over the latent is not exactly 0). */
const TOLERANCE = 3;
/** A faulty run (no encoder, a step off, the channels misordered) must land at least this far from the reference. */
const DISCRIMINATION = 2 * TOLERANCE;
/** The repainted box, in pixels: on the 8-pixel grid so latent cells are wholly in or out. */
const BOX = { left: 64, top: 64, width: 128, height: 96 };

const entry = (name: string): EditOracleExport => EDIT_ORACLE_EXPORTS.find((e) => e.name === name)!;
const manifest = (e: EditOracleExport, guidance: number) => ({ schemaVersion: 1, lanes: ['flash'], guidanceScale: guidance, defaultSteps: e.steps, maxSteps: 8 });
const folder = (e: EditOracleExport, guidance: number) => `${e.name}-g${guidance}`;
const inBox = (x: number, y: number) => x >= BOX.left && x < BOX.left + BOX.width && y >= BOX.top && y < BOX.top + BOX.height;

function sourcePixels(size: number): Buffer {
  const pixels = Buffer.alloc(size * size * 3);
  for (let p = 0; p < size * size; p++) {
    const sign = (p % size) % 2 === Math.floor(p / size) % 2 ? 1 : -1;
    for (let c = 0; c < 3; c++) pixels[p * 3 + c] = SOURCE[c]! + sign * TEXTURE;
  }
  return pixels;
}

/** A mask of the box: white inside, `edge` (0–255) in a 16-pixel band right of it, black elsewhere. */
function maskPixels(size: number, edge = 0): Buffer {
  const pixels = Buffer.alloc(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const band = y >= BOX.top && y < BOX.top + BOX.height && x >= BOX.left + BOX.width && x < BOX.left + BOX.width + 16;
      pixels[y * size + x] = inBox(x, y) ? 255 : band ? edge : 0;
    }
  }
  return pixels;
}

const png = (pixels: Buffer, size: number, channels: 1 | 3) => sharp(pixels, { raw: { width: size, height: size, channels } }).png().toBuffer();

function latentMaskOfBox(size: number): Float32Array {
  const side = size / 8;
  const mask = new Float32Array(side * side);
  for (let i = 0; i < side; i++) for (let j = 0; j < side; j++) mask[i * side + j] = inBox(j * 8, i * 8) ? 1 : 0;
  return mask;
}

const distance = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

describe('edits over export-shaped oracle models, through a real worker', { concurrency: 1 }, () => {
  const prefix = testPrefix();
  let modelsDir: string;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  const producers: Producer[] = [];

  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'fleet-edit-exports-'));
    for (const e of EDIT_ORACLE_EXPORTS) {
      for (const guidance of e.guidance.filter((g): g is number => g !== undefined)) {
        await writeExport({ ...e.spec, manifest: manifest(e, guidance) }, join(modelsDir, folder(e, guidance)));
      }
    }
    fleet = await startTestWorker(prefix, {
      modelsDir,
      lanes: ['flash'],
      // A batch here is what one runEdits() enqueues together, flushed at maxLatencyMs (never full, never early):
      // set well above how far apart jobs enqueued together reach the batcher, and no higher.
      batching: { flash: { maxBatchSize: 4, maxLatencyMs: 1500 } },
      adaptiveBatching: false,
      batcherOverrides: { flushWhenIdle: false },
    });
    for (const size of [256, 512]) {
      await fleet.store.put(`sources/${size}.png`, await png(sourcePixels(size), size, 3), 'image/png');
      await fleet.store.put(`masks/${size}-hard.png`, await png(maskPixels(size), size, 1), 'image/png');
      await fleet.store.put(`masks/${size}-soft.png`, await png(maskPixels(size, 128), size, 1), 'image/png');
    }
    await fleet.store.put('masks/small.png', await png(maskPixels(128), 128, 1), 'image/png');
    await fleet.store.put('sources/notes.txt', Buffer.from('not an image'), 'text/plain');
  });
  after(async () => {
    await Promise.all(producers.map((p) => p.close()));
    await fleet?.stop();
    await cleanupPrefix(prefix);
    await rm(modelsDir, { recursive: true, force: true });
  });

  function producerFor(model: string, readsSources = true): Producer {
    const policy = new CompiledPolicy({ name: `to-${model}`, typographicWords: [], rules: [{ id: 'all', lane: 'flash', model }] }, 1);
    const producer = createProducer({ redis: REDIS_URL, prefix, policy: staticPolicySource(policy), ...(readsSources ? { sources: storeSourceImageInspector(fleet.store) } : {}) });
    producers.push(producer);
    return producer;
  }

  async function runEdits(e: EditOracleExport, guidance: number, requests: Array<{ mask?: string; seed: number }>, size: number) {
    const producer = producerFor(folder(e, guidance));
    const receipts = await Promise.all(
      requests.map((r) =>
        producer.enqueue({ prompt: 'a red fox', intent: 'edit', source: { key: `sources/${size}.png` }, ...(r.mask === undefined ? {} : { mask: { key: r.mask } }), strength: e.strength, steps: e.steps, seed: r.seed, account }),
      ),
    );
    return Promise.all(
      receipts.map(async (receipt) => {
        const view = await producer.waitForResult(receipt.id, { timeoutMs: 120_000 });
        assert.equal(view.state, 'completed', `${e.name}: ${JSON.stringify(view.error)}`);
        assert.equal(view.result!.batch!.size, requests.length, `${e.name}: expected one batch of ${requests.length}`);
        const { data, info } = await sharp((await fleet.store.get(view.result!.image.key))!).raw().toBuffer({ resolveWithObject: true });
        assert.deepEqual([info.width, info.height], [size, size], 'an edit comes out at its source size');
        return data;
      }),
    );
  }

  const caseOf = (e: EditOracleExport, guidance: number, size: number) =>
    oracleTarget(e.spec, { guidanceScale: guidance, guided: guidance > 1, negative: 'empty', width: size, height: size });

  for (const name of ['sd15-img2img-optimum-fp32', 'sd15-script-img2img-fp32', 'sd3-img2img-optimum-fp32']) {
    it(`${entry(name).label}: image to image at strength ${entry(name).strength}, a batch of two, lands on the reference colour`, async () => {
      const e = entry(name);
      const target = caseOf(e, 1, e.size);
      const reference = referenceEdit(e.spec, { target, source: SOURCE, steps: e.steps, strength: e.strength, cells: 1 });
      const expectedSteps = e.spec.family === 'sd3' ? Math.ceil(e.steps * e.strength) : Math.floor(e.steps * e.strength);
      assert.equal(reference.stepsRun, expectedSteps);
      const expected = reference.colours[0]!;
      // Discrimination: no encoder (the source read as black), one step more or fewer: each lands off-colour.
      const black = referenceEdit(e.spec, { target, source: [0, 0, 0], steps: e.steps, strength: e.strength, cells: 1 }).colours[0]!;
      // The strength that runs k steps under the family's rounding (SD truncates steps·s, flow matching steps − steps·s).
      const running = (k: number) => {
        const run = referenceEdit(e.spec, { target, source: SOURCE, steps: e.steps, strength: Math.min(1, k / e.steps + (e.spec.family === 'sd3' ? -1e-9 : 1e-9)), cells: 1 });
        assert.equal(run.stepsRun, k);
        return run.colours[0]!;
      };
      for (const [what, wrong] of [['without the encoder', black], ['a step early', running(expectedSteps + 1)], ['a step late', running(expectedSteps - 1)]] as const) {
        assert.ok(distance(expected, wrong) > DISCRIMINATION, `${what} would land on [${wrong.join(', ')}], too near [${expected.join(', ')}]`);
      }
      for (const image of await runEdits(e, 1, [{ seed: 11 }, { seed: 12 }], e.size)) {
        let worst = 0;
        for (let i = 0; i < image.length; i += 3) worst = Math.max(worst, distance([image[i]!, image[i + 1]!, image[i + 2]!], expected));
        assert.ok(worst <= TOLERANCE, `${name}: a pixel is ${worst}/255 off [${expected.join(', ')}]`);
      }
    });
  }

  it('a hard mask on a text-to-image export (masked latent blending): the box lands on the reference, every other byte is the source', async () => {
    const e = entry('sd15-img2img-optimum-fp32');
    const size = e.size;
    const reference = referenceEdit(e.spec, { target: caseOf(e, 1, size), source: SOURCE, steps: e.steps, strength: e.strength, cells: (size / 8) ** 2, latentMask: latentMaskOfBox(size) });
    const source = sourcePixels(size);
    const [image] = await runEdits(e, 1, [{ mask: `masks/${size}-hard.png`, seed: 21 }], size);
    let worst = 0;
    let changedOutside = 0;
    for (let p = 0; p < size * size; p++) {
      const x = p % size;
      const y = Math.floor(p / size);
      const pixel = [image![p * 3]!, image![p * 3 + 1]!, image![p * 3 + 2]!];
      if (inBox(x, y)) worst = Math.max(worst, distance(pixel, reference.colours[Math.floor(y / 8) * (size / 8) + Math.floor(x / 8)]!));
      else if (distance(pixel, [...source.subarray(p * 3, p * 3 + 3)]) !== 0) changedOutside++;
    }
    assert.equal(changedOutside, 0, 'pixels outside the mask must be byte-identical to the source');
    assert.ok(worst <= TOLERANCE, `inside the mask a pixel is ${worst}/255 off the reference`);
  });

  it('a soft mask blends: grey pixels are source·(1−m) + edit·m, neither the source nor the edit', async () => {
    const e = entry('sd15-img2img-optimum-fp32');
    const size = e.size;
    const source = sourcePixels(size);
    const [image] = await runEdits(e, 1, [{ mask: `masks/${size}-soft.png`, seed: 22 }], size);
    const m = 128 / 255;
    const inside = [image![(BOX.top * size + BOX.left + 8) * 3]!, image![(BOX.top * size + BOX.left + 8) * 3 + 1]!, image![(BOX.top * size + BOX.left + 8) * 3 + 2]!];
    let worst = 0;
    for (let y = BOX.top; y < BOX.top + BOX.height; y++) {
      for (let x = BOX.left + BOX.width + 1; x < BOX.left + BOX.width + 15; x++) {
        const p = (y * size + x) * 3;
        const pixel = [image![p]!, image![p + 1]!, image![p + 2]!];
        const src = [...source.subarray(p, p + 3)];
        const blend = src.map((s, c) => s * (1 - m) + inside[c]! * m);
        worst = Math.max(worst, distance(pixel, blend));
        assert.ok(distance(pixel, src) > TOLERANCE && distance(pixel, inside) > TOLERANCE, `pixel (${x}, ${y}) does not blend: [${pixel.join(', ')}]`);
      }
    }
    // The generated side of the blend is the edit's own colour near the band (bilinear resizes nothing here: 256 renders at 256).
    assert.ok(worst <= TOLERANCE + 1, `a grey-mask pixel is ${worst}/255 off source·(1−m) + edit·m`);
  });

  for (const guidance of [1, 3]) {
    it(`an inpainting UNet (9 channels: latents, mask, masked latents), guidance ${guidance}: the box lands on T + β·masked, the rest is the source`, async () => {
      const e = entry('sd15-inpaint-optimum-fp32');
      const size = e.size;
      const target = caseOf(e, guidance, size);
      const grey = oracleEncode(e.spec, [0, 0, 0]);
      const expected = oracleDecode(e.spec, target.map((t, c) => t + INPAINT_MASKED_WEIGHT * grey[c]!)).map(toByte);
      // Fed as [latents, masked latents, mask], the UNet would read a masked-latent channel as the mask.
      const swapped = [grey[1]!, grey[2]!, grey[3]!, 1];
      const misordered = oracleDecode(e.spec, swapped.map((mi, c) => mi + grey[0]! * (target[c]! + (INPAINT_MASKED_WEIGHT - 1) * mi))).map(toByte);
      const unmasked = oracleDecode(e.spec, target.map((t, c) => t + INPAINT_MASKED_WEIGHT * oracleEncode(e.spec, SOURCE.map((v) => (v / 255) * 2 - 1))[c]!)).map(toByte);
      assert.ok(distance(expected, misordered) > DISCRIMINATION && distance(expected, unmasked) > DISCRIMINATION, 'the oracle must tell the channel order and the masked image apart');
      const source = sourcePixels(size);
      for (const image of await runEdits(e, guidance, [{ mask: `masks/${size}-hard.png`, seed: 31 }, { mask: `masks/${size}-hard.png`, seed: 32 }], size)) {
        let worst = 0;
        let changedOutside = 0;
        for (let p = 0; p < size * size; p++) {
          const pixel = [image[p * 3]!, image[p * 3 + 1]!, image[p * 3 + 2]!];
          if (inBox(p % size, Math.floor(p / size))) worst = Math.max(worst, distance(pixel, expected));
          else if (distance(pixel, [...source.subarray(p * 3, p * 3 + 3)]) !== 0) changedOutside++;
        }
        assert.equal(changedOutside, 0, 'pixels outside the mask must be byte-identical to the source');
        assert.ok(worst <= 2, `inside the mask a pixel is ${worst}/255 off [${expected.join(', ')}]`);
      }
    });
  }

  it('refuses at the edge what the stored headers show: a mask of another size, a source that is not an image', async () => {
    const producer = producerFor(folder(entry('sd15-img2img-optimum-fp32'), 1));
    const base = { prompt: 'a red fox', intent: 'edit' as const, account };
    await assert.rejects(producer.enqueue({ ...base, source: { key: 'sources/256.png' }, mask: { key: 'masks/small.png' } }), (error: unknown) => {
      assert.equal(errorCodeOf(error), 'E_VALIDATION');
      assert.equal((error as { field?: string }).field, 'mask.key');
      assert.match(String(error), /128x128 but its source is 256x256/);
      return true;
    });
    await assert.rejects(producer.enqueue({ ...base, source: { key: 'sources/notes.txt' } }), (error: unknown) => errorCodeOf(error) === 'E_SOURCE');
    await assert.rejects(producer.enqueue({ ...base, mask: { key: 'masks/256-hard.png' } }), (error: unknown) => errorCodeOf(error) === 'E_VALIDATION' && /source/.test(String(error)));
    await assert.rejects(producer.enqueue({ ...base, source: { key: 'sources/256.png' }, strength: 1.5 }), (error: unknown) => errorCodeOf(error) === 'E_VALIDATION' && /strength/.test(String(error)));
  });

  it('fails with E_SOURCE, unretried, where only the worker can tell the object is not an image', async () => {
    const producer = producerFor(folder(entry('sd15-img2img-optimum-fp32'), 1), false);
    const receipt = await producer.enqueue({ prompt: 'a red fox', intent: 'edit', source: { key: 'sources/notes.txt' }, account });
    // Polled, not waitForResult: a job that fails before its result stream is read can leave the wait to its timeout.
    let view = await producer.getJob(receipt.id);
    for (const deadline = Date.now() + 60_000; view.state !== 'failed' && view.state !== 'completed' && Date.now() < deadline; view = await producer.getJob(receipt.id)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(view.state, 'failed');
    assert.equal(view.error?.code, 'E_SOURCE');
    assert.equal(view.attempts, 1);
  });
});
