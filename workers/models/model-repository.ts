import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FleetError, type Lane } from '../../contract/index.js';
import { MANIFEST_FILE, parseModelManifest, type ModelManifest } from './model-manifest.js';

/** A manifest together with the folder its files are relative to. */
export interface ModelEntry {
  manifest: ModelManifest;
  /** Absolute path of the model's folder. */
  dir: string;
}

function filesOf(manifest: ModelManifest): Record<string, string> {
  return manifest.files;
}

/**
 * A folder of models, one subfolder each with a `manifest.json` (see model-manifest.ts). Folders without a
 * manifest are ignored (a half-copied export); a manifest that fails validation fails the listing, loudly.
 */
export class ModelRepository {
  /** Absolute path of the repository folder. */
  readonly root: string;

  private readonly cache = new Map<string, Promise<ModelEntry>>();

  /** @param root the models folder, usually `FleetConfig.modelsDir` (`./models`). */
  constructor(root: string) {
    this.root = resolve(root);
  }

  /**
   * As `get`, read once per process: manifests do not change under a running worker, and the job path
   * asks for them on every job. A failed read is not kept, so a model copied in later is found.
   */
  entry(name: string): Promise<ModelEntry> {
    let entry = this.cache.get(name);
    if (entry === undefined) {
      entry = this.get(name);
      this.cache.set(name, entry);
      entry.catch(() => this.cache.delete(name));
    }
    return entry;
  }

  /**
   * Reads and validates one model's manifest and checks its files exist.
   * @throws FleetError E_MODEL_LOAD naming the manifest (and field path) or the missing file.
   */
  async get(name: string): Promise<ModelEntry> {
    const dir = join(this.root, name);
    const file = join(dir, MANIFEST_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new FleetError('E_MODEL_LOAD', `model ${name}: cannot read ${file}`, { cause: error, details: { file } });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new FleetError('E_MODEL_LOAD', `invalid model manifest ${file}: not JSON`, { cause: error, details: { file } });
    }
    const manifest = parseModelManifest(json, file);
    if (manifest.name !== name) {
      throw new FleetError('E_MODEL_LOAD', `invalid model manifest ${file}: name: "${manifest.name}" differs from its folder "${name}"`, {
        details: { file, path: 'name' },
      });
    }
    for (const [key, relative] of Object.entries(filesOf(manifest))) {
      const path = join(dir, relative);
      try {
        await stat(path);
      } catch (error) {
        throw new FleetError('E_MODEL_LOAD', `model ${name}: files.${key} ${path} is missing`, {
          cause: error,
          details: { file, path: `files.${key}` },
        });
      }
    }
    return { manifest, dir };
  }

  /** Every model in the repository, sorted by name. An absent repository folder lists nothing. */
  async list(): Promise<ModelEntry[]> {
    let names: string[];
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new FleetError('E_MODEL_LOAD', `cannot list models in ${this.root}`, { cause: error });
    }
    const found: ModelEntry[] = [];
    for (const name of names) {
      try {
        await stat(join(this.root, name, MANIFEST_FILE));
      } catch {
        continue;
      }
      found.push(await this.get(name));
    }
    return found;
  }

  /** Models that declare `lane` among their lanes. */
  async forLane(lane: Lane): Promise<ModelEntry[]> {
    return (await this.list()).filter((entry) => entry.manifest.lanes.includes(lane));
  }
}
