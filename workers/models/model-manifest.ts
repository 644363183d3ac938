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

const noiseScheduleSchema = z.strictObject({
  trainTimesteps: positiveInt.default(1000),
  betaStart: z.number().positive().default(0.00085),
  betaEnd: z.number().positive().default(0.012),
  betaSchedule: z.enum(['scaled_linear', 'linear']).default('scaled_linear'),
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

export const diffusionManifestSchema = z.strictObject({
  ...commonFields,
  pipeline: z.literal('diffusion'),
  /** Paths relative to the model folder. Defaults follow the diffusers ONNX export layout. */
  files: z
    .strictObject({
      tokenizer: z.string().default('tokenizer'),
      textEncoder: z.string().default('text_encoder/model.onnx'),
      unet: z.string().default('unet/model.onnx'),
      vaeDecoder: z.string().default('vae_decoder/model.onnx'),
    })
    .default({
      tokenizer: 'tokenizer',
      textEncoder: 'text_encoder/model.onnx',
      unet: 'unet/model.onnx',
      vaeDecoder: 'vae_decoder/model.onnx',
    }),
  /** Output sizes this model renders. */
  sizes: z.union([sizeRangeSchema, sizeListSchema]),
  /** Denoising steps when the request gives none. */
  defaultSteps: positiveInt,
  /** Most steps a request may ask for. @default 50 */
  maxSteps: positiveInt.default(50),
  /** `euler` (Euler discrete, σ-space) or `lcm` (latent-consistency few-step sampling). */
  scheduler: z.enum(['euler', 'lcm']),
  /** Classifier-free guidance scale when the request gives none; <= 1 means no unconditional pass. @default 1 */
  guidanceScale: z.number().nonnegative().default(1),
  /** The VAE's latent scaling factor (SD 1.x/2.x: 0.18215). @default 0.18215 */
  vaeScalingFactor: z.number().positive().default(0.18215),
  /** The training noise schedule. @default SD's scaled_linear 0.00085–0.012 over 1000 steps */
  noiseSchedule: noiseScheduleSchema.default({ trainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear' }),
  /** LCM only: the step grid the model was distilled on. @default 50 */
  lcmOriginalSteps: positiveInt.default(50),
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

export const modelManifestSchema = z.discriminatedUnion('pipeline', [diffusionManifestSchema, upscaleManifestSchema]);

/** A validated manifest with defaults filled in. */
export type ModelManifest = z.output<typeof modelManifestSchema>;
export type DiffusionManifest = z.output<typeof diffusionManifestSchema>;
export type UpscaleManifest = z.output<typeof upscaleManifestSchema>;
/** What a manifest file may contain (defaults optional). */
export type ModelManifestInput = z.input<typeof modelManifestSchema>;
export type PipelineKind = ModelManifest['pipeline'];
export type AllowedSizes = DiffusionManifest['sizes'];

/**
 * Validates parsed manifest JSON.
 * @param file the manifest's path, named in the error.
 * @throws FleetError E_MODEL_LOAD whose message names the file and each bad field path (`sizes.max`);
 *   `details.path` holds the first one.
 */
export function parseModelManifest(json: unknown, file: string): ModelManifest {
  const result = modelManifestSchema.safeParse(json);
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
