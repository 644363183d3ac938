import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_EDIT_STRENGTH, effectiveOutputSize, effectiveStrength, parseGenerateRequest, ValidationError } from '../../contract/index.js';
import { MicroBatcher, FakeClock } from '../../batching/index.js';
import { checkEditImages, checkRequestAgainstModel } from '../../producer/model-limits.js';
import { batchKeyOf } from '../../workers/consumer/edit-job.js';
import { prepareRenderJob } from '../../workers/consumer/prepare-render-job.js';
import { compositeEdit, latentMask } from '../../workers/pipelines/edit-images.js';

const account = { id: 'acct', tier: 'pro' as const };
const edit = { prompt: 'a red fox', intent: 'edit' as const, source: { key: 'in/photo.png' }, account };

function refused(input: unknown, field: string, message: RegExp): void {
  assert.throws(() => parseGenerateRequest(input), (error: unknown) => {
    assert.ok(error instanceof ValidationError);
    assert.equal(error.field, field);
    assert.match(error.message, message);
    return true;
  });
}

describe('the edit request', () => {
  it('takes a source, an optional mask and a strength in (0, 1]', () => {
    const parsed = parseGenerateRequest({ ...edit, mask: { key: 'in/mask.png' }, strength: 0.6 });
    assert.equal(parsed.intent, 'edit');
    assert.deepEqual(parsed.mask, { key: 'in/mask.png' });
    assert.equal(effectiveStrength(parsed), 0.6);
    assert.equal(parseGenerateRequest({ ...edit, strength: 1 }).strength, 1);
  });

  it("defaults strength as diffusers does: image to image 0.8, inpainting 1", () => {
    assert.equal(effectiveStrength(parseGenerateRequest(edit)), DEFAULT_EDIT_STRENGTH.withoutMask);
    assert.equal(effectiveStrength(parseGenerateRequest({ ...edit, mask: { key: 'm.png' } })), DEFAULT_EDIT_STRENGTH.withMask);
    assert.equal(effectiveStrength(parseGenerateRequest({ prompt: 'x', account })), null);
  });

  it('refuses a mask without a source, strength out of range, and edit fields on other intents', () => {
    refused({ prompt: 'x', intent: 'edit', mask: { key: 'm.png' }, account }, 'source', /required when intent is 'edit' \(a mask needs the source it masks\)/);
    refused({ ...edit, strength: 0 }, 'strength', /greater than 0/);
    refused({ ...edit, strength: 1.01 }, 'strength', /at most 1/);
    refused({ ...edit, strength: '0.5' }, 'strength', /number/);
    refused({ prompt: 'x', mask: { key: 'm.png' }, account }, 'mask', /only allowed when intent is 'edit'/);
    refused({ prompt: 'x', strength: 0.5, account }, 'strength', /only allowed when intent is 'edit'/);
    refused({ prompt: 'x', source: { key: 's.png' }, account }, 'source', /only allowed when intent is 'upscale' or 'edit'/);
    refused({ ...edit, scale: 2 }, 'scale', /only allowed when intent is 'upscale'/);
    refused({ ...edit, width: 512 }, 'width', /source's size/);
    refused({ ...edit, mask: { key: '../m.png' } }, 'mask.key', /segments/);
    refused({ ...edit, text: { content: 'hi' } }, 'text', /not allowed when intent is 'edit'/);
  });

  it("comes out at its source's size, unknown until the source is read", () => {
    const parsed = parseGenerateRequest(edit);
    assert.equal(effectiveOutputSize(parsed, 'flash'), null);
    assert.deepEqual(effectiveOutputSize(parsed, 'large', { width: 640, height: 480 }), { width: 640, height: 480 });
  });
});

describe('edit checks at the edge', () => {
  it('refuses a mask of another size and a source outside the request sides, naming the field', () => {
    assert.doesNotThrow(() => checkEditImages({ width: 640, height: 480 }, { width: 640, height: 480 }));
    assert.throws(() => checkEditImages({ width: 640, height: 480 }, { width: 480, height: 640 }), (e: unknown) => e instanceof ValidationError && e.field === 'mask.key');
    assert.throws(() => checkEditImages({ width: 4096, height: 480 }, undefined), (e: unknown) => e instanceof ValidationError && e.field === 'source.key');
  });

  it('refuses an edit routed to a model that cannot edit, and a generation routed to an inpainting model', () => {
    const model = { name: 'm', kind: 'diffusion' as const, lanes: ['flash' as const], costUnitsPerImage: 1, sizes: { min: 256, max: 768, multipleOf: 64 } };
    const request = parseGenerateRequest(edit);
    assert.throws(() => checkRequestAgainstModel(request, 'flash', model), /no VAE encoder/);
    assert.doesNotThrow(() => checkRequestAgainstModel(request, 'flash', { ...model, edit: 'img2img' }));
    assert.throws(() => checkRequestAgainstModel(parseGenerateRequest({ prompt: 'x', account }), 'flash', { ...model, edit: 'inpaint' }), /only edits/);
  });
});

describe('edit batching', () => {
  it('keys edits apart from generations and by strength, as prepareRenderJob plans them', () => {
    const base = { steps: 4, guidanceScale: 1 };
    assert.notEqual(batchKeyOf(base), batchKeyOf({ ...base, edit: { strength: 0.5 } }));
    assert.notEqual(batchKeyOf({ ...base, edit: { strength: 0.5 } }), batchKeyOf({ ...base, edit: { strength: 0.6 } }));
    const model = { kind: 'diffusion', name: 'm', defaultSteps: 4, maxSteps: 8, guidanceScale: 1, sizes: { widths: [512], heights: [512] } } as unknown as Parameters<typeof prepareRenderJob>[2];
    const data = (request: Record<string, unknown>) => ({ request: { prompt: 'p', account: { id: 'a', tier: 'pro' }, ...request }, size: { width: 512, height: 512 } }) as unknown as Parameters<typeof prepareRenderJob>[0];
    const withMask = prepareRenderJob(data({ intent: 'edit', source: { key: 's' }, mask: { key: 'm' } }), 'j1', model).batchKey;
    const sameStrength = prepareRenderJob(data({ intent: 'edit', source: { key: 't' }, strength: 1 }), 'j2', model).batchKey;
    const generation = prepareRenderJob(data({}), 'j3', model).batchKey;
    assert.equal(withMask, sameStrength, 'a masked edit defaults to strength 1');
    assert.notEqual(withMask, generation);
    assert.equal(prepareRenderJob(data({ intent: 'edit', source: { key: 's' } }), 'j4', model).batchKey, batchKeyOf({ steps: 4, guidanceScale: 1, edit: { strength: 0.8 } }));
  });

  it('reserves activationScale times the activations (the encoder pass)', async () => {
    const clock = new FakeClock();
    const reserved: number[] = [];
    const batcher = new MicroBatcher<number, number>({
      lanes: { flash: { maxBatchSize: 4, maxLatencyMs: 80 } },
      models: { m: { weightBytes: 0, activationBytesPerMegapixel: 1_000_000 } },
      budgetBytes: 10_000_000,
      clock,
      flushWhenIdle: false,
      run: async (batch) => {
        reserved.push(batch.activationBytes);
        return batch.payloads.map((p) => ({ ok: true as const, value: p }));
      },
    });
    const one = batcher.submit({ lane: 'flash', key: 'a', model: 'm', widthPx: 1000, heightPx: 1000, payload: 1 });
    const scaled = batcher.submit({ lane: 'flash', key: 'b', model: 'm', widthPx: 1000, heightPx: 1000, activationScale: 1.5, payload: 2 });
    await clock.advanceAsync(1_000);
    await Promise.all([one, scaled]);
    assert.deepEqual(reserved.sort((x, y) => x - y), [1_000_000, 1_500_000]);
    await batcher.close();
  });
});

describe('edit images', () => {
  it('binarises and downsamples the mask by nearest neighbour, as diffusers does', () => {
    const mask = new Float32Array(16 * 16);
    for (let y = 0; y < 16; y++) for (let x = 8; x < 16; x++) mask[y * 16 + x] = x === 8 ? 0.4 : 0.6;
    assert.deepEqual([...latentMask(mask, 16, 16, 2, 2)], [0, 0, 0, 0]);
    mask.fill(0.5, 0, 16 * 16);
    assert.deepEqual([...latentMask(mask, 16, 16, 2, 2)], [1, 1, 1, 1]);
  });

  it('composites: black keeps the source byte, white takes the edit, grey blends', () => {
    const source = { pixels: Uint8Array.from([10, 20, 30, 10, 20, 30, 10, 20, 30]), width: 3, height: 1, channels: 3 as const };
    const generated = { pixels: Uint8Array.from([200, 200, 200, 200, 200, 200, 200, 200, 200]), width: 3, height: 1, channels: 3 as const };
    const out = compositeEdit(source, generated, Float32Array.from([0, 1, 0.5]));
    assert.deepEqual([...out.pixels], [10, 20, 30, 200, 200, 200, 105, 110, 115]);
  });
});

describe('the default policy routes edits', () => {
  it('by the source size it read: small edits (previews) to flash-v1, large ones to large-v1, before the typography rules', async () => {
    const { CompiledPolicy, loadDefaultPolicy } = await import('../../router/index.js');
    const policy = new CompiledPolicy(loadDefaultPolicy(), 1);
    const request = parseGenerateRequest({ ...edit, prompt: 'a poster of a red fox' });
    const small = policy.evaluate(request, { sourceSize: { width: 512, height: 512 } });
    assert.deepEqual([small.lane, small.model, small.rule], ['flash', 'flash-v1', 'edits']);
    const large = policy.evaluate(request, { sourceSize: { width: 1600, height: 1200 } });
    assert.deepEqual([large.lane, large.model, large.rule], ['large', 'large-v1', 'edit-large']);
  });
});
