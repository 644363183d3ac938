import { loadSharp } from '../pipelines/sharp-loader.js';
import { FleetError, ValidationError } from '../../contract/index.js';
import { describeSizes, isSizeAllowed, type AllowedSizes } from '../models/model-manifest.js';
import type { ArtifactStore } from '../stores/artifact-store.js';

/**
 * Reads a stored source image for a model that takes `sizes`, checking its dimensions from its header (sharp's
 * metadata decodes no pixel) before anything decodes it: a decompression bomb (a few hundred KB of PNG that
 * decodes to gigabytes) costs the worker its header, not its memory.
 * @throws FleetError E_SOURCE when the object is missing or not an image sharp reads; ValidationError
 *   (E_VALIDATION, field `source`) when its size is not one the model takes.
 */
export async function readSourceImage(store: ArtifactStore, key: string, model: { name: string; sizes: AllowedSizes }): Promise<Buffer> {
  const sharp = await loadSharp();
  const bytes = await store.get(key);
  let width: number | undefined;
  let height: number | undefined;
  try {
    // Off here only: the header is all that is read, and an over-size image must be told apart from a broken one.
    ({ width, height } = await sharp(bytes, { limitInputPixels: false }).metadata());
  } catch (error) {
    throw new FleetError('E_SOURCE', `stored object ${key} is not an image sharp can read`, { cause: error, field: 'source.key' });
  }
  if (width === undefined || height === undefined) throw new FleetError('E_SOURCE', `stored object ${key} has no dimensions in its header`, { field: 'source.key' });
  if (!isSizeAllowed(model.sizes, width, height)) {
    throw new ValidationError(`${model.name} takes sources of ${describeSizes(model.sizes)}; ${key} is ${width}x${height}`, 'source');
  }
  return bytes;
}
