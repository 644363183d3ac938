// Builds the upscalers of scripts/onnx/upscale-catalog.ts into the model repository: each is a trained model from an
// npm package, converted from TF.js layers to ONNX. Idempotent like build-models: an up-to-date build is skipped.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MANIFEST_FILE, parseUpscaleManifest, type UpscaleManifestInput } from '../workers/models/model-manifest.js';
import { UPSCALE_CATALOG, UPSCALER_BUILDER_VERSION, UPSCALER_RESIDENT_OVERHEAD_BYTES, type UpscalerEntry } from './onnx/upscale-catalog.js';
import { convertUpscalerPackage, packageDir } from './tfjs/convert-upscaler-package.js';

export interface BuildUpscalersOptions {
  /** Repository folder. @default 'models' */
  outDir?: string;
  /** Rebuild even when an up-to-date build exists. @default false */
  force?: boolean;
  /** Build only these names; names not in the upscale catalogue are ignored. @default every upscaler */
  only?: string[];
}

export interface BuildUpscalersReport {
  built: string[];
  skipped: string[];
  bytesByModel: Record<string, number>;
}

/** Names this builder owns, for callers that validate `only`. */
export const UPSCALER_NAMES = UPSCALE_CATALOG.map((entry) => entry.name);

/** Names the converter version and the package version it read, so a package update rebuilds. */
async function builderVersion(entry: UpscalerEntry): Promise<string> {
  const { version } = JSON.parse(await readFile(join(packageDir(entry.packageName), 'package.json'), 'utf8')) as { version: string };
  return `${UPSCALER_BUILDER_VERSION}+${entry.packageName}@${version}${entry.definition.slice(1)}`;
}

async function isUpToDate(dir: string, entry: UpscalerEntry): Promise<boolean> {
  try {
    const manifest = parseUpscaleManifest(JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')), join(dir, MANIFEST_FILE));
    if (manifest.builderVersion !== (await builderVersion(entry))) return false;
    for (const file of Object.values(manifest.files)) await stat(join(dir, file));
    return true;
  } catch {
    return false;
  }
}

/** Converts (or skips) each catalogued upscaler into `outDir/<name>/`, staging in a temp folder and renaming into place. */
export async function buildUpscalers(options: BuildUpscalersOptions = {}): Promise<BuildUpscalersReport> {
  const outDir = resolve(options.outDir ?? 'models');
  const report: BuildUpscalersReport = { built: [], skipped: [], bytesByModel: {} };
  await mkdir(outDir, { recursive: true });
  for (const entry of UPSCALE_CATALOG) {
    if (options.only !== undefined && !options.only.includes(entry.name)) continue;
    const dir = join(outDir, entry.name);
    if (!options.force && (await isUpToDate(dir, entry))) {
      report.skipped.push(entry.name);
      continue;
    }
    const converted = await convertUpscalerPackage(entry.packageName, entry.definition);
    const overlapPx = 2 * Math.ceil(converted.receptiveFieldPx) + 2;
    if (overlapPx * 2 > entry.tileSizePx) throw new RangeError(`${entry.name}: tileSizePx ${entry.tileSizePx} is under twice the overlap ${overlapPx}`);
    const manifest: UpscaleManifestInput & { pipeline: 'upscale' } = {
      schemaVersion: 1,
      pipeline: 'upscale',
      builderVersion: await builderVersion(entry),
      name: entry.name,
      description: `${entry.description} Weights: ${converted.packageId} (${converted.license}).`,
      lanes: ['upscale'],
      sizes: entry.sizes,
      scale: converted.scale as 2 | 3 | 4 | 8,
      valueRange: converted.valueRange,
      tile: { sizePx: entry.tileSizePx, overlapPx },
      residentBytes: converted.onnx.byteLength + UPSCALER_RESIDENT_OVERHEAD_BYTES,
      activationBytesPerMegapixel: entry.activationBytesPerMegapixel,
      costUnitsPerImage: entry.costUnitsPerImage,
    };
    parseUpscaleManifest(manifest, `${entry.name}/${MANIFEST_FILE} (upscale catalogue)`);
    const staging = join(outDir, `.staging-${entry.name}-${process.pid}`);
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await writeFile(join(staging, 'model.onnx'), converted.onnx);
    await writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    try {
      await rename(staging, dir);
    } catch (error) {
      // Another process (a parallel test file) finished the same build first: keep its copy.
      await rm(staging, { recursive: true, force: true });
      if (!(await isUpToDate(dir, entry))) throw error;
    }
    report.built.push(entry.name);
    report.bytesByModel[entry.name] = converted.onnx.byteLength;
  }
  return report;
}
