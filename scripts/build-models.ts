// Builds the toy model repository: small ONNX models with deterministic weights in the diffusers export layout.
// Usage: node --import tsx scripts/build-models.ts [--out models] [--force] [--only NAME[,NAME]]
// Idempotent: a model whose manifest carries the current builder version (and whose files exist) is skipped.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MANIFEST_FILE, parseModelManifest } from '../workers/models/model-manifest.js';
import { buildClipVocabulary } from './onnx/clip-vocabulary.js';
import { buildTextEncoder, buildUnet, buildVaeDecoder } from './onnx/diffusion-graphs.js';
import { BUILDER_VERSION, MODEL_CATALOG, type CatalogEntry } from './onnx/model-catalog.js';
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

async function isUpToDate(dir: string): Promise<boolean> {
  try {
    const manifest = parseModelManifest(JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')), join(dir, MANIFEST_FILE));
    if (manifest.builderVersion !== BUILDER_VERSION) return false;
    for (const file of Object.values(manifest.files)) await stat(join(dir, file));
    return true;
  } catch {
    return false;
  }
}

function modelFiles(entry: CatalogEntry): Map<string, Uint8Array | string> {
  const files = new Map<string, Uint8Array | string>();
  files.set(MANIFEST_FILE, `${JSON.stringify(entry.manifest, null, 2)}\n`);
  const vocabulary = buildClipVocabulary();
  for (const [name, text] of Object.entries(vocabulary.files)) files.set(`tokenizer/${name}`, text);
  const graph = { ...(entry.graph as Parameters<typeof buildUnet>[0]), vocabSize: vocabulary.vocabSize, padTokenId: vocabulary.eosId };
  files.set('text_encoder/model.onnx', buildTextEncoder(graph));
  files.set('unet/model.onnx', buildUnet(graph));
  files.set('vae_decoder/model.onnx', buildVaeDecoder(graph, entry.manifest.vaeScalingFactor ?? 0.18215));
  return files;
}

/** Builds (or skips) each catalogue model into `outDir/<name>/`, writing to a temp folder and renaming into place. */
export async function buildModels(options: BuildModelsOptions = {}): Promise<BuildModelsReport> {
  const outDir = resolve(options.outDir ?? 'models');
  const report: BuildModelsReport = { built: [], skipped: [], bytesByModel: {} };
  const unknown = (options.only ?? []).filter((n) => !MODEL_CATALOG.some((e) => e.manifest.name === n) && !UPSCALER_NAMES.includes(n));
  if (unknown.length > 0) throw new RangeError(`only names unknown models: ${unknown.join(', ')}`);
  await mkdir(outDir, { recursive: true });
  for (const entry of MODEL_CATALOG) {
    const name = entry.manifest.name;
    if (options.only !== undefined && !options.only.includes(name)) continue;
    const dir = join(outDir, name);
    if (!options.force && (await isUpToDate(dir))) {
      report.skipped.push(name);
      continue;
    }
    // Validate what we are about to write with the same schema the workers use.
    parseModelManifest(entry.manifest, `${name}/${MANIFEST_FILE} (catalogue)`);
    const staging = join(outDir, `.staging-${name}-${process.pid}`);
    await rm(staging, { recursive: true, force: true });
    let bytes = 0;
    for (const [relative, content] of modelFiles(entry)) {
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
      if (!(await isUpToDate(dir))) throw error;
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
