import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FleetError } from '../../contract/index.js';
import { isSizeAllowed, parseModelManifest } from '../../workers/models/model-manifest.js';
import { ModelRepository } from '../../workers/models/model-repository.js';
import { buildModels } from '../../scripts/build-models.js';
import { MODEL_CATALOG } from '../../scripts/onnx/model-catalog.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');

function rejectsWith(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof FleetError, `expected FleetError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

const validDiffusion = {
  schemaVersion: 1,
  name: 'my-sd-turbo',
  lanes: ['flash'],
  pipeline: 'diffusion',
  sizes: { min: 256, max: 768, multipleOf: 64 },
  defaultSteps: 1,
  scheduler: 'euler',
  residentBytes: 2_600_000_000,
  activationBytesPerMegapixel: 1_000_000_000,
  costUnitsPerImage: 1,
};

describe('model manifest', () => {
  it('accepts every catalogue manifest and fills diffusers-layout defaults', () => {
    for (const entry of MODEL_CATALOG) parseModelManifest(entry.manifest, 'catalogue');
    const manifest = parseModelManifest(validDiffusion, 'm.json');
    assert.equal(manifest.pipeline, 'diffusion');
    if (manifest.pipeline !== 'diffusion') return;
    assert.equal(manifest.files.unet, 'unet/model.onnx');
    assert.equal(manifest.vaeScalingFactor, 0.18215);
    assert.equal(manifest.guidanceScale, 1);
  });

  it('names the file and the field path of each problem', () => {
    const bad = { ...validDiffusion, sizes: { min: 256, max: 'big' }, lanes: ['flash', 'video'] };
    assert.throws(() => parseModelManifest(bad, '/models/x/manifest.json'), (error: unknown) => {
      assert.ok(error instanceof FleetError);
      assert.equal(error.code, 'E_MODEL_LOAD');
      assert.match(error.message, /\/models\/x\/manifest\.json/);
      assert.match(error.message, /lanes\.1/);
      assert.equal(error.details?.file, '/models/x/manifest.json');
      return true;
    });
    const upscale = { ...validDiffusion, pipeline: 'upscale', scale: 5, sizes: { min: 1, max: 10 } };
    assert.throws(() => parseModelManifest(upscale, 'u.json'), rejectsWith('E_MODEL_LOAD', /u\.json: .*scale/));
    assert.throws(() => parseModelManifest({ ...validDiffusion, defualtSteps: 3 }, 'typo.json'), rejectsWith('E_MODEL_LOAD', /defualtSteps/));
    assert.throws(() => parseModelManifest({ ...validDiffusion, scheduler: 'ddim' }, 's.json'), rejectsWith('E_MODEL_LOAD', /s\.json: scheduler/));
  });

  it('checks sizes as a range or a list', () => {
    const range = { min: 256, max: 768, multipleOf: 64 };
    assert.equal(isSizeAllowed(range, 512, 768), true);
    assert.equal(isSizeAllowed(range, 512, 832), false);
    assert.equal(isSizeAllowed(range, 500, 512), false);
    const list = { list: [{ width: 768, height: 512 }] };
    assert.equal(isSizeAllowed(list, 768, 512), true);
    assert.equal(isSizeAllowed(list, 512, 768), false);
  });
});

describe('model repository', () => {
  let scratch: string;
  before(async () => {
    await buildModels({ outDir: MODELS });
    scratch = await mkdtemp(join(tmpdir(), 'fleet-repo-'));
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it('lists the built models and filters by lane', async () => {
    const repository = new ModelRepository(MODELS);
    const names = (await repository.list()).map((e) => e.manifest.name);
    for (const name of ['flash-v1', 'flash-v2', 'large-v1', 'typography-v1', 'upscale-x2', 'upscale-x4']) assert.ok(names.includes(name), name);
    const flash = (await repository.forLane('flash')).map((e) => e.manifest.name);
    assert.deepEqual(flash.filter((n) => n.startsWith('flash-')), ['flash-v1', 'flash-v2']);
    assert.ok(!flash.includes('large-v1'));
  });

  it('fails E_MODEL_LOAD naming the manifest, the field, or the missing file', async () => {
    const root = join(scratch, 'repo');
    await mkdir(join(root, 'broken'), { recursive: true });
    await writeFile(join(root, 'broken', 'manifest.json'), JSON.stringify({ ...validDiffusion, name: 'broken', defaultSteps: -1 }));
    const repository = new ModelRepository(root);
    await assert.rejects(repository.get('broken'), rejectsWith('E_MODEL_LOAD', /broken[/\\]manifest\.json: defaultSteps/));
    await assert.rejects(repository.list(), rejectsWith('E_MODEL_LOAD', /defaultSteps/));

    await writeFile(join(root, 'broken', 'manifest.json'), '{ not json');
    await assert.rejects(repository.get('broken'), rejectsWith('E_MODEL_LOAD', /not JSON/));

    await cp(join(MODELS, 'flash-v1'), join(root, 'renamed'), { recursive: true });
    await assert.rejects(repository.get('renamed'), rejectsWith('E_MODEL_LOAD', /name: "flash-v1" differs/));

    await cp(join(MODELS, 'flash-v1'), join(root, 'flash-v1'), { recursive: true });
    await rm(join(root, 'flash-v1', 'unet', 'model.onnx'));
    await assert.rejects(repository.get('flash-v1'), rejectsWith('E_MODEL_LOAD', /files\.unet .*missing/));
    await assert.rejects(repository.get('nope'), rejectsWith('E_MODEL_LOAD', /cannot read/));
  });

  it('lists nothing for an absent folder', async () => {
    assert.deepEqual(await new ModelRepository(join(scratch, 'absent')).list(), []);
  });
});
