// The models scripts/build-models.ts writes: export-shaped diffusion folders (the incident's families: an SD3.5-shaped
// large model, a distilled SD3.5-shaped flash model at fp16, an SDXL-shaped typography model, an LCM canary) with
// toy deterministic weights, each with a vae_encoder so edits run out of the box. Upscalers are trained models converted from npm packages: scripts/onnx/upscale-catalog.ts.
import type { DenoiserLook, ExportSpec } from './exports/export-spec.js';

/** Bump when any graph, weight or manifest changes, so existing builds are replaced. */
export const BUILDER_VERSION = 'exports-2';

const GB = 1_000_000_000;

export interface CatalogEntry {
  name: string;
  spec: ExportSpec;
}

const vivid: DenoiserLook = { seedGain: 2.3, textGain: 1.1, bandFrequency: 1.6, outputScale: 0.95, outputOffset: 0 };

/** SD3 / SD3.5's scheduler_config.json (FlowMatchEulerDiscreteScheduler, shift 3.0). */
const SD3_SCHEDULER = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0, use_dynamic_shifting: false, base_shift: 0.5, max_shift: 1.15 };
/** SDXL base's (EulerDiscreteScheduler, leading spacing, steps_offset 1). */
const SDXL_SCHEDULER = { _class_name: 'EulerDiscreteScheduler', num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', prediction_type: 'epsilon', timestep_spacing: 'leading', steps_offset: 1, interpolation_type: 'linear', use_karras_sigmas: false };
/** An LCM-distilled SD 1.5's (LCMScheduler). */
const LCM_SCHEDULER = { _class_name: 'LCMScheduler', num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', prediction_type: 'epsilon', original_inference_steps: 50, timestep_scaling: 10, set_alpha_to_one: true, steps_offset: 0, timestep_spacing: 'leading', clip_sample: false };

function manifest(fields: Record<string, unknown>): Record<string, unknown> {
  return { schemaVersion: 1, builderVersion: BUILDER_VERSION, ...fields };
}

export const MODEL_CATALOG: CatalogEntry[] = [
  {
    name: 'flash-v1',
    spec: {
      family: 'sd3',
      pipelineClass: 'StableDiffusion3Pipeline',
      exporter: 'optimum',
      precision: 'fp16',
      scheduler: SD3_SCHEDULER,
      prediction: 'flow',
      sampleSize: 128,
      vaeScalingFactor: 1.5305,
      vaeShiftFactor: 0.0609,
      target: vivid,
      weightSeed: 101,
      manifest: manifest({
        description: 'Distilled few-step preview model (SD3.5 Large Turbo-shaped Optimum fp16 export, toy weights): 4 steps, no guidance.',
        lanes: ['flash'],
        sizes: { min: 256, max: 768, multipleOf: 64 },
        defaultSteps: 4,
        maxSteps: 8,
        guidanceScale: 0,
        // Declared, not measured: what a distilled flash model holds on a GPU, for the VRAM accounting.
        residentBytes: 2.6 * GB,
        activationBytesPerMegapixel: 1.2 * GB,
        costUnitsPerImage: 1,
      }),
    },
  },
  {
    name: 'flash-v2',
    spec: {
      family: 'sd',
      pipelineClass: 'LatentConsistencyModelPipeline',
      exporter: 'optimum-1.23',
      precision: 'fp32',
      scheduler: LCM_SCHEDULER,
      prediction: 'epsilon',
      sampleSize: 64,
      vaeScalingFactor: 0.18215,
      timeCondProjDim: 256,
      target: { ...vivid, bandFrequency: 1.9 },
      weightSeed: 202,
      manifest: manifest({
        description: 'Canary for the flash lane (LCM-distilled SD 1.5-shaped Optimum export, toy weights): 4 steps, guidance embedding.',
        lanes: ['flash'],
        sizes: { min: 256, max: 768, multipleOf: 64 },
        defaultSteps: 4,
        maxSteps: 8,
        residentBytes: 2.6 * GB,
        activationBytesPerMegapixel: 1.2 * GB,
        costUnitsPerImage: 1,
      }),
    },
  },
  {
    name: 'large-v1',
    spec: {
      family: 'sd3',
      pipelineClass: 'StableDiffusion3Pipeline',
      exporter: 'optimum',
      precision: 'fp32',
      scheduler: SD3_SCHEDULER,
      prediction: 'flow',
      sampleSize: 128,
      vaeScalingFactor: 1.5305,
      vaeShiftFactor: 0.0609,
      target: { ...vivid, bandFrequency: 1.3 },
      weightSeed: 303,
      manifest: manifest({
        description: 'High-fidelity export model (SD3.5 Large-shaped Optimum export, toy weights), flow-matching Euler.',
        lanes: ['large'],
        sizes: { min: 256, max: 1024, multipleOf: 64 },
        defaultSteps: 24,
        maxSteps: 50,
        // One pass per step on CPU workers; a deployment of the real model sets its own (SD3.5 Large: 3.5).
        guidanceScale: 1,
        residentBytes: 6.9 * GB,
        activationBytesPerMegapixel: 3.5 * GB,
        costUnitsPerImage: 6,
      }),
    },
  },
  {
    name: 'typography-v1',
    spec: {
      family: 'sdxl',
      pipelineClass: 'StableDiffusionXLPipeline',
      exporter: 'optimum',
      precision: 'fp32',
      scheduler: SDXL_SCHEDULER,
      prediction: 'epsilon',
      sampleSize: 128,
      vaeScalingFactor: 0.13025,
      target: { seedGain: 2, textGain: 0.6, bandFrequency: 0.5, outputScale: 0.3, outputOffset: 0.45 },
      weightSeed: 404,
      manifest: manifest({
        description: 'Smooth, low-contrast backgrounds for text layouts (SDXL-shaped Optimum export, toy weights), rendered at up to 512² and resized; the text is drawn afterwards at full size.',
        lanes: ['typography'],
        sizes: { min: 256, max: 512, multipleOf: 64 },
        defaultSteps: 12,
        maxSteps: 40,
        guidanceScale: 1,
        residentBytes: 5 * GB,
        activationBytesPerMegapixel: 2.5 * GB,
        costUnitsPerImage: 4,
      }),
    },
  },
];
