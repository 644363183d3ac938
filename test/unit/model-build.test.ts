import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildModels } from '../../scripts/build-models.js';

const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('build-models', () => {
  const dirs: string[] = [];
  after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('builds every model, skips them when up to date, rebuilds with force, byte-for-byte the same', async () => {
    const a = await mkdtemp(join(tmpdir(), 'fleet-build-a-'));
    const b = await mkdtemp(join(tmpdir(), 'fleet-build-b-'));
    dirs.push(a, b);
    const first = await buildModels({ outDir: a });
    assert.deepEqual(first.built.sort(), ['flash-v1', 'flash-v2', 'large-v1', 'typography-v1', 'upscale-x2', 'upscale-x4']);
    // The diffusion exports are shaped at real widths (CLIP-G's 1280, SD3's 4096-wide context) with toy vocabularies
    // and layers; the upscalers are trained weights converted from their npm packages.
    const toys = Object.entries(first.bytesByModel).filter(([name]) => !name.startsWith('upscale-'));
    const total = toys.reduce((x, [, y]) => x + y, 0);
    assert.ok(total < 80_000_000, `toy models total ${total} bytes`);

    const again = await buildModels({ outDir: a });
    assert.deepEqual(again.built, []);
    assert.equal(again.skipped.length, 6);

    await buildModels({ outDir: b, only: ['flash-v1', 'flash-v2'], force: true });
    for (const file of ['transformer/model.onnx', 'vae_decoder/model.onnx', 'text_encoder_2/model.onnx', 'tokenizer/vocab.json', 'model_index.json']) {
      assert.equal(await sha(join(a, 'flash-v1', file)), await sha(join(b, 'flash-v1', file)), file);
    }
    // The canary has its own weights.
    assert.notEqual(await sha(join(b, 'flash-v1', 'vae_decoder/model.onnx')), await sha(join(b, 'flash-v2', 'vae_decoder/model.onnx')));
    await assert.rejects(buildModels({ outDir: b, only: ['nope'] }), RangeError);
  });
});
