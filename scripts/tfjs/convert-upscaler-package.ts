// Converts one model of an UpscalerJS model package to ONNX, reading what the package itself declares about it.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readTfjsLayersModel } from './tfjs-layers-model.js';
import { convertTfjsLayersModel, type ConvertedUpscaler } from './tfjs-layers-to-onnx.js';

const require = createRequire(import.meta.url);

/** The folder of an installed package (its `package.json` is not always exported, so walk up from its entry). */
export function packageDir(packageName: string): string {
  let dir = dirname(require.resolve(packageName));
  while (dirname(dir) !== dir) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === packageName) return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the folder of package ${packageName}`);
}

/** The fields of an UpscalerJS `ModelDefinition` the conversion uses. */
interface ModelDefinition {
  scale: number;
  modelType: string;
  inputRange?: [number, number];
  outputRange?: [number, number];
  _internals?: { path: string; name: string; version: string };
  path?: string;
}

export interface ConvertedPackageModel extends ConvertedUpscaler {
  /** `@upscalerjs/esrgan-thick@1.0.0`. */
  packageId: string;
  license: string;
  /** Pixel range of input and output as the package's definition declares it. */
  valueRange: 1 | 255;
}

/**
 * Converts `packageName` + `definition` (an export such as `./2x`). The definition is required (not imported as an
 * ES module): it only describes the model, and its TF.js set-up function is never called.
 * @throws Error when the package's model is not a layers model in [0,1] or [0,255], or a layer cannot be converted.
 */
export async function convertUpscalerPackage(packageName: string, definition: string): Promise<ConvertedPackageModel> {
  const specifier = definition === '.' ? packageName : `${packageName}/${definition.replace(/^\.\//, '')}`;
  const loaded = require(specifier) as ModelDefinition | { default: ModelDefinition };
  const model = 'default' in loaded ? loaded.default : loaded;
  const packageJsonPath = join(packageDir(packageName), 'package.json');
  const packageJson = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { version: string; license: string };
  const packageId = `${packageName}@${packageJson.version}`;
  const path = model._internals?.path ?? model.path;
  if (model.modelType !== 'layers' || path === undefined) throw new Error(`${specifier}: not a TF.js layers model definition`);
  const range = model.inputRange?.[1] ?? 255;
  if ((range !== 1 && range !== 255) || model.inputRange?.[0] !== 0 || model.outputRange?.[1] !== range) {
    throw new Error(`${specifier}: value ranges ${JSON.stringify(model.inputRange)} -> ${JSON.stringify(model.outputRange)} are not [0,1] or [0,255] both ways`);
  }
  const converted = convertTfjsLayersModel(await readTfjsLayersModel(join(dirname(packageJsonPath), path)), {
    docString: `${packageId} ${definition} (${packageJson.license}), converted from TF.js layers by image-fleet`,
  });
  if (converted.scale !== model.scale) throw new Error(`${specifier}: the graph scales by ${converted.scale}, the definition says ${model.scale}`);
  return { ...converted, packageId, license: packageJson.license, valueRange: range };
}
