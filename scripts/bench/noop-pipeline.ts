import type { DiffusionManifest, ModelEntry, Pipeline, RawImage, UpscaleManifest } from '../../workers/index.js';

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
export async function loadNoopPipeline(entry: ModelEntry, shared = false): Promise<Pipeline> {
  const image = shared ? () => SHARED_IMAGE : tinyImage;
  const manifest = entry.manifest;
  if (manifest.pipeline === 'upscale') {
    return { kind: 'upscale', manifest: manifest as UpscaleManifest, scale: manifest.scale as 2 | 4, upscale: async () => image(), release: async () => {} };
  }
  return { kind: 'diffusion', manifest: manifest as DiffusionManifest, run: async (items) => items.map(() => image()), release: async () => {} };
}
