// Exports the pipeline cannot run are refused when they are read, with E_MODEL_SHAPE (never retried) naming the
// file and the tensor: an input the pipeline will not feed, dims that contradict another component, an unknown
// pipeline class, a scheduler for another family, ORT's CUDA-only fusions on a CPU worker.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ERROR_CODES, FleetError } from '../../contract/index.js';
import { OnnxGraphBuilder } from '../../scripts/onnx/onnx-graph-builder.js';
import { writeExport } from '../../scripts/onnx/exports/write-export.js';
import { ModelRepository } from '../../workers/models/model-repository.js';
import { loadPipeline } from '../../workers/pipelines/index.js';
import { ORACLE_EXPORTS } from '../helpers/oracle-exports.js';

const sd15 = ORACLE_EXPORTS.find((e) => e.name === 'sd15-optimum-fp16')!.spec;
const sdxl = ORACLE_EXPORTS.find((e) => e.name === 'sdxl-optimum-fp32')!.spec;

function refusal(file: RegExp, tensor: string | undefined, message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof FleetError, `expected a FleetError, got ${String(error)}`);
    assert.equal(error.code, 'E_MODEL_SHAPE');
    assert.equal(ERROR_CODES[error.code].retryable, false);
    assert.match(error.message, message);
    assert.match(String(error.details?.file), file);
    if (tensor !== undefined) assert.equal(error.details?.tensor, tensor);
    return true;
  };
}

/** A one-node graph standing in for a component, with the given inputs and outputs. */
function stubGraph(inputs: Array<[string, 'float32' | 'int64' | 'int32', Array<number | string>]>, outputs: Array<[string, Array<number | string>]>): Uint8Array {
  const g = new OnnxGraphBuilder('stub');
  for (const [name, type, dims] of inputs) g.input(name, type, dims);
  const first = inputs.find(([, type]) => type === 'float32')?.[0] ?? g.op('Cast', [inputs[0]![0]], { to: 1 });
  for (const [name, dims] of outputs) {
    g.op('Identity', [first], {}, name);
    g.output(name, 'float32', dims);
  }
  return g.toBytes();
}

describe('contract check at load: what the pipeline cannot run is refused, naming the file and the tensor', () => {
  let root: string;
  let repository: ModelRepository;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'fleet-contract-'));
    repository = new ModelRepository(root);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('an input the pipeline will not feed', async () => {
    const dir = join(root, 'extra-input');
    await writeExport(sd15, dir);
    await writeFile(
      join(dir, 'unet', 'model.onnx'),
      stubGraph(
        [['sample', 'float32', ['batch_size', 4, 'height', 'width']], ['timestep', 'int64', ['steps']], ['encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', 768]], ['controlnet_cond', 'float32', ['batch_size', 3, 'h', 'w']]],
        [['out_sample', ['batch_size', 4, 'height', 'width']]],
      ),
    );
    await assert.rejects(repository.read('extra-input'), refusal(/extra-input[/\\]unet[/\\]model\.onnx/, 'controlnet_cond', /input controlnet_cond is one the pipeline does not feed/));
  });

  it('a context width that contradicts the text encoder', async () => {
    const dir = join(root, 'context-width');
    await writeExport(sd15, dir);
    await writeFile(
      join(dir, 'unet', 'model.onnx'),
      stubGraph(
        [['sample', 'float32', ['batch_size', 4, 'height', 'width']], ['timestep', 'int64', ['steps']], ['encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', 1024]]],
        [['out_sample', ['batch_size', 4, 'height', 'width']]],
      ),
    );
    await assert.rejects(repository.read('context-width'), refusal(/unet[/\\]model\.onnx/, 'encoder_hidden_states', /encoder_hidden_states has 1024 at axis 2 where the pipeline needs 768/));
  });

  it('latent channels that differ between the denoiser and the VAE, and a VAE that does not give RGB', async () => {
    const dir = join(root, 'latent-channels');
    await writeExport(sd15, dir);
    await writeFile(join(dir, 'vae_decoder', 'model.onnx'), stubGraph([['latent_sample', 'float32', ['batch_size', 16, 'h', 'w']]], [['sample', ['batch_size', 16, 'h', 'w']]]));
    const config = JSON.parse(await readFile(join(dir, 'vae_decoder', 'config.json'), 'utf8'));
    await writeFile(join(dir, 'vae_decoder', 'config.json'), JSON.stringify({ ...config, latent_channels: 16 }));
    await assert.rejects(repository.read('latent-channels'), refusal(/unet[/\\]model\.onnx/, 'sample', /input sample has 4 at axis 1 where the pipeline needs 16/));
    await assert.rejects(repository.read('latent-channels'), (error: unknown) => /output sample has 16 at axis 1 where the pipeline needs 3/.test((error as Error).message));
  });

  it('an SDXL UNet whose text_embeds width is not encoder 2 pooled width (or a refiner with 5 time ids)', async () => {
    const dir = join(root, 'sdxl-pooled');
    await writeExport(sdxl, dir);
    await writeFile(
      join(dir, 'unet', 'model.onnx'),
      stubGraph(
        [
          ['sample', 'float32', ['batch_size', 4, 'height', 'width']],
          ['timestep', 'float32', []],
          ['encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', 2048]],
          ['text_embeds', 'float32', ['batch_size', 1024]],
          ['time_ids', 'float32', ['batch_size', 5]],
        ],
        [['out_sample', ['batch_size', 4, 'height', 'width']]],
      ),
    );
    await assert.rejects(repository.read('sdxl-pooled'), (error: unknown) => {
      refusal(/unet[/\\]model\.onnx/, 'text_embeds', /text_embeds has 1024 at axis 1 where the pipeline needs 1280/)(error);
      assert.match((error as Error).message, /time_ids has 5 at axis 1 where the pipeline needs 6/);
      return true;
    });
  });

  it('an SDXL text encoder exported without hidden states', async () => {
    const dir = join(root, 'sdxl-no-hidden');
    await writeExport(sdxl, dir);
    await writeFile(join(dir, 'text_encoder', 'model.onnx'), stubGraph([['input_ids', 'int64', ['batch_size', 'sequence_length']]], [['last_hidden_state', ['batch_size', 'sequence_length', 768]], ['pooler_output', ['batch_size', 768]]]));
    await assert.rejects(repository.read('sdxl-no-hidden'), refusal(/text_encoder[/\\]model\.onnx/, 'hidden_states.11', /output hidden_states\.11 is missing/));
  });

  it('an unknown pipeline class, and a flow-matching scheduler on an ε model', async () => {
    const dir = join(root, 'unknown-class');
    await writeExport(sd15, dir);
    const index = JSON.parse(await readFile(join(dir, 'model_index.json'), 'utf8'));
    await writeFile(join(dir, 'model_index.json'), JSON.stringify({ ...index, _class_name: 'KandinskyV22Pipeline' }));
    await assert.rejects(repository.read('unknown-class'), refusal(/unknown-class[/\\]model_index\.json/, undefined, /_class_name "KandinskyV22Pipeline" is not a pipeline the fleet runs/));

    const flow = join(root, 'wrong-scheduler');
    await writeExport(sd15, flow);
    await writeFile(join(flow, 'scheduler', 'scheduler_config.json'), JSON.stringify({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 }));
    await assert.rejects(repository.read('wrong-scheduler'), refusal(/scheduler_config\.json/, undefined, /predicts flow_prediction, which a sd denoiser does not/));
  });

  it("ORT's CUDA-only fusions are refused on a CPU worker before any session is created", async () => {
    const dir = join(root, 'ort-optimized');
    await writeExport({ ...sd15, exporter: 'ort-optimized' }, dir);
    const model = await repository.read('ort-optimized');
    assert.equal(model.kind, 'diffusion');
    if (model.kind !== 'diffusion') return;
    assert.equal(model.exporter, 'onnxruntime optimizer (Olive)');
    let created = 0;
    const factory = { create: async () => (created++, Promise.reject(new Error('must not be called'))) };
    await assert.rejects(loadPipeline(model, { sessionFactory: factory, provider: 'cpu' }), refusal(/unet[/\\]model\.onnx/, undefined, /com\.microsoft:GroupNorm, which onnxruntime runs only on CUDA; this worker runs on CPU/));
    assert.equal(created, 0, 'no session was created: never half-loaded');
  });
});
