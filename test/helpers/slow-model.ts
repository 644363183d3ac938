import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { OnnxSessionFactory } from '../../workers/engine/onnx-session-factory.js';
import { OnnxGraphBuilder, type ElementType } from '../../scripts/onnx/onnx-graph-builder.js';
import { readOnnxSignature, type OnnxSignature } from '../../workers/models/onnx-signature.js';
import { MODELS_DIR } from './worker.js';

/** Side of the square matrices the slow graph multiplies. */
const MATRIX_SIDE = 1024;
/** MatMuls in the graph that times one run before the real one is sized. */
const PROBE_MATMULS = 16;
/** The sized graph stops here, however slow the probe ran: a loaded machine must not make a test graph endless. */
const MAX_MATMULS = 2000;

/**
 * A denoiser with the flash model's declared inputs and output (SD3's transformer: `hidden_states`, `timestep`,
 * `encoder_hidden_states`, `pooled_projections` → `out_hidden_states`) that takes at least `minRunMs` a run on
 * this CPU: the input's mean scales an identity matrix, which is multiplied by the identity again and again (a
 * chain no optimiser folds, because it starts from the input), and the result is added to the latents times zero.
 */
function slowDenoiser(matmuls: number, signature: Pick<OnnxSignature, 'inputs' | 'outputs'>): Uint8Array {
  const g = new OnnxGraphBuilder('slow-denoiser');
  for (const input of signature.inputs) g.input(input.name, input.type as ElementType, input.dims);
  const latents = signature.inputs[0]!.name;
  const identity = new Float32Array(MATRIX_SIDE * MATRIX_SIDE);
  for (let i = 0; i < MATRIX_SIDE; i++) identity[i * MATRIX_SIDE + i] = 1;
  const eye = g.floats('identity', [MATRIX_SIDE, MATRIX_SIDE], identity);
  const asFloat = signature.inputs[0]!.type === 'float32' ? latents : g.op('Cast', [latents], { to: 1 });
  let product = g.op('Mul', [eye, g.op('ReduceMean', [asFloat], { keepdims: 0 })]);
  for (let i = 0; i < matmuls; i++) product = g.op('MatMul', [product, eye]);
  const nothing = g.op('Mul', [g.op('ReduceMean', [product], { keepdims: 0 }), g.floats('zero', [], [0])]);
  const out = signature.outputs[0]!;
  const sum = g.op('Add', [asFloat, nothing]);
  g.op(out.type === 'float32' ? 'Identity' : 'Cast', [sum], out.type === 'float32' ? {} : { to: 10 }, out.name);
  g.output(out.name, out.type as ElementType, out.dims);
  return g.toBytes();
}

const PROBE_SIGNATURE: Pick<OnnxSignature, 'inputs' | 'outputs'> = {
  inputs: [
    { name: 'sample', type: 'float32', dims: ['batch', 4, 'latent_height', 'latent_width'] },
    { name: 'timestep', type: 'int64', dims: [1] },
    { name: 'encoder_hidden_states', type: 'float32', dims: ['batch', 77, 'hidden'] },
  ],
  outputs: [{ name: 'out_sample', type: 'float32', dims: ['batch', 4, 'latent_height', 'latent_width'] }],
};

async function timeOneRun(path: string): Promise<number> {
  const session = await new OnnxSessionFactory({ executionProvider: 'cpu' }).create(path);
  const feeds = {
    sample: new ort.Tensor('float32', new Float32Array(4 * 8 * 8).fill(0.5), [1, 4, 8, 8]),
    timestep: new ort.Tensor('int64', new BigInt64Array([1n]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', new Float32Array(77 * 8), [1, 77, 8]),
  };
  await session.run(feeds);
  const started = performance.now();
  await session.run(feeds);
  const ms = performance.now() - started;
  await session.release();
  return ms;
}

/**
 * A model repository holding `flash-v1` with its denoiser (an SD3-shaped transformer) replaced by one whose every run takes at least
 * `minRunMs` here (sized from a timed probe of the same graph): a stand-in for a real denoiser on a CPU worker.
 * Its images are the toy model's noise, decoded; what matters is the time a run holds its thread.
 */
export async function buildSlowModels(minRunMs: number): Promise<{ modelsDir: string; matmuls: number }> {
  const modelsDir = await mkdtemp(join(tmpdir(), 'fleet-slow-models-'));
  const dir = join(modelsDir, 'flash-v1');
  await cp(join(MODELS_DIR, 'flash-v1'), dir, { recursive: true });
  const denoiser = join(dir, 'transformer', 'model.onnx');
  const signature = readOnnxSignature(denoiser);
  const probePath = join(modelsDir, 'probe.onnx');
  await writeFile(probePath, slowDenoiser(PROBE_MATMULS, PROBE_SIGNATURE));
  const probeMs = await timeOneRun(probePath);
  // Twice the time asked: the probe may have run while the machine was busier than it is during the test.
  const matmuls = Math.min(MAX_MATMULS, Math.ceil((PROBE_MATMULS * 2 * minRunMs) / probeMs));
  await writeFile(denoiser, slowDenoiser(matmuls, signature));
  await rm(join(dir, 'transformer', 'model.onnx_data'), { force: true });
  return { modelsDir, matmuls };
}
