import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FleetError, type Lane } from '../../contract/index.js';
import { describeDiffusionExport } from './describe-diffusion-export.js';
import { readOptionalJson } from './export-component.js';
import type { ModelDescription, UpscaleModel } from './model-description.js';
import { MANIFEST_FILE, parseExportManifest, parseUpscaleManifest } from './model-manifest.js';
import { upscaleModelFromManifest } from './upscale-model-from-manifest.js';

/** One folder of the repository as `fleet models` reports it: described, or why not. */
export interface SurveyedModel {
  name: string;
  model?: ModelDescription;
  error?: FleetError;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A folder of models, one subfolder each: an unmodified diffusers/Optimum ONNX export (`model_index.json`, with
 * an optional `manifest.json` of overrides), or an upscaler (`manifest.json` with `pipeline: "upscale"`). A folder
 * with neither is not a model (a half-copied export); one that fails its description fails loudly.
 */
export class ModelRepository {
  /** Absolute path of the repository folder. */
  readonly root: string;

  private readonly cache = new Map<string, Promise<ModelDescription>>();

  /** @param root the models folder, usually `FleetConfig.modelsDir` (`./models`). */
  constructor(root: string) {
    this.root = resolve(root);
  }

  /**
   * As `read`, once per process: exports do not change under a running worker, and the job path asks on every
   * job. A failed read is not kept, so a model copied in later is found.
   */
  describe(name: string): Promise<ModelDescription> {
    let model = this.cache.get(name);
    if (model === undefined) {
      model = this.read(name);
      this.cache.set(name, model);
      model.catch(() => this.cache.delete(name));
    }
    return model;
  }

  /**
   * Reads one model folder: its export's configs and ONNX signatures, checked against its pipeline's contract.
   * @throws FleetError E_MODEL_LOAD (missing or unreadable files, an invalid manifest) or E_MODEL_SHAPE (a graph
   *   or config its pipeline cannot run), naming the file.
   */
  async read(name: string): Promise<ModelDescription> {
    const dir = join(this.root, name);
    const manifestFile = join(dir, MANIFEST_FILE);
    const manifestJson = await readOptionalJson(manifestFile);
    if (manifestJson !== undefined && manifestJson.pipeline === 'upscale') return this.readUpscaler(name, dir, manifestJson, manifestFile);
    if (!(await exists(join(dir, 'model_index.json')))) {
      throw new FleetError('E_MODEL_LOAD', `model ${name}: ${dir} has no model_index.json (a diffusers/Optimum export) and no upscaler manifest.json`, {
        details: { file: join(dir, 'model_index.json') },
      });
    }
    const manifest = manifestJson === undefined ? undefined : parseExportManifest(manifestJson, manifestFile);
    if (manifest?.name !== undefined && manifest.name !== name) {
      throw new FleetError('E_MODEL_LOAD', `invalid model manifest ${manifestFile}: name: "${manifest.name}" differs from its folder "${name}"`, {
        details: { file: manifestFile, path: 'name' },
      });
    }
    return describeDiffusionExport(dir, name, manifest);
  }

  private async readUpscaler(name: string, dir: string, json: Record<string, unknown>, file: string): Promise<UpscaleModel> {
    const manifest = parseUpscaleManifest(json, file);
    if (manifest.name !== name) {
      throw new FleetError('E_MODEL_LOAD', `invalid model manifest ${file}: name: "${manifest.name}" differs from its folder "${name}"`, { details: { file, path: 'name' } });
    }
    const model = upscaleModelFromManifest(manifest, dir);
    if (!(await exists(model.file))) {
      throw new FleetError('E_MODEL_LOAD', `model ${name}: files.model ${model.file} is missing`, { details: { file, path: 'files.model' } });
    }
    return model;
  }

  /** Names of the subfolders that hold a model (an export's `model_index.json` or a `manifest.json`), sorted. */
  async names(): Promise<string[]> {
    let names: string[];
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      names = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new FleetError('E_MODEL_LOAD', `cannot list models in ${this.root}`, { cause: error });
    }
    const found: string[] = [];
    for (const name of names) {
      if ((await exists(join(this.root, name, 'model_index.json'))) || (await exists(join(this.root, name, MANIFEST_FILE)))) found.push(name);
    }
    return found;
  }

  /** Every model, described, sorted by name. @throws the first folder's error that fails its description. */
  async list(): Promise<ModelDescription[]> {
    const models: ModelDescription[] = [];
    for (const name of await this.names()) models.push(await this.describe(name));
    return models;
  }

  /** Every model folder with its description or the error that stops it (for `fleet models`). */
  async survey(): Promise<SurveyedModel[]> {
    const out: SurveyedModel[] = [];
    for (const name of await this.names()) {
      try {
        out.push({ name, model: await this.read(name) });
      } catch (error) {
        out.push({ name, error: error instanceof FleetError ? error : new FleetError('E_MODEL_LOAD', `model ${name}: ${String(error)}`, { cause: error }) });
      }
    }
    return out;
  }

  /** Models that may serve `lane`. */
  async forLane(lane: Lane): Promise<ModelDescription[]> {
    return (await this.list()).filter((model) => model.lanes.includes(lane));
  }
}
