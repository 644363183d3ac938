// Builds the local model repository: export-shaped diffusers/Optimum folders with deterministic toy weights, and
// the upscalers.
// Usage: node --import tsx scripts/build-models.ts [--out models] [--force] [--only NAME[,NAME]]
// Idempotent: a model whose manifest.json carries the current builder version (and whose files exist) is skipped.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ModelRepository } from '../workers/models/model-repository.js';
import { MANIFEST_FILE } from '../workers/models/model-manifest.js';
import { exportFiles } from './onnx/exports/write-export.js';
import { BUILDER_VERSION, MODEL_CATALOG } from './onnx/model-catalog.js';
import { buildUpscalers, UPSCALER_NAMES } from './build-upscalers.js';

export interface BuildModelsOptions {
  /** Repository folder. @default 'models' */
  outDir?: string;
  /** Rebuild even when an up-to-date build exists. @default false */
  force?: boolean;
  /** Build only these model names. @default every model in the catalogue */
  only?: string[];
}

export interface BuildModelsReport {
  built: string[];
  skipped: string[];
  /** Total bytes of the files written or found, per model. */
  bytesByModel: Record<string, number>;
}

async function isUpToDate(root: string, name: string): Promise<boolean> {
  try {
    const manifest = JSON.parse(await readFile(join(root, name, MANIFEST_FILE), 'utf8')) as { builderVersion?: string };
    if (manifest.builderVersion !== BUILDER_VERSION) return false;
    // Reading the model checks every file its description names exists.
    await new ModelRepository(root).read(name);
    return true;
  } catch {
    return false;
  }
}


/** Builds (or skips) each catalogue model into `outDir/<name>/`, writing to a temp folder and renaming into place. */
export async function buildModels(options: BuildModelsOptions = {}): Promise<BuildModelsReport> {
  const outDir = resolve(options.outDir ?? 'models');
  const report: BuildModelsReport = { built: [], skipped: [], bytesByModel: {} };
  const unknown = (options.only ?? []).filter((n) => !MODEL_CATALOG.some((e) => e.name === n) && !UPSCALER_NAMES.includes(n));
  if (unknown.length > 0) throw new RangeError(`only names unknown models: ${unknown.join(', ')}`);
  await mkdir(outDir, { recursive: true });
  for (const entry of MODEL_CATALOG) {
    const name = entry.name;
    if (options.only !== undefined && !options.only.includes(name)) continue;
    const dir = join(outDir, name);
    if (!options.force && (await isUpToDate(outDir, name))) {
      report.skipped.push(name);
      continue;
    }
    const staging = join(outDir, `.staging-${name}-${process.pid}`);
    await rm(staging, { recursive: true, force: true });
    let bytes = 0;
    for (const [relative, content] of exportFiles(entry.spec)) {
      const path = join(staging, relative);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
      bytes += typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
    }
    await rm(dir, { recursive: true, force: true });
    try {
      await rename(staging, dir);
    } catch (error) {
      // Another process (a parallel test file) finished the same build first: keep its copy.
      await rm(staging, { recursive: true, force: true });
      if (!(await isUpToDate(outDir, name))) throw error;
    }
    report.built.push(name);
    report.bytesByModel[name] = bytes;
  }
  const upscalers = await buildUpscalers(options);
  return { built: [...report.built, ...upscalers.built], skipped: [...report.skipped, ...upscalers.skipped], bytesByModel: { ...report.bytesByModel, ...upscalers.bytesByModel } };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'models' },
      force: { type: 'boolean', default: false },
      only: { type: 'string' },
    },
  });
  const started = performance.now();
  const report = await buildModels({
    outDir: values.out,
    force: values.force,
    ...(values.only === undefined ? {} : { only: values.only.split(',') }),
  });
  const elapsedMs = performance.now() - started;
  for (const name of report.built) console.log(`built   ${name} (${(report.bytesByModel[name]! / 1e6).toFixed(2)} MB)`);
  for (const name of report.skipped) console.log(`skipped ${name} (builder ${BUILDER_VERSION} already built)`);
  console.log(`models in ${resolve(values.out)} (${elapsedMs.toFixed(0)} ms)`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
