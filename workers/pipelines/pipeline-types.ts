import type { DiffusionModel, UpscaleModel } from '../models/model-description.js';
import type { UpscaleScale } from '../models/model-manifest.js';
import type { RawImage } from './raw-image.js';

/** One image to generate. Items run together in one batch must share size, steps and guidance scale. */
export interface GenerateItem {
  prompt: string;
  /** What to steer away from; only used when guidance is on (guidanceScale > 1). @default '' */
  negativePrompt?: string;
  /** Any integer (reduced to 32 bits). Same prompt + seed + model + size + steps → same bytes. */
  seed: number;
  /** Output width in pixels; must be allowed by the model's `sizes`. */
  width: number;
  /** Output height in pixels. */
  height: number;
  /** Denoising steps. @default the model's `defaultSteps` */
  steps?: number;
  /** Classifier-free guidance scale; > 1 adds an unconditional pass (twice the denoiser work). @default the model's */
  guidanceScale?: number;
}

/**
 * One edit: `width`×`height` is the size the model renders (one it allows, near the source's); the result comes out
 * at the source's own size. Items run together must also share `strength`.
 */
export interface EditItem extends GenerateItem {
  /** The image to edit, encoded (anything sharp reads; alpha is dropped). */
  source: Uint8Array;
  /** The source's size in white (repaint), black (keep) and grey (blend), encoded. @default repaint everything */
  mask?: Uint8Array;
  /** The share of the schedule that runs, in (0, 1]. */
  strength: number;
}

/** Text-to-image over the diffusers ONNX layout (tokenizer → text encoder → denoiser loop → VAE decoder). */
export interface DiffusionPipeline {
  readonly kind: 'diffusion';
  readonly model: DiffusionModel;
  /**
   * Generates every item as one batch tensor (the batching gain). Returns images in item order.
   * @throws FleetError E_VALIDATION for a size or step count the model does not allow; E_INFERENCE (or E_OOM when
   *   the runtime ran out of memory: split the batch and retry) when the runtime fails.
   * @throws RangeError when the items do not share width, height, steps and guidance scale (a batcher bug).
   */
  run(items: readonly GenerateItem[]): Promise<RawImage[]>;
  /**
   * Edits every item as one batch, as diffusers' img2img and inpaint pipelines do: the source through the VAE
   * encoder, noised to `strength`, the tail of the schedule; a mask is honoured by a dedicated inpainting denoiser
   * (mask and masked-image latents as extra channels) or, for any other model, by blending the re-noised source
   * latents back outside the mask after every step. The result is composited with the source at its own size, so
   * pixels the mask leaves black keep the source's bytes. Returns images in item order, each at its source's size.
   * @throws FleetError E_SOURCE when a source or mask does not decode or their sizes differ; E_VALIDATION for a
   *   model with no VAE encoder; as `run` otherwise. Absent on injected pipelines that only generate.
   */
  edit?(items: readonly EditItem[]): Promise<RawImage[]>;
  /** Frees the sessions. The pipeline is unusable afterwards. */
  release(): Promise<void>;
}

export interface UpscaleOptions {
  /** Tile side in source pixels; a model with a static input shape always tiles at that shape. @default the model's `tile.sizePx` */
  tileSizePx?: number;
  /** Tile overlap in source pixels. @default the model's `tile.overlapPx`, else twice the model's receptive field */
  tileOverlapPx?: number;
  /** Tiles run per model call (same-sized tiles only). @default 4 */
  tilesPerBatch?: number;
}

/** Image-to-image super-resolution, tiled so any allowed source fits a memory budget. */
export interface UpscalePipeline {
  readonly kind: 'upscale';
  readonly model: UpscaleModel;
  /** Output side / source side. */
  readonly scale: UpscaleScale;
  /**
   * Upscales an encoded image (PNG, JPEG, WebP, … anything sharp reads; alpha is dropped) or raw RGB.
   * @throws FleetError E_SOURCE when the source cannot be decoded; E_VALIDATION when its size is not allowed;
   *   E_INFERENCE / E_OOM when the runtime fails.
   */
  upscale(source: Uint8Array | RawImage, options?: UpscaleOptions): Promise<RawImage>;
  release(): Promise<void>;
}

export type Pipeline = DiffusionPipeline | UpscalePipeline;
