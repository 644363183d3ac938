import { loadSharp } from '../pipelines/sharp-loader.js';
import { EDIT_SOURCE_SIDE, effectiveStrength, FleetError, ValidationError } from '../../contract/index.js';
import type { DiffusionModel } from '../models/model-description.js';
import type { ArtifactStore } from '../stores/artifact-store.js';
import type { RenderJob } from './render-job.js';
import { planRenderSize } from './render-size.js';

/**
 * How much more activation memory an edit takes than a text-to-image render of its size: the VAE encoder runs over
 * the full-resolution source (twice for an inpainting model: the source and the masked image) before the denoiser,
 * and its activations at full resolution rival the decoder's. The batcher's learned factor corrects it upward after
 * an out-of-memory error, as for any estimate.
 */
export const EDIT_ACTIVATION_SCALE = 1.5;

/**
 * The batch compatibility key (model and size are the batcher's own): text-to-image batches by steps and guidance;
 * edits only with edits of the same strength, since a batch runs one schedule.
 */
export function batchKeyOf(job: { steps?: number; guidanceScale?: number; edit?: { strength: number } }): string {
  const base = `${job.steps}|${job.guidanceScale ?? ''}`;
  return job.edit === undefined ? base : `edit|${job.edit.strength}|${base}`;
}

/**
 * An edit reads its source and mask before the batch, as an upscale does, and renders at the model's size nearest
 * the source's (the result is resized back and composited at the source's size).
 * @throws FleetError E_SOURCE when the source (or mask) is missing or not an image.
 */
export async function prepareEdit(base: RenderJob, store: ArtifactStore, model: DiffusionModel): Promise<RenderJob> {
  const { request } = base.job.data;
  if (request.source === undefined) throw new ValidationError('an edit needs source.key', 'source');
  const [source, mask] = await Promise.all([store.get(request.source.key), request.mask === undefined ? undefined : store.get(request.mask.key)]);
  const size = await imageSize(source, 'source.key');
  // Checked at the edge from the stored header too; here before any pixel is decoded (a replayed or re-stored source).
  const { min, max } = EDIT_SOURCE_SIDE;
  if (size.width < min || size.height < min || size.width > max || size.height > max) {
    throw new ValidationError(`an edit's source must be ${min}–${max} px a side; ${request.source.key} is ${size.width}x${size.height}`, 'source.key');
  }
  return {
    ...base,
    render: planRenderSize(model.sizes, size.width, size.height),
    edit: { source, ...(mask === undefined ? {} : { mask }), strength: effectiveStrength(request)! },
  };
}

async function imageSize(bytes: Buffer, field: string): Promise<{ width: number; height: number }> {
  const sharp = await loadSharp();
  try {
    const { width, height } = await sharp(bytes, { limitInputPixels: false }).metadata();
    if (width !== undefined && height !== undefined) return { width, height };
  } catch (error) {
    throw new FleetError('E_SOURCE', `${field}: the stored object is not an image sharp can read`, { field, cause: error });
  }
  throw new FleetError('E_SOURCE', `${field}: the stored object has no image size`, { field });
}
