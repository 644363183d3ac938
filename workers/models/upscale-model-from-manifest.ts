import { join } from 'node:path';
import type { UpscaleModel } from './model-description.js';
import type { UpscaleManifest } from './model-manifest.js';

/** An upscaler as the fleet serves it, from its validated manifest and the folder its file is relative to. */
export function upscaleModelFromManifest(manifest: UpscaleManifest, dir: string): UpscaleModel {
  return {
    kind: 'upscale',
    name: manifest.name,
    dir,
    description: manifest.description,
    lanes: manifest.lanes,
    costUnitsPerImage: manifest.costUnitsPerImage,
    residentBytes: manifest.residentBytes,
    activationBytesPerMegapixel: manifest.activationBytesPerMegapixel,
    derivedFrom: { lanes: 'manifest', costUnitsPerImage: 'manifest', residentBytes: 'manifest', activationBytesPerMegapixel: 'manifest', sizes: 'manifest' },
    file: join(dir, manifest.files.model),
    scale: manifest.scale,
    valueRange: manifest.valueRange,
    sizes: manifest.sizes,
    tile: manifest.tile,
  };
}
