import type ort from 'onnxruntime-node';
import { FleetError } from '../../contract/index.js';
import type { ModelSession } from '../engine/onnx-session-factory.js';

const OUT_OF_MEMORY = /out of memory|failed to allocate|bad_alloc|CUDNN_STATUS_ALLOC_FAILED|CUBLAS_STATUS_ALLOC_FAILED/i;

/**
 * Runs a session and returns one named output as float32 data with its dims.
 * @throws FleetError E_OOM when the runtime ran out of memory (retryable after splitting the batch),
 *   E_INFERENCE for any other runtime failure, E_MODEL_SHAPE when the output is missing or not float32.
 */
export async function runForFloatOutput(
  session: ModelSession,
  feeds: Record<string, ort.Tensor>,
  outputName: string,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  let results: Record<string, ort.Tensor>;
  try {
    results = await session.run(feeds);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = OUT_OF_MEMORY.test(message) ? 'E_OOM' : 'E_INFERENCE';
    throw new FleetError(code, `${session.modelPath} failed while running`, { cause: error, details: { file: session.modelPath } });
  }
  const output = results[outputName];
  if (output === undefined || !(output.data instanceof Float32Array)) {
    throw new FleetError('E_MODEL_SHAPE', `${session.modelPath}: output ${outputName} missing or not float32 (got ${output?.type ?? 'nothing'})`, {
      details: { file: session.modelPath },
    });
  }
  for (const tensor of Object.values(results)) if (tensor !== output) tensor.dispose();
  return { data: output.data, dims: output.dims };
}
