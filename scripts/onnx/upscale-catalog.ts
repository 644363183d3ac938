// The upscalers scripts/build-upscalers.ts converts from npm packages: which trained model serves each name.
// `npm run eval:upscale` measured every UpscalerJS ESRGAN variant at ×2 and ×4 (bench/results/upscale-eval.md);
// each scale is served by the variant with the best mean luma PSNR gain over bicubic.

/** Bump when the converter or a manifest field changes, so existing builds are replaced. */
export const UPSCALER_BUILDER_VERSION = 'tfjs-layers-1';

const MB = 1_000_000;
const GB = 1_000_000_000;

export interface UpscalerEntry {
  /** Model name (its folder under models/). */
  name: string;
  description: string;
  /** npm package that ships the TF.js layers model and its weights. */
  packageName: string;
  /** The package's export whose model definition (scale, path, value range) is converted: `./2x`, or `.`. */
  definition: string;
  /** Tile side in source pixels; at least twice the overlap the receptive field needs, so tiles never grow. */
  tileSizePx: number;
  sizes: { min: number; max: number; multipleOf: number };
  /** Extra bytes per megapixel of a tile while it runs (the lane charges one tile per job). */
  activationBytesPerMegapixel: number;
  costUnitsPerImage: number;
}

/** Every variant the eval compares; `UPSCALE_CATALOG` picks from these. */
export const UPSCALER_VARIANTS = ['esrgan-slim', 'esrgan-medium', 'esrgan-thick'] as const;
export type UpscalerVariant = (typeof UPSCALER_VARIANTS)[number];

/** The package and definition of a variant at a scale, for the eval and the catalogue alike. */
export function variantSource(variant: UpscalerVariant, scale: 2 | 3 | 4 | 8): Pick<UpscalerEntry, 'packageName' | 'definition'> {
  return { packageName: `@upscalerjs/${variant}`, definition: `./${scale}x` };
}

export const UPSCALE_CATALOG: UpscalerEntry[] = [
  {
    name: 'upscale-x2',
    description: '×2 super-resolution: UpscalerJS esrgan-thick (RRDN, C4 D3 G32, trained on DIV2K), converted from TF.js.',
    ...variantSource('esrgan-thick', 2),
    tileSizePx: 640,
    sizes: { min: 16, max: 2048, multipleOf: 1 },
    activationBytesPerMegapixel: 4 * GB,
    costUnitsPerImage: 0.5,
  },
  {
    name: 'upscale-x4',
    description: '×4 super-resolution: UpscalerJS esrgan-thick (RRDN, C4 D3 G32, trained on DIV2K), converted from TF.js.',
    ...variantSource('esrgan-thick', 4),
    tileSizePx: 640,
    sizes: { min: 16, max: 1024, multipleOf: 1 },
    activationBytesPerMegapixel: 4 * GB,
    costUnitsPerImage: 1,
  },
];

export const UPSCALER_RESIDENT_OVERHEAD_BYTES = 8 * MB;
