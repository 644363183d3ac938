import { z } from 'zod';
import { FleetError, LANES } from '../../contract/index.js';

/** Current manifest format. Bump when a field changes meaning. */
export const MANIFEST_SCHEMA_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

const positiveInt = z.number().int().positive();
const byteCount = z.number().int().nonnegative();

/** Allowed sizes as a range: each side in [min, max] and a multiple of `multipleOf`. */
const sizeRangeSchema = z.strictObject({
  /** Smallest side in pixels. */
  min: positiveInt,
  /** Largest side in pixels. */
  max: positiveInt,
  /** Each side must be a multiple of this (diffusion models want 8 at least: the latent is 1/8 size). @default 1 */
  multipleOf: positiveInt.default(1),
});

/** Allowed sizes as an explicit list of width×height pairs. */
const sizeListSchema = z.strictObject({
  list: z.array(z.strictObject({ width: positiveInt, height: positiveInt })).min(1),
});

/** Fields every model declares: identity, lanes and what it costs the VRAM budget. */
const commonFields = {
  /** Format version; must be 1. */
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  /** Model name, equal to its folder name: lowercase letters, digits, `.`, `_`, `-`. */
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, ".", "_" or "-", at most 64'),
  /** Free text for people. */
  description: z.string().optional(),
  /** Lanes this model may serve (a lane's router policy picks among them). */
  lanes: z.array(z.enum(LANES)).min(1),
  /** Set by scripts/build-models.ts so rebuilds are skipped when unchanged; user exports leave it out. */
  builderVersion: z.string().optional(),
  /** Bytes the weights hold in (V)RAM while the model is resident. */
  residentBytes: byteCount,
  /** Extra bytes one image needs while it runs, per megapixel of output. Batch cost = Σ items. */
  activationBytesPerMegapixel: byteCount,
  /** Relative price of one image (for quotas and metrics); 1 = a flash 512² image. */
  costUnitsPerImage: z.number().positive(),
};

/**
 * The optional `manifest.json` beside a diffusers/Optimum export: only what the export cannot say. Everything else
 * (family, scheduler, sizes, precision, weight bytes) is read from `model_index.json`, the components' configs and
 * the ONNX files themselves.
 */
export const exportManifestSchema = z.strictObject({
  /** Format version; must be 1. */
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  /** When given, must equal the folder's name. @default the folder's name */
  name: commonFields.name.optional(),
  /** @default undefined */
  description: z.string().optional(),
  /** Lanes this model may serve. @default every text-to-image lane (flash, large, typography) */
  lanes: commonFields.lanes.optional(),
  /** Set by scripts/build-models.ts so rebuilds are skipped when unchanged; user exports leave it out. */
  builderVersion: z.string().optional(),
  /** Relative price of one image. @default 1 */
  costUnitsPerImage: commonFields.costUnitsPerImage.optional(),
  /** Output sizes this model renders. @default around its native size (see describe-diffusion-export.ts) */
  sizes: z.union([sizeRangeSchema, sizeListSchema]).optional(),
  /** Bytes the weights hold in VRAM. @default the bytes of its ONNX files and external data */
  residentBytes: byteCount.optional(),
  /** Activation bytes per megapixel of output. @default a per-family estimate, raised by OOMs at run time */
  activationBytesPerMegapixel: byteCount.optional(),
  /** Denoising steps when the request gives none (distilled models: 1–4). @default diffusers' pipeline default */
  defaultSteps: positiveInt.optional(),
  /** Most steps a request may ask for. @default 50 */
  maxSteps: positiveInt.optional(),
  /** Guidance scale when the request gives none; <= 1 means no unconditional pass (Turbo: 0). @default diffusers' pipeline default */
  guidanceScale: z.number().nonnegative().optional(),
});

/** Output side / input side of a super-resolution model. */
export const UPSCALE_SCALES = [2, 3, 4, 8] as const;
export type UpscaleScale = (typeof UPSCALE_SCALES)[number];

export const upscaleManifestSchema = z.strictObject({
  ...commonFields,
  pipeline: z.literal('upscale'),
  /** Path of the image→image ONNX model, relative to the model folder. @default 'model.onnx' */
  files: z.strictObject({ model: z.string().default('model.onnx') }).default({ model: 'model.onnx' }),
  /** Source image sizes accepted (the output is `scale` times each side). */
  sizes: z.union([sizeRangeSchema, sizeListSchema]),
  /** Output side / input side; must agree with what the model's output shows (checked when it loads). */
  scale: z.union(UPSCALE_SCALES.map((s) => z.literal(s)) as [z.ZodLiteral<2>, z.ZodLiteral<3>, z.ZodLiteral<4>, z.ZodLiteral<8>]),
  /**
   * Pixel values the model takes and gives: 1 for [0, 1] (Real-ESRGAN and most PyTorch exports), 255 for [0, 255]
   * (UpscalerJS's RDN models). Not probed (see `describeUpscaleModel`). @default 1
   */
  valueRange: z.union([z.literal(1), z.literal(255)]).optional(),
  /**
   * Tiling: sources are cut into `sizePx` squares overlapping by `overlapPx` (input pixels). A model whose input
   * has a static height and width tiles at that size instead. @default overlapPx: twice the receptive field the
   * graph shows, so tiles reassemble exactly
   */
  tile: z
    .strictObject({ sizePx: positiveInt.default(256), overlapPx: z.number().int().nonnegative().optional() })
    .default({ sizePx: 256 })
    .refine((t) => t.overlapPx === undefined || t.overlapPx < t.sizePx, { message: 'overlapPx must be smaller than sizePx', path: ['overlapPx'] }),
});

/** The overrides beside an export, validated. */
export type ExportManifest = z.output<typeof exportManifestSchema>;
export type UpscaleManifest = z.output<typeof upscaleManifestSchema>;
/** What an upscaler's manifest file may contain (defaults optional). */
export type UpscaleManifestInput = z.input<typeof upscaleManifestSchema>;
export type ExportManifestInput = z.input<typeof exportManifestSchema>;
export type AllowedSizes = UpscaleManifest['sizes'];

function parseWith<T extends z.ZodType>(schema: T, json: unknown, file: string): z.output<T> {
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
  const summary = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  throw new FleetError('E_MODEL_LOAD', `invalid model manifest ${file}: ${summary}`, {
    cause: result.error,
    details: { file, path: problems[0]?.path, problems },
  });
}

/**
 * Validates the optional manifest beside a diffusers/Optimum export.
 * @param file the manifest's path, named in the error.
 * @throws FleetError E_MODEL_LOAD whose message names the file and each bad field path (`sizes.max`); a manifest
 *   written for the old hand-described format (`pipeline: "diffusion"`, `scheduler`, `files`…) is told what to keep.
 */
export function parseExportManifest(json: unknown, file: string): ExportManifest {
  if (json !== null && typeof json === 'object' && (json as { pipeline?: unknown }).pipeline === 'diffusion') {
    throw new FleetError(
      'E_MODEL_LOAD',
      `invalid model manifest ${file}: it describes the export by hand (pipeline "diffusion"); the loader now reads model_index.json and the export's own configs. Keep only schemaVersion, lanes, costUnitsPerImage, sizes, residentBytes, activationBytesPerMegapixel, defaultSteps, maxSteps, guidanceScale, description`,
      { details: { file, path: 'pipeline' } },
    );
  }
  return parseWith(exportManifestSchema, json, file);
}

/**
 * Validates an upscaler's manifest (a super-resolution ONNX file has no standard config of its own).
 * @throws FleetError E_MODEL_LOAD naming the file and each bad field path.
 */
export function parseUpscaleManifest(json: unknown, file: string): UpscaleManifest {
  return parseWith(upscaleManifestSchema, json, file);
}

/** Whether `sizes` allows a width×height image. */
export function isSizeAllowed(sizes: AllowedSizes, width: number, height: number): boolean {
  if ('list' in sizes) return sizes.list.some((s) => s.width === width && s.height === height);
  const fits = (side: number) => Number.isInteger(side) && side >= sizes.min && side <= sizes.max && side % sizes.multipleOf === 0;
  return fits(width) && fits(height);
}

/** Human-readable form of `sizes` for error messages: `256–1024 px, multiple of 64` or `512x512, 768x512`. */
export function describeSizes(sizes: AllowedSizes): string {
  if ('list' in sizes) return sizes.list.map((s) => `${s.width}x${s.height}`).join(', ');
  return `${sizes.min}–${sizes.max} px per side, multiple of ${sizes.multipleOf}`;
}

/**
 * The most pixels an image of `sizes` holds: what a decoder of a source for that model may be allowed
 * (sharp's `limitInputPixels`), so a small file that claims a huge image is refused before its pixels are.
 */
export function maxPixelsOf(sizes: AllowedSizes): number {
  if ('list' in sizes) return Math.max(...sizes.list.map((s) => s.width * s.height));
  return sizes.max * sizes.max;
}
