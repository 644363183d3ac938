import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { OnnxSessionFactory } from '../../workers/engine/onnx-session-factory.js';
import { OnnxGraphBuilder, type ElementType } from '../../scripts/onnx/onnx-graph-builder.js';
import { MODELS_DIR } from './worker.js';

/** Side of the square matrices the slow graph multiplies. */
const MATRIX_SIDE = 1024;
/** MatMuls in the graph that times one run before the real one is sized. */
const PROBE_MATMULS = 16;
/** The sized graph stops here, however slow the probe ran: a loaded machine must not make a test graph endless. */
const MAX_MATMULS = 2000;

/**
 * A denoiser with the flash unet's inputs and output that takes at least `minRunMs` a run on this CPU: the
 * input's mean scales an identity matrix, which is multiplied by the identity again and again (a chain no
 * optimiser folds, because it starts from the input), and the result is added to `sample` times zero.
 */
function slowUnet(matmuls: number, timestep: { type: ElementType; dims: Array<number | string> }): Uint8Array {
  const g = new OnnxGraphBuilder('slow-unet');
  const sample = g.input('sample', 'float32', ['batch', 4, 'latent_height', 'latent_width']);
  g.input('timestep', timestep.type, timestep.dims);
  g.input('encoder_hidden_states', 'float32', ['batch', 77, 'hidden']);
  const identity = new Float32Array(MATRIX_SIDE * MATRIX_SIDE);
  for (let i = 0; i < MATRIX_SIDE; i++) identity[i * MATRIX_SIDE + i] = 1;
  const eye = g.floats('identity', [MATRIX_SIDE, MATRIX_SIDE], identity);
  let product = g.op('Mul', [eye, g.op('ReduceMean', [sample], { keepdims: 0 })]);
  for (let i = 0; i < matmuls; i++) product = g.op('MatMul', [product, eye]);
  const nothing = g.op('Mul', [g.op('ReduceMean', [product], { keepdims: 0 }), g.floats('zero', [], [0])]);
  g.op('Add', [sample, nothing], {}, 'out_sample');
  g.output('out_sample', 'float32', ['batch', 4, 'latent_height', 'latent_width']);
  return g.toBytes();
}

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
 * A model repository holding `flash-v1` with its denoiser replaced by one whose every run takes at least
 * `minRunMs` here (sized from a timed probe of the same graph): a stand-in for a real denoiser on a CPU worker.
 * Its images are the toy model's noise, decoded; what matters is the time a run holds its thread.
 */
export async function buildSlowModels(minRunMs: number): Promise<{ modelsDir: string; matmuls: number }> {
  const modelsDir = await mkdtemp(join(tmpdir(), 'fleet-slow-models-'));
  const dir = join(modelsDir, 'flash-v1');
  await cp(join(MODELS_DIR, 'flash-v1'), dir, { recursive: true });
  const real = await new OnnxSessionFactory({ executionProvider: 'cpu' }).create(join(dir, 'unet', 'model.onnx'));
  const declared = real.inputs.find((t) => t.name === 'timestep')!;
  await real.release();
  const timestep = { type: (declared.type ?? 'int64') as ElementType, dims: [...declared.dims] };
  const probePath = join(modelsDir, 'probe.onnx');
  await writeFile(probePath, slowUnet(PROBE_MATMULS, { type: 'int64', dims: [1] }));
  const probeMs = await timeOneRun(probePath);
  // Twice the time asked: the probe may have run while the machine was busier than it is during the test.
  const matmuls = Math.min(MAX_MATMULS, Math.ceil((PROBE_MATMULS * 2 * minRunMs) / probeMs));
  await writeFile(join(dir, 'unet', 'model.onnx'), slowUnet(matmuls, timestep));
  return { modelsDir, matmuls };
}
