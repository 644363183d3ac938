// What scripts/onnx/exports/ writes: one export folder, shaped as a given exporter writes it, for one family.
import type { ElementType } from '../onnx-graph-builder.js';

/** The tools whose output layouts are reproduced (see /README.md, "Which exports drop in"). */
export type ExporterStyle =
  /** optimum ≤ 1.23: CLIP `input_ids` int32, UNet `timestep` int64 `[steps]`. */
  | 'optimum-1.23'
  /** optimum ≥ 1.24 / optimum-onnx: `input_ids` int64, UNet `timestep` a float scalar, SD3 `timestep` float `[step]`. */
  | 'optimum'
  /** diffusers' scripts/convert_stable_diffusion_checkpoint_to_onnx.py: no per-component config.json, `unet/weights.pb`. */
  | 'diffusers-script'
  /** onnxruntime's optimize_pipeline.py / Olive for CUDA: fused com.microsoft ops, `model.onnx.data`. */
  | 'ort-optimized';

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample' | 'flow';

export interface ExportSpec {
  family: 'sd' | 'sdxl' | 'sd3';
  /** `model_index.json`'s `_class_name`. */
  pipelineClass: string;
  exporter: ExporterStyle;
  precision: 'fp32' | 'fp16';
  /** The VAE decoder's own precision, when it differs (ORT's optimiser keeps SDXL's at fp32). @default `precision` */
  vaePrecision?: 'fp32' | 'fp16';
  /** `scheduler/scheduler_config.json`, written as given. */
  scheduler: Record<string, unknown>;
  /** What the denoiser predicts; must agree with the scheduler config's `prediction_type` (flow for SD3). */
  prediction: PredictionType;
  /** Latent side at the native size (unet/transformer `sample_size`). */
  sampleSize: number;
  /** The VAE's `scaling_factor` and `shift_factor`. */
  vaeScalingFactor: number;
  vaeShiftFactor?: number;
  /** LCM-distilled UNet: a `timestep_cond` input this wide (`time_cond_proj_dim`). */
  timeCondProjDim?: number;
  /** SD3: ship `text_encoder_3/` (T5). */
  withT5?: boolean;
  /** `oracle`: the denoiser returns the exact prediction for a known clean latent (tests); `look`: toy images (shipped models). */
  target: 'oracle' | DenoiserLook;
  /** Seed of the deterministic weights. @default 1 */
  weightSeed?: number;
  /** Store the denoiser's weights as external data (as exporters do past 2 GB). @default the exporter's habit at real sizes */
  externalData?: boolean;
  /** Also write `vae_encoder/` (what edits need). @default true */
  withVaeEncoder?: boolean;
  /**
   * A dedicated inpainting denoiser (`StableDiffusionInpaintPipeline`'s UNet): its sample input takes the latents,
   * the mask and the masked image's latents (2 × latent channels + 1). @default false
   */
  inpainting?: boolean;
  /**
   * Edit oracle: the denoiser's clean latent leans on its input, x0 = T + a·(m − T) with m the input's clean estimate
   * averaged over the latent, so where an image-to-image run starts (the encoded source, the step) shows in its
   * colour. 0 is the text-to-image oracle (x0 = T). @default 0
   */
  oracleContraction?: number;
  /** Written beside the export as manifest.json when given. */
  manifest?: Record<string, unknown>;
}

/** The knobs that give a shipped toy model its own look (see denoiser-graph.ts). */
export interface DenoiserLook {
  seedGain: number;
  textGain: number;
  bandFrequency: number;
  outputScale: number;
  outputOffset: number;
}

/** Float element type of graph inputs/outputs and weights for a precision. */
export function floatType(spec: ExportSpec): ElementType {
  return spec.precision === 'fp16' ? 'float16' : 'float32';
}

/** Hidden sizes and layer counts of the real encoders, so every dim matches a real export. */
export const ENCODERS = {
  clipL: { hiddenSize: 768, layers: 12, projectionDim: 768 },
  clipG: { hiddenSize: 1280, layers: 32, projectionDim: 1280 },
  /** SD 2.x's OpenCLIP-H text tower. */
  clipH: { hiddenSize: 1024, layers: 23, projectionDim: 1024 },
  t5: { hiddenSize: 4096, layers: 24, projectionDim: 0 },
} as const;

export const SD3_JOINT_ATTENTION_DIM = 4096;
export const SD3_POOLED_DIM = 2048;
export const T5_SEQUENCE = 256;
export const CLIP_SEQUENCE = 77;
