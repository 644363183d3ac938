import type { ModelDescription, Pipeline, RawImage } from '../../workers/index.js';

/** Side of the images the no-op pipeline returns, px. */
export const NOOP_IMAGE_SIDE_PX = 8;

/** A fresh 8×8 grey image (what the finisher's real encode path gets). */
export function tinyImage(): RawImage {
  return { pixels: new Uint8Array(NOOP_IMAGE_SIDE_PX * NOOP_IMAGE_SIDE_PX * 3).fill(127), width: NOOP_IMAGE_SIDE_PX, height: NOOP_IMAGE_SIDE_PX, channels: 3 };
}

/** One image every item shares: nothing downstream of the no-op finisher reads or changes it. */
const SHARED_IMAGE = tinyImage();

/**
 * A pipeline that does no inference: each item gets an 8×8 grey image at once. Injected through
 * `FleetWorkerOptions.pipelineLoader`, it leaves what the fleet itself costs per job. `shared`: every item
 * gets the same image object (for the no-op finisher, which never reads it).
 */
export async function loadNoopPipeline(model: ModelDescription, shared = false): Promise<Pipeline> {
  const image = shared ? () => SHARED_IMAGE : tinyImage;
  if (model.kind === 'upscale') return { kind: 'upscale', model, scale: model.scale, upscale: async () => image(), release: async () => {} };
  return { kind: 'diffusion', model, run: async (items) => items.map(() => image()), release: async () => {} };
}
