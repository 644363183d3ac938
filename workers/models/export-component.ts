import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FleetError } from '../../contract/index.js';
import type { ExportComponent } from './model-description.js';
import { readOnnxSignature } from './onnx-signature.js';

/** Reads a JSON file, or undefined when it does not exist. @throws FleetError E_MODEL_LOAD when it exists but is not JSON. */
export async function readOptionalJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FleetError('E_MODEL_LOAD', `${path} cannot be read`, { cause: error, details: { file: path } });
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new TypeError('not a JSON object');
    return json as Record<string, unknown>;
  } catch (error) {
    throw new FleetError('E_MODEL_LOAD', `${path} is not a JSON object`, { cause: error, details: { file: path } });
  }
}

/** Whether `<dir>/<folder>/model.onnx` exists. */
export async function hasComponent(dir: string, folder: string): Promise<boolean> {
  try {
    return (await stat(join(dir, folder, 'model.onnx'))).isFile();
  } catch {
    return false;
  }
}

/**
 * One component of an export: `<folder>/model.onnx`, what it declares, its `config.json` (Optimum writes one per
 * component; diffusers' legacy script none) and the bytes of the file and its external data (`model.onnx_data`,
 * `weights.pb`, `model.onnx.data`: whatever its initializers name).
 * @throws FleetError E_MODEL_LOAD naming the file when it, or an external data file it names, is missing.
 */
export async function readExportComponent(dir: string, folder: string): Promise<ExportComponent> {
  const file = join(dir, folder, 'model.onnx');
  let bytes: number;
  try {
    bytes = (await stat(file)).size;
  } catch (error) {
    throw new FleetError('E_MODEL_LOAD', `${file} is missing`, { cause: error, details: { file } });
  }
  const signature = readOnnxSignature(file);
  for (const location of signature.externalDataFiles) {
    const path = join(dirname(file), location);
    try {
      bytes += (await stat(path)).size;
    } catch (error) {
      throw new FleetError('E_MODEL_LOAD', `${file} keeps its weights in ${location}, which is missing`, { cause: error, details: { file: path } });
    }
  }
  return { folder, file, signature, config: await readOptionalJson(join(dir, folder, 'config.json')), bytes };
}
