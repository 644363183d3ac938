import ort from 'onnxruntime-node';
import { float32ToHalf, halfToFloat32 } from './half-float.js';
import type { ModelSession } from './onnx-session-factory.js';

/**
 * Pipelines compute in float32 whatever the export's precision: fp16 exports (Optimum `--dtype fp16`, ORT/Olive)
 * declare some or all float inputs and outputs as `float16`. This wraps a session so that a float32 tensor fed to
 * a float16 input is converted to half bits, a float16 tensor fed to a float32 input is widened, and every
 * float16 output comes back as float32. `inputs`/`outputs` still report the declared types.
 */
export function withFloat32Boundary(session: ModelSession): ModelSession {
  const declared = new Map(session.inputs.map((t) => [t.name, t.type]));
  const hasHalf = [...session.inputs, ...session.outputs].some((t) => t.type === 'float16');
  if (!hasHalf) return session;
  const converted = new WeakMap<ort.Tensor, ort.Tensor>();
  const toDeclaredOnce = (tensor: ort.Tensor, type: string | undefined): ort.Tensor => {
    let out = converted.get(tensor);
    if (out === undefined) {
      out = toDeclared(tensor, type);
      converted.set(tensor, out);
    }
    return out;
  };
  return {
    modelPath: session.modelPath,
    ...(session.executionProvider === undefined ? {} : { executionProvider: session.executionProvider }),
    inputs: session.inputs,
    outputs: session.outputs,
    async run(feeds, fetches) {
      const fed: Record<string, ort.Tensor> = {};
      for (const [name, tensor] of Object.entries(feeds)) fed[name] = toDeclaredOnce(tensor, declared.get(name));
      const results = await session.run(fed, fetches);
      const out: Record<string, ort.Tensor> = {};
      for (const [name, tensor] of Object.entries(results)) {
        if (tensor.type === 'float16') {
          out[name] = new ort.Tensor('float32', halfToFloat32(tensor.data as Uint16Array), tensor.dims);
          tensor.dispose();
        } else {
          out[name] = tensor;
        }
      }
      return out;
    },
    release: () => session.release(),
  };
}

function toDeclared(tensor: ort.Tensor, type: string | undefined): ort.Tensor {
  if (type === 'float16' && tensor.type === 'float32') return new ort.Tensor('float16', float32ToHalf(tensor.data as Float32Array), tensor.dims);
  if (type === 'float32' && tensor.type === 'float16') return new ort.Tensor('float32', halfToFloat32(tensor.data as Uint16Array), tensor.dims);
  return tensor;
}
