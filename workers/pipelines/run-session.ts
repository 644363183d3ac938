import type ort from 'onnxruntime-node';
import { isOutOfMemoryError } from '../../batching/index.js';
import { FleetError } from '../../contract/index.js';
import type { ModelSession } from '../engine/onnx-session-factory.js';

/** A float output's data and dims. */
export interface FloatOutput {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * Runs a session and returns the named outputs as float32 data with their dims (float16 outputs arrive as float32:
 * see `withFloat32Boundary`).
 * @throws FleetError E_OOM when the runtime ran out of memory (retryable after splitting the batch),
 *   E_INFERENCE for any other runtime failure, E_MODEL_SHAPE when an output is missing or not float.
 */
export async function runForFloatOutputs(session: ModelSession, feeds: Record<string, ort.Tensor>, outputNames: readonly string[]): Promise<Record<string, FloatOutput>> {
  let results: Record<string, ort.Tensor>;
  try {
    results = await session.run(feeds, outputNames);
  } catch (error) {
    const code = isOutOfMemoryError(error) ? 'E_OOM' : 'E_INFERENCE';
    throw new FleetError(code, `${session.modelPath} failed while running`, { cause: error, details: { file: session.modelPath } });
  }
  const out: Record<string, FloatOutput> = {};
  for (const name of outputNames) {
    const output = results[name];
    if (output === undefined || !(output.data instanceof Float32Array)) {
      throw new FleetError('E_MODEL_SHAPE', `${session.modelPath}: output ${name} missing or not float (got ${output?.type ?? 'nothing'})`, {
        details: { file: session.modelPath, tensor: name },
      });
    }
    out[name] = { data: output.data, dims: output.dims };
  }
  for (const [name, tensor] of Object.entries(results)) if (!outputNames.includes(name)) tensor.dispose();
  return out;
}

/** As `runForFloatOutputs` for one output. */
export async function runForFloatOutput(session: ModelSession, feeds: Record<string, ort.Tensor>, outputName: string): Promise<FloatOutput> {
  return (await runForFloatOutputs(session, feeds, [outputName]))[outputName]!;
}
