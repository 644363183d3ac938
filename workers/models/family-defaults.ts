import type { DiffusionFamily } from './model-index.js';

const GIB = 1024 ** 3;

/** What diffusers' own pipelines assume for each family when the export's configs are silent. */
export interface FamilyDefaults {
  /** `__call__`'s `num_inference_steps` default. */
  steps: number;
  /** `__call__`'s `guidance_scale` default. */
  guidanceScale: number;
  /** Native output side when `sample_size` is not in the denoiser's config. */
  nativeSidePx: number;
  /** The VAE's `scaling_factor` when its config does not give one (the legacy ONNX pipeline hard-codes 0.18215). */
  vaeScalingFactor: number;
  vaeShiftFactor: number;
  latentChannels: number;
  /**
   * Activation memory per megapixel of output for one image at fp16, before any OOM or device reading has taught
   * the batcher better: a deliberately generous starting estimate (attention at the native size dominates).
   */
  activationBytesPerMegapixelFp16: number;
}

export const FAMILY_DEFAULTS = {
  sd: { steps: 50, guidanceScale: 7.5, nativeSidePx: 512, vaeScalingFactor: 0.18215, vaeShiftFactor: 0, latentChannels: 4, activationBytesPerMegapixelFp16: 1.5 * GIB },
  sdxl: { steps: 50, guidanceScale: 5, nativeSidePx: 1024, vaeScalingFactor: 0.13025, vaeShiftFactor: 0, latentChannels: 4, activationBytesPerMegapixelFp16: 2.5 * GIB },
  sd3: { steps: 28, guidanceScale: 7, nativeSidePx: 1024, vaeScalingFactor: 1.5305, vaeShiftFactor: 0.0609, latentChannels: 16, activationBytesPerMegapixelFp16: 3 * GIB },
} as const satisfies Record<DiffusionFamily, FamilyDefaults>;

/** LatentConsistencyModelPipeline's defaults (4 steps, guidance 8.5 through the guidance embedding). */
export const LCM_DEFAULTS = { steps: 4, guidanceScale: 8.5 } as const;

/** Denoising steps a request may ask for when the manifest does not say. */
export const DEFAULT_MAX_STEPS = 50;

/**
 * Operators that onnxruntime's CPU provider has no kernel for: ORT's Stable Diffusion optimiser fuses them into
 * UNets and VAEs for CUDA (its script says other providers may not support the fused operators).
 */
export const CUDA_ONLY_OPERATORS: ReadonlySet<string> = new Set([
  'com.microsoft:GroupNorm',
  'com.microsoft:SkipGroupNorm',
  'com.microsoft:BiasSplitGelu',
  'com.microsoft:BiasAdd',
  'com.microsoft:NhwcConv',
]);
