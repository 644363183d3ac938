import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FleetError } from '../../contract/index.js';
import { ModelRepository } from '../../workers/models/model-repository.js';
import { OnnxSessionFactory } from '../../workers/engine/onnx-session-factory.js';
import { loadPipeline } from '../../workers/pipelines/index.js';
import { buildModels } from '../../scripts/build-models.js';
import { OnnxGraphBuilder } from '../../scripts/onnx/onnx-graph-builder.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');

function identityModel(input: string, output: string): Uint8Array {
  const g = new OnnxGraphBuilder('wrong');
  g.input(input, 'float32', ['batch', 4, 'h', 'w']);
  g.op('Identity', [input], {}, output);
  g.output(output, 'float32', ['batch', 4, 'h', 'w']);
  return g.toBytes();
}

describe('session loading', () => {
  let scratch: string;
  before(async () => {
    await buildModels({ outDir: MODELS });
    scratch = await mkdtemp(join(tmpdir(), 'fleet-session-'));
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it('runs on CPU here and says so', async () => {
    const providers: string[] = [];
    const factory = new OnnxSessionFactory({ onProvider: (p) => providers.push(p) });
    const session = await factory.create(join(MODELS, 'upscale-x2', 'model.onnx'));
    assert.deepEqual(session.inputs.map((t) => t.name), ['input']);
    assert.equal(session.inputs[0]!.type, 'float32');
    assert.deepEqual(providers, [factory.preferredProvider]);
    await session.release();
  });

  it('fails E_MODEL_SHAPE at read, listing what is missing and what is there, when a unet has the wrong tensors', async () => {
    const dir = join(scratch, 'typography-v1');
    await cp(join(MODELS, 'typography-v1'), dir, { recursive: true });
    await writeFile(join(dir, 'unet', 'model.onnx'), identityModel('latents', 'noise_pred'));
    await rm(join(dir, 'unet', 'model.onnx_data'), { force: true });
    await assert.rejects(new ModelRepository(scratch).read('typography-v1'), (error: unknown) => {
      assert.ok(error instanceof FleetError);
      assert.equal(error.code, 'E_MODEL_SHAPE');
      assert.match(error.message, /input sample is missing \(inputs: latents\)/);
      assert.match(error.message, /input latents is one the pipeline does not feed/);
      assert.match(error.message, /output out_sample is missing \(outputs: noise_pred\)/);
      return true;
    });
  });

  it('fails E_MODEL_SHAPE when an upscaler has more than one input', async () => {
    const dir = join(scratch, 'upscale-x2');
    await cp(join(MODELS, 'upscale-x2'), dir, { recursive: true });
    const g = new OnnxGraphBuilder('two-inputs');
    g.input('a', 'float32', [1, 3, 4, 4]);
    g.input('b', 'float32', [1, 3, 4, 4]);
    g.op('Add', ['a', 'b'], {}, 'output');
    g.output('output', 'float32', [1, 3, 4, 4]);
    await writeFile(join(dir, 'model.onnx'), g.toBytes());
    const entry = await new ModelRepository(scratch).describe('upscale-x2');
    await assert.rejects(loadPipeline(entry), (error: unknown) => error instanceof FleetError && error.code === 'E_MODEL_SHAPE' && /found inputs \[a, b\]/.test(error.message));
  });

  it('fails E_MODEL_LOAD for a missing or corrupt model file', async () => {
    const factory = new OnnxSessionFactory();
    await assert.rejects(factory.create(join(scratch, 'absent.onnx')), (e: unknown) => e instanceof FleetError && e.code === 'E_MODEL_LOAD' && /absent\.onnx/.test(e.message));
    await writeFile(join(scratch, 'garbage.onnx'), 'definitely not protobuf');
    await assert.rejects(factory.create(join(scratch, 'garbage.onnx')), (e: unknown) => e instanceof FleetError && e.code === 'E_MODEL_LOAD' && e.cause !== undefined);
  });

  it('intraOpSpinning: validated, and the same pixels with threads spinning or sleeping', async () => {
    assert.throws(() => new OnnxSessionFactory({ intraOpSpinning: 'no' as unknown as boolean }), /intraOpSpinning must be a boolean, got no/);
    const entry = await new ModelRepository(MODELS).describe('flash-v1');
    const render = async (intraOpSpinning: boolean) => {
      const pipeline = await loadPipeline(entry, { sessionFactory: new OnnxSessionFactory({ executionProvider: 'cpu', intraOpSpinning }) });
      assert.equal(pipeline.kind, 'diffusion');
      const [image] = pipeline.kind === 'diffusion' ? await pipeline.run([{ prompt: 'a red fox', seed: 3, width: 512, height: 512 }]) : [];
      await pipeline.release();
      return image!.pixels;
    };
    assert.deepEqual(await render(false), await render(true));
  });
});
