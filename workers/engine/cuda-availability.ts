import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';

/**
 * Whether the CUDA execution provider can be tried here: this onnxruntime-node build lists it and its provider
 * library was installed next to the binding (onnxruntime-node downloads it only with
 * `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install --allow-scripts=onnxruntime-node`, on Linux x64). A true answer is still confirmed by creating a session; a
 * false one saves a noisy failed attempt.
 */
export function isCudaAvailable(): boolean {
  const listed = ort.listSupportedBackends().find((backend) => backend.name === 'cuda');
  if (listed === undefined) return false;
  if (listed.bundled) return true;
  try {
    const packageDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const binDir = join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
    const library = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return existsSync(join(binDir, library));
  } catch {
    return false;
  }
}
