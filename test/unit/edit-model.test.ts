import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorCodeOf } from '../../contract/index.js';
import { writeExport } from '../../scripts/onnx/exports/write-export.js';
import { toCatalogueModel } from '../../workers/model-catalogue-publisher.js';
import { vaeEncoderOutput } from '../../workers/models/diffusion-contract.js';
import { ModelRepository } from '../../workers/pipelines/index.js';
import { EDIT_ORACLE_EXPORTS } from '../helpers/oracle-exports.js';

const spec = (name: string) => EDIT_ORACLE_EXPORTS.find((e) => e.name === name)!.spec;

describe('which exports edit', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleet-edit-models-'));
    await writeExport(spec('sd15-img2img-optimum-fp32'), join(dir, 'img2img'));
    await writeExport(spec('sd15-script-img2img-fp32'), join(dir, 'script'));
    await writeExport(spec('sd15-inpaint-optimum-fp32'), join(dir, 'inpaint'));
    await writeExport({ ...spec('sd15-img2img-optimum-fp32'), withVaeEncoder: false }, join(dir, 'no-encoder'));
    await writeExport({ ...spec('sd15-inpaint-optimum-fp32'), withVaeEncoder: false }, join(dir, 'inpaint-no-encoder'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("reads the encoder's output as its exporter names it: latent_parameters (Optimum), latent_sample (diffusers' script)", async () => {
    const repository = new ModelRepository(dir);
    const optimum = await repository.describe('img2img');
    const script = await repository.describe('script');
    assert.ok(optimum.kind === 'diffusion' && script.kind === 'diffusion');
    assert.equal(vaeEncoderOutput(optimum.vaeEncoder!)?.name, 'latent_parameters');
    assert.equal(vaeEncoderOutput(script.vaeEncoder!)?.name, 'latent_sample');
    assert.equal(toCatalogueModel(optimum, ['flash'])?.edit, 'img2img');
  });

  it('describes a 9-channel UNet as an inpainting model that only edits', async () => {
    const model = await new ModelRepository(dir).describe('inpaint');
    assert.ok(model.kind === 'diffusion');
    assert.equal(model.inpainting, true);
    assert.equal(model.pipelineClass.task, 'inpaint');
    assert.equal(toCatalogueModel(model, ['flash'])?.edit, 'inpaint');
  });

  it('an export without a vae_encoder still generates but does not edit; an inpainting one without it is refused', async () => {
    const repository = new ModelRepository(dir);
    const plain = await repository.describe('no-encoder');
    assert.ok(plain.kind === 'diffusion');
    assert.equal(plain.vaeEncoder, undefined);
    assert.equal(toCatalogueModel(plain, ['flash'])?.edit, undefined);
    await assert.rejects(repository.describe('inpaint-no-encoder'), (error: unknown) => {
      assert.equal(errorCodeOf(error), 'E_MODEL_SHAPE');
      assert.match(String((error as Error).message), /inpainting denoiser needs vae_encoder/);
      return true;
    });
  });
});
