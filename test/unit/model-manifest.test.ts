import assert from 'node:assert/strict';
import { cp, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FleetError } from '../../contract/index.js';
import { isSizeAllowed, parseExportManifest, parseUpscaleManifest } from '../../workers/models/model-manifest.js';
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

describe('model manifest: only what an export cannot say', () => {
  it('accepts every catalogue manifest; a folder may have none', () => {
    for (const entry of MODEL_CATALOG) if (entry.spec.manifest !== undefined) parseExportManifest(entry.spec.manifest, 'catalogue');
    assert.deepEqual(parseExportManifest({ schemaVersion: 1 }, 'm.json'), { schemaVersion: 1 });
  });

  it('names the file and the field path of each problem', () => {
    assert.throws(() => parseExportManifest({ schemaVersion: 1, lanes: ['flash', 'video'], sizes: { min: 256, max: 'big' } }, '/models/x/manifest.json'), (error: unknown) => {
      assert.ok(error instanceof FleetError);
      assert.equal(error.code, 'E_MODEL_LOAD');
      assert.match(error.message, /\/models\/x\/manifest\.json/);
      assert.match(error.message, /lanes\.1/);
      assert.match(error.message, /sizes/);
      assert.equal(error.details?.file, '/models/x/manifest.json');
      return true;
    });
    assert.throws(() => parseExportManifest({ schemaVersion: 1, defualtSteps: 3 }, 'typo.json'), rejectsWith('E_MODEL_LOAD', /defualtSteps/));
    assert.throws(() => parseUpscaleManifest({ schemaVersion: 1, pipeline: 'upscale', name: 'u', lanes: ['upscale'], scale: 5, sizes: { min: 1, max: 10 } }, 'u.json'), rejectsWith('E_MODEL_LOAD', /u\.json: .*scale/));
  });

  it('tells a hand-described manifest of the old format what to keep', () => {
    const old = { schemaVersion: 1, name: 'x', pipeline: 'diffusion', scheduler: 'euler', lanes: ['flash'] };
    assert.throws(() => parseExportManifest(old, 'old.json'), rejectsWith('E_MODEL_LOAD', /old\.json: it describes the export by hand.*Keep only schemaVersion, lanes, costUnitsPerImage/));
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

describe('model repository over export folders', () => {
  let scratch: string;
  before(async () => {
    await buildModels({ outDir: MODELS });
    scratch = await mkdtemp(join(tmpdir(), 'fleet-repo-'));
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it('describes the shipped exports from their own configs and filters by lane', async () => {
    const repository = new ModelRepository(MODELS);
    const models = await repository.list();
    const byName = new Map(models.map((m) => [m.name, m]));
    for (const name of ['flash-v1', 'flash-v2', 'large-v1', 'typography-v1', 'upscale-x2', 'upscale-x4']) assert.ok(byName.has(name), name);
    const flash = byName.get('flash-v1')!;
    assert.equal(flash.kind, 'diffusion');
    if (flash.kind === 'diffusion') {
      assert.deepEqual([flash.family, flash.precision, flash.scheduler.kind, flash.latentChannels], ['sd3', 'fp16', 'flow-match-euler', 16]);
      assert.deepEqual([flash.vaeScalingFactor, flash.vaeShiftFactor], [1.5305, 0.0609]);
    }
    const typography = byName.get('typography-v1')!;
    if (typography.kind === 'diffusion') assert.deepEqual([typography.family, typography.textEncoders.map((t) => t.statesOutput)], ['sdxl', ['hidden_states.11', 'hidden_states.31']]);
    const lanes = (await repository.forLane('flash')).map((m) => m.name);
    assert.deepEqual(lanes.filter((n) => n.startsWith('flash-')), ['flash-v1', 'flash-v2']);
    assert.ok(!lanes.includes('large-v1'));
  });

  it('serves an export without a manifest as its folder name on every text-to-image lane, weights counted from its files', async () => {
    const root = join(scratch, 'bare');
    await cp(join(MODELS, 'typography-v1'), join(root, 'my-sdxl'), { recursive: true });
    await rm(join(root, 'my-sdxl', 'manifest.json'));
    const model = await new ModelRepository(root).describe('my-sdxl');
    assert.equal(model.kind, 'diffusion');
    if (model.kind !== 'diffusion') return;
    assert.deepEqual(model.lanes, ['flash', 'large', 'typography']);
    assert.equal(model.costUnitsPerImage, 1);
    assert.ok(model.residentBytes > 1_000_000 && model.residentBytes < 200_000_000, `residentBytes ${model.residentBytes}`);
    assert.equal(model.derivedFrom.residentBytes, 'ONNX files and external data');
    // SDXL's native 1024 (sample_size 128 × 8): 512–1536 by default.
    assert.deepEqual(model.sizes, { min: 512, max: 1536, multipleOf: 64 });
    assert.deepEqual([model.defaultSteps, model.guidanceScale], [50, 5]);
  });

  it('fails E_MODEL_LOAD naming the manifest and field, or the missing file', async () => {
    const root = join(scratch, 'repo');
    await cp(join(MODELS, 'flash-v1'), join(root, 'broken'), { recursive: true });
    await writeFile(join(root, 'broken', 'manifest.json'), JSON.stringify({ schemaVersion: 1, defaultSteps: -1 }));
    const repository = new ModelRepository(root);
    await assert.rejects(repository.read('broken'), rejectsWith('E_MODEL_LOAD', /broken[/\\]manifest\.json: defaultSteps/));
    await assert.rejects(repository.list(), rejectsWith('E_MODEL_LOAD', /defaultSteps/));
    const survey = await repository.survey();
    assert.equal(survey.find((s) => s.name === 'broken')?.error?.code, 'E_MODEL_LOAD');

    await writeFile(join(root, 'broken', 'manifest.json'), '{ not json');
    await assert.rejects(repository.read('broken'), rejectsWith('E_MODEL_LOAD', /not a JSON object/));

    await cp(join(MODELS, 'flash-v1'), join(root, 'renamed'), { recursive: true });
    await writeFile(join(root, 'renamed', 'manifest.json'), JSON.stringify({ schemaVersion: 1, name: 'flash-v1' }));
    await assert.rejects(repository.read('renamed'), rejectsWith('E_MODEL_LOAD', /name: "flash-v1" differs/));

    await cp(join(MODELS, 'large-v1'), join(root, 'no-weights'), { recursive: true });
    await rm(join(root, 'no-weights', 'transformer', 'model.onnx_data'));
    await assert.rejects(repository.read('no-weights'), rejectsWith('E_MODEL_LOAD', /transformer[/\\]model\.onnx keeps its weights in model\.onnx_data, which is missing/));

    await cp(join(MODELS, 'flash-v1'), join(root, 'no-vae'), { recursive: true });
    await rm(join(root, 'no-vae', 'vae_decoder', 'model.onnx'));
    await assert.rejects(repository.read('no-vae'), rejectsWith('E_MODEL_LOAD', /vae_decoder[/\\]model\.onnx is missing/));
    await assert.rejects(repository.read('nope'), rejectsWith('E_MODEL_LOAD', /no model_index\.json/));
  });

  it('lists nothing for an absent folder and skips folders that are not models', async () => {
    assert.deepEqual(await new ModelRepository(join(scratch, 'absent')).list(), []);
    const root = join(scratch, 'half-copied');
    await mkdir(join(root, 'partial', 'unet'), { recursive: true });
    assert.deepEqual(await new ModelRepository(root).names(), []);
  });
});
