import { fleetKey } from './queue-names.js';
import type { Lane } from './lanes.js';
import type { RedisClient } from './redis-connection.js';

/**
 * The catalogue of the models the fleet serves, with each model's limits, as workers publish it to Redis. The
 * producer checks a routed request against its model before enqueue (a request its model cannot run is a 400, not a
 * job that fails later) and `fleet policy apply`/`test` check a policy's targets against it.
 */

/** Sizes a model takes: each side in [min, max] and a multiple of `multipleOf`, or an explicit list. */
export type ModelSizes = { min: number; max: number; multipleOf: number } | { list: Array<{ width: number; height: number }> };

/** One model as the catalogue shows it. */
export interface CatalogueModel {
  name: string;
  kind: 'diffusion' | 'upscale';
  /** Lanes workers serve it on (the model's lanes that some worker drains). */
  lanes: Lane[];
  /** Relative price of one image (the model's `costUnitsPerImage`): the one place cost units live. */
  costUnitsPerImage: number;
  /** Diffusion models: steps when the request gives none, and the most a request may ask for. */
  steps?: { default: number; max: number };
  /**
   * Diffusion models: the sizes the model renders (a request of another size renders at the nearest of these and
   * is resized, so it is not refused). Upscalers: the source sizes they accept.
   */
  sizes: ModelSizes;
  /** Upscalers: output side / source side. */
  scale?: number;
  /**
   * Diffusion models: how the model serves `intent: 'edit'`. `img2img`: it has a VAE encoder (image-to-image; a mask
   * by latent blending); `inpaint`: a dedicated inpainting denoiser (edits only, masks natively). Absent: no edits.
   */
  edit?: 'img2img' | 'inpaint';
}

/** What one worker published. */
export interface CatalogueEntry {
  workerId: string;
  /** Epoch ms of the publication. */
  publishedAt: number;
  models: CatalogueModel[];
}

/** The merged catalogue: every model some live worker serves, with the union of the lanes they serve it on. */
export interface ModelCatalogue {
  models: Record<string, CatalogueModel>;
  /** Workers whose entries were merged (0: no worker has published lately, so nothing can be checked). */
  workers: number;
}

/** Workers republish every few seconds; an entry older than this is a worker gone. */
export const CATALOGUE_MAX_AGE_MS = 60_000;

/** Hash of worker id → `CatalogueEntry` JSON. */
export function modelCatalogueKey(prefix: string): string {
  return fleetKey(prefix, 'catalogue');
}

/** The catalogue from Redis: entries published within `maxAgeMs`, merged. */
export async function readModelCatalogue(redis: RedisClient, prefix: string, now = Date.now(), maxAgeMs = CATALOGUE_MAX_AGE_MS): Promise<ModelCatalogue> {
  const raw = await redis.hgetall(modelCatalogueKey(prefix));
  const entries: CatalogueEntry[] = [];
  for (const value of Object.values(raw)) {
    try {
      const entry = JSON.parse(value) as CatalogueEntry;
      if (now - entry.publishedAt <= maxAgeMs && Array.isArray(entry.models)) entries.push(entry);
    } catch {
      // A malformed entry is no catalogue; the next publication replaces it.
    }
  }
  return mergeCatalogue(entries);
}

/** Merges workers' entries: a model's lanes are every lane some worker serves it on. */
export function mergeCatalogue(entries: readonly CatalogueEntry[]): ModelCatalogue {
  const models: Record<string, CatalogueModel> = {};
  for (const entry of entries) {
    for (const model of entry.models) {
      const known = models[model.name];
      models[model.name] = known === undefined ? { ...model, lanes: [...model.lanes] } : { ...known, lanes: [...new Set([...known.lanes, ...model.lanes])] };
    }
  }
  return { models, workers: entries.length };
}

/** `256–768 px per side, multiple of 64` or `512x512, 768x512`. */
export function describeModelSizes(sizes: ModelSizes): string {
  if ('list' in sizes) return sizes.list.map((s) => `${s.width}x${s.height}`).join(', ');
  return `${sizes.min}–${sizes.max} px per side, multiple of ${sizes.multipleOf}`;
}

/** Whether `sizes` allows a width×height image. */
export function modelSizesAllow(sizes: ModelSizes, width: number, height: number): boolean {
  if ('list' in sizes) return sizes.list.some((s) => s.width === width && s.height === height);
  const fits = (side: number) => Number.isInteger(side) && side >= sizes.min && side <= sizes.max && side % sizes.multipleOf === 0;
  return fits(width) && fits(height);
}
