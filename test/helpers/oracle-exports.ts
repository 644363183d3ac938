// The export-shaped oracle folders the real-exports tests run: one per family × precision × exporter, each with
// the scheduler config its real counterpart ships (see scripts/onnx/exports/ and the README's table).
import type { ExportSpec } from '../../scripts/onnx/exports/export-spec.js';

const SD_BETAS = { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' };

/** SD 1.5's shipped PNDM config (runs as Euler discrete, linspace, steps_offset 1). */
export const SD15_PNDM = { _class_name: 'PNDMScheduler', ...SD_BETAS, prediction_type: 'epsilon', set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, clip_sample: false, trained_betas: null };
/**
 * SD 2.1 (768)'s DDIM config with v-prediction, but `set_alpha_to_one: true`: the shipped `false` ends the schedule at
 * ᾱ₀ (σ ≈ 0.03), so diffusers' own DDIM leaves that much of the initial noise in the latent and no render is one flat
 * colour (the scheduler fixtures check that path against diffusers' numbers).
 */
export const SD21_DDIM_V = { _class_name: 'DDIMScheduler', ...SD_BETAS, prediction_type: 'v_prediction', set_alpha_to_one: true, steps_offset: 1, clip_sample: false };
/** SD-Turbo's Euler discrete with trailing spacing. */
export const TURBO_EULER = { _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, prediction_type: 'epsilon', timestep_spacing: 'trailing', steps_offset: 1, interpolation_type: 'linear' };
/** SDXL base's Euler discrete, leading spacing, steps_offset 1. */
export const SDXL_EULER = { _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, prediction_type: 'epsilon', timestep_spacing: 'leading', steps_offset: 1, interpolation_type: 'linear', use_karras_sigmas: false };
/** SDXL-Turbo's Euler ancestral (linspace, steps_offset 1). */
export const SDXL_TURBO_ANCESTRAL = { _class_name: 'EulerAncestralDiscreteScheduler', ...SD_BETAS, prediction_type: 'epsilon', timestep_spacing: 'linspace', steps_offset: 1 };
/** An LCM-distilled model's LCMScheduler. */
export const LCM = { _class_name: 'LCMScheduler', ...SD_BETAS, prediction_type: 'epsilon', original_inference_steps: 50, timestep_scaling: 10, set_alpha_to_one: true, steps_offset: 0, timestep_spacing: 'leading', clip_sample: false };
/** SD3 / SD3.5's flow-matching Euler, shift 3. */
export const SD3_FLOW = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0, use_dynamic_shifting: false };
/** A DDIM config for an x0-predicting ("sample") model (`set_alpha_to_one` as in SD21_DDIM_V). */
export const DDIM_SAMPLE = { _class_name: 'DDIMScheduler', ...SD_BETAS, prediction_type: 'sample', set_alpha_to_one: true, steps_offset: 1, clip_sample: false };

/** One family × precision × exporter row, with the request size and steps its tests render at. */
export interface OracleExport {
  name: string;
  /** The README's row label. */
  label: string;
  spec: ExportSpec;
  size: number;
  steps: number;
  /** The guidance scales its two folders are given (the second only where classifier-free guidance applies). */
  guidance: [number, number?];
}

const oracle = (spec: Omit<ExportSpec, 'target'>): ExportSpec => ({ ...spec, target: 'oracle' });

export const ORACLE_EXPORTS: OracleExport[] = [
  {
    name: 'sd15-optimum123-fp32',
    label: 'SD 1.5 (PNDM config), Optimum ≤ 1.23, fp32',
    spec: oracle({ family: 'sd', pipelineClass: 'StableDiffusionPipeline', exporter: 'optimum-1.23', precision: 'fp32', scheduler: SD15_PNDM, prediction: 'epsilon', sampleSize: 64, vaeScalingFactor: 0.18215 }),
    size: 256,
    steps: 3,
    guidance: [1, 3],
  },
  {
    name: 'sd15-optimum-fp16',
    label: 'SD 1.5, Optimum ≥ 1.24 --dtype fp16',
    spec: oracle({ family: 'sd', pipelineClass: 'StableDiffusionPipeline', exporter: 'optimum', precision: 'fp16', scheduler: SD15_PNDM, prediction: 'epsilon', sampleSize: 64, vaeScalingFactor: 0.18215 }),
    size: 256,
    steps: 3,
    guidance: [1, 3],
  },
  {
    name: 'sd15-script-fp32',
    label: "SD 1.5, diffusers' convert_stable_diffusion_checkpoint_to_onnx.py",
    spec: oracle({ family: 'sd', pipelineClass: 'OnnxStableDiffusionPipeline', exporter: 'diffusers-script', precision: 'fp32', scheduler: SD15_PNDM, prediction: 'epsilon', sampleSize: 64, vaeScalingFactor: 0.18215 }),
    size: 256,
    steps: 3,
    guidance: [1, 3],
  },
  {
    name: 'sd21v-optimum-fp32',
    label: 'SD 2.1 768 (v-prediction, DDIM config), Optimum, fp32',
    spec: oracle({ family: 'sd', pipelineClass: 'StableDiffusionPipeline', exporter: 'optimum', precision: 'fp32', scheduler: SD21_DDIM_V, prediction: 'v_prediction', sampleSize: 96, vaeScalingFactor: 0.18215 }),
    size: 384,
    steps: 3,
    guidance: [1, 3],
  },
  {
    name: 'sd21v-optimum-fp16',
    label: 'SD 2.1 768 (v-prediction), Optimum fp16',
    spec: oracle({ family: 'sd', pipelineClass: 'StableDiffusionPipeline', exporter: 'optimum', precision: 'fp16', scheduler: SD21_DDIM_V, prediction: 'v_prediction', sampleSize: 96, vaeScalingFactor: 0.18215 }),
    size: 384,
    steps: 3,
    guidance: [1, 3],
  },
  {
    name: 'sd-turbo-fp32',
    label: 'SD-Turbo (Euler trailing, 1 step), Optimum ≤ 1.23, fp32',
    spec: oracle({ family: 'sd', pipelineClass: 'StableDiffusionPipeline', exporter: 'optimum-1.23', precision: 'fp32', scheduler: TURBO_EULER, prediction: 'epsilon', sampleSize: 64, vaeScalingFactor: 0.18215 }),
    size: 256,
    steps: 1,
    guidance: [0, 3],
  },
  {
    name: 'sd-turbo-fp16',
    label: 'SD-Turbo (Euler trailing, 1 step, no guidance), Optimum fp16',
    spec: oracle({ family: 'sd', pipelineClass: 'StableDiffusionPipeline', exporter: 'optimum', precision: 'fp16', scheduler: TURBO_EULER, prediction: 'epsilon', sampleSize: 64, vaeScalingFactor: 0.18215 }),
    size: 256,
    steps: 1,
    // Guided, one step from σ_max multiplies the float16 rounding of both predictions by σ and the scale: up to
    // 5/255 off, as in any fp16 export. Turbo models run unguided; the fp32 row covers the guided path.
    guidance: [0],
  },
  {
    name: 'sd-sample-fp32',
    label: 'SD with sample (x0) prediction, Optimum ≤ 1.23, fp32',
    spec: oracle({ family: 'sd', pipelineClass: 'StableDiffusionPipeline', exporter: 'optimum-1.23', precision: 'fp32', scheduler: DDIM_SAMPLE, prediction: 'sample', sampleSize: 64, vaeScalingFactor: 0.18215 }),
    size: 256,
    steps: 2,
    guidance: [1, 3],
  },
  {
    name: 'lcm-optimum123-fp32',
    label: 'LCM (timestep_cond), Optimum ≤ 1.23, fp32',
    spec: oracle({ family: 'sd', pipelineClass: 'LatentConsistencyModelPipeline', exporter: 'optimum-1.23', precision: 'fp32', scheduler: LCM, prediction: 'epsilon', sampleSize: 64, vaeScalingFactor: 0.18215, timeCondProjDim: 256 }),
    size: 256,
    steps: 4,
    guidance: [8.5, 2],
  },
  {
    name: 'lcm-optimum-fp16',
    label: 'LCM (timestep_cond), Optimum fp16',
    spec: oracle({ family: 'sd', pipelineClass: 'LatentConsistencyModelPipeline', exporter: 'optimum', precision: 'fp16', scheduler: LCM, prediction: 'epsilon', sampleSize: 64, vaeScalingFactor: 0.18215, timeCondProjDim: 256 }),
    size: 256,
    steps: 4,
    guidance: [8.5, 2],
  },
  {
    name: 'sdxl-optimum-fp32',
    label: 'SDXL (Euler leading, two encoders, time ids), Optimum, fp32',
    spec: oracle({ family: 'sdxl', pipelineClass: 'StableDiffusionXLPipeline', exporter: 'optimum', precision: 'fp32', scheduler: SDXL_EULER, prediction: 'epsilon', sampleSize: 128, vaeScalingFactor: 0.13025 }),
    size: 512,
    steps: 3,
    guidance: [1, 3],
  },
  {
    name: 'sdxl-turbo-fp16',
    label: 'SDXL-Turbo (Euler ancestral), Optimum fp16',
    spec: oracle({ family: 'sdxl', pipelineClass: 'StableDiffusionXLPipeline', exporter: 'optimum', precision: 'fp16', scheduler: SDXL_TURBO_ANCESTRAL, prediction: 'epsilon', sampleSize: 128, vaeScalingFactor: 0.13025 }),
    size: 512,
    steps: 2,
    guidance: [0, 3],
  },
  {
    name: 'sdxl-mixed',
    label: 'SDXL with fp16 encoders and UNet, fp32 VAE decoder (mixed, as ORT keeps it)',
    spec: oracle({ family: 'sdxl', pipelineClass: 'StableDiffusionXLPipeline', exporter: 'optimum', precision: 'fp16', vaePrecision: 'fp32', scheduler: SDXL_EULER, prediction: 'epsilon', sampleSize: 128, vaeScalingFactor: 0.13025 }),
    size: 512,
    steps: 2,
    guidance: [1, 3],
  },
  {
    name: 'sd3-optimum-fp32',
    label: 'SD3 / SD3.5 without T5 (flow match, shift 3), Optimum, fp32',
    spec: oracle({ family: 'sd3', pipelineClass: 'StableDiffusion3Pipeline', exporter: 'optimum', precision: 'fp32', scheduler: SD3_FLOW, prediction: 'flow', sampleSize: 128, vaeScalingFactor: 1.5305, vaeShiftFactor: 0.0609 }),
    size: 512,
    steps: 3,
    guidance: [1, 3],
  },
  {
    name: 'sd3-t5-optimum-fp16',
    label: 'SD3 / SD3.5 with T5, Optimum fp16',
    spec: oracle({ family: 'sd3', pipelineClass: 'StableDiffusion3Pipeline', exporter: 'optimum', precision: 'fp16', scheduler: SD3_FLOW, prediction: 'flow', sampleSize: 128, vaeScalingFactor: 1.5305, vaeShiftFactor: 0.0609, withT5: true }),
    size: 512,
    steps: 3,
    guidance: [1, 3],
  },
];

/** The folder name of an oracle export with a given guidance scale. */
export function oracleFolder(entry: OracleExport, guidance: number): string {
  return `${entry.name}-g${String(guidance).replace('.', '_')}`;
}

/** The manifest written beside an oracle export: only what an export cannot say (or none, for the default path). */
export function oracleManifest(entry: OracleExport, guidance: number): Record<string, unknown> {
  return { schemaVersion: 1, lanes: ['flash'], guidanceScale: guidance, defaultSteps: entry.steps, maxSteps: 8 };
}

/** An edit row: an export with a VAE encoder (and, for inpainting, a 9-channel UNet) and the edit it runs. */
export interface EditOracleExport extends OracleExport {
  /** `img2img` (a mask, if any, by latent blending) or `inpaint` (the dedicated UNet). */
  mode: 'img2img' | 'inpaint';
  strength: number;
}

/** How far the edit oracle's denoiser leans on its input (see ExportSpec.oracleContraction). */
export const EDIT_CONTRACTION = 0.5;

export const EDIT_ORACLE_EXPORTS: EditOracleExport[] = [
  {
    name: 'sd15-img2img-optimum-fp32',
    label: 'SD 1.5 image-to-image (StableDiffusionImg2ImgPipeline, PNDM config), Optimum, fp32',
    spec: oracle({ family: 'sd', pipelineClass: 'StableDiffusionImg2ImgPipeline', exporter: 'optimum', precision: 'fp32', scheduler: SD15_PNDM, prediction: 'epsilon', sampleSize: 64, vaeScalingFactor: 0.18215, oracleContraction: EDIT_CONTRACTION }),
    size: 256,
    steps: 4,
    guidance: [1],
    mode: 'img2img',
    strength: 0.5,
  },
  {
    name: 'sd15-script-img2img-fp32',
    label: "SD 1.5 text-to-image export with a vae_encoder (latent_sample), diffusers' script",
    spec: oracle({ family: 'sd', pipelineClass: 'OnnxStableDiffusionPipeline', exporter: 'diffusers-script', precision: 'fp32', scheduler: SD15_PNDM, prediction: 'epsilon', sampleSize: 64, vaeScalingFactor: 0.18215, oracleContraction: EDIT_CONTRACTION }),
    // Rendered larger: starting this high in the schedule, the noise's mean over a smaller latent moves the colour past the tolerance.
    size: 512,
    steps: 4,
    guidance: [1],
    mode: 'img2img',
    strength: 0.75,
  },
  {
    name: 'sd3-img2img-optimum-fp32',
    label: 'SD3 image-to-image (flow match, shift 3), Optimum, fp32',
    spec: oracle({ family: 'sd3', pipelineClass: 'StableDiffusion3Img2ImgPipeline', exporter: 'optimum', precision: 'fp32', scheduler: SD3_FLOW, prediction: 'flow', sampleSize: 64, vaeScalingFactor: 1.5305, vaeShiftFactor: 0.0609, oracleContraction: EDIT_CONTRACTION }),
    size: 512,
    steps: 4,
    guidance: [1],
    mode: 'img2img',
    strength: 0.5,
  },
  {
    name: 'sd15-inpaint-optimum-fp32',
    label: 'SD 1.5 inpainting UNet (9 channels, StableDiffusionInpaintPipeline), Optimum, fp32',
    spec: oracle({ family: 'sd', pipelineClass: 'StableDiffusionInpaintPipeline', exporter: 'optimum', precision: 'fp32', scheduler: SD15_PNDM, prediction: 'epsilon', sampleSize: 64, vaeScalingFactor: 0.18215, inpainting: true }),
    size: 256,
    steps: 3,
    guidance: [1, 3],
    mode: 'inpaint',
    strength: 1,
  },
];
