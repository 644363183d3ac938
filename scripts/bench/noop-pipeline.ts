import type { DiffusionManifest, ModelEntry, Pipeline, RawImage, UpscaleManifest } from '../../workers/index.js';

/** Side of the images the no-op pipeline returns, px. */
export const NOOP_IMAGE_SIDE_PX = 8;

function tinyImage(): RawImage {
  return { pixels: new Uint8Array(NOOP_IMAGE_SIDE_PX * NOOP_IMAGE_SIDE_PX * 3).fill(127), width: NOOP_IMAGE_SIDE_PX, height: NOOP_IMAGE_SIDE_PX, channels: 3 };
}

/**
 * A pipeline that does no inference: each item gets an 8×8 grey image at once. Injected through
 * `FleetWorkerOptions.pipelineLoader`, it leaves what the fleet itself costs per job.
 */
export async function loadNoopPipeline(entry: ModelEntry): Promise<Pipeline> {
  const manifest = entry.manifest;
  if (manifest.pipeline === 'upscale') {
    return { kind: 'upscale', manifest: manifest as UpscaleManifest, scale: manifest.scale as 2 | 4, upscale: async () => tinyImage(), release: async () => {} };
  }
  return { kind: 'diffusion', manifest: manifest as DiffusionManifest, run: async (items) => items.map(() => tinyImage()), release: async () => {} };
}
