import type { SeededNoise } from '../seeded-noise.js';
import { addAlphaNoise, refuseThresholdingAndZeroSnrEpsilon } from './ddim-sampler.js';
import { checkStepIndex, checkStepInputs, type DiffusionScheduler, type SamplerStart } from './diffusion-scheduler.js';
import { f32, linspace } from './numpy-ops.js';
import { checkTrainedBetas, schedulerConfigError, withClassDefaults, type SchedulerConfig } from './scheduler-config.js';
import { trainingAlphasCumprod, type TrainingScheduleConfig } from './training-schedule.js';

/**
 * LCMScheduler's `__init__` arguments that this implementation reads. LCM ignores `timestep_spacing` and
 * `steps_offset`, and never uses `set_alpha_to_one`: its last step returns the denoised sample without looking
 * at a previous ᾱ.
 */
export interface LcmConfig extends TrainingScheduleConfig {
  prediction_type: 'epsilon' | 'v_prediction' | 'sample';
  /** The step grid the model was distilled on. */
  original_inference_steps: number;
  /** Multiplies the timestep in the c_skip/c_out boundary conditions. */
  timestep_scaling: number;
  clip_sample: boolean;
  clip_sample_range: number;
}

export const LCM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null,
  rescale_betas_zero_snr: false,
  prediction_type: 'epsilon',
  original_inference_steps: 50,
  timestep_scaling: 10,
  clip_sample: false,
  clip_sample_range: 1,
} as const satisfies LcmConfig;

/** @throws FleetError E_MODEL_SHAPE naming the file and key. */
export function resolveLcmConfig(config: SchedulerConfig): LcmConfig {
  const resolved = withClassDefaults(config, LCM_DEFAULTS as LcmConfig);
  refuseThresholdingAndZeroSnrEpsilon(config, resolved);
  checkTrainedBetas(config, resolved);
  if (resolved.original_inference_steps > resolved.num_train_timesteps) {
    throw schedulerConfigError(
      config,
      'original_inference_steps',
      `${resolved.original_inference_steps} exceeds num_train_timesteps (${resolved.num_train_timesteps})`,
    );
  }
  return resolved;
}

/** The most steps LCMScheduler accepts: its timesteps are a subset of the distillation grid. */
export function lcmMaxSteps(config: LcmConfig): number {
  return Math.min(config.original_inference_steps, config.num_train_timesteps);
}

/**
 * LCMScheduler's `set_timesteps(steps, strength=strength)`: the distillation grid `k·i − 1` (k = T // original
 * steps, i = 1 … ⌊original·strength⌋), reversed, sampled at `floor(np.linspace(0, len, steps, endpoint=False))`.
 * img2img shortens the grid instead of skipping steps, so every requested step runs.
 * @throws RangeError when the grid has fewer entries than `steps`.
 */
export function lcmTimesteps(config: LcmConfig, steps: number, strength = 1): number[] {
  const original = config.original_inference_steps;
  if (steps > lcmMaxSteps(config)) throw new RangeError(`LCMScheduler takes at most ${lcmMaxSteps(config)} steps (original_inference_steps), got ${steps}`);
  const stride = Math.floor(config.num_train_timesteps / original);
  const gridSize = Math.trunc(original * strength);
  if (Math.floor(gridSize / steps) < 1) {
    throw new RangeError(`LCMScheduler: original_inference_steps × strength (${original} × ${strength}) is smaller than ${steps} steps`);
  }
  const grid = Array.from({ length: gridSize }, (_, i) => (gridSize - i) * stride - 1);
  return linspace(0, gridSize, steps, false).map((index) => grid[Math.floor(index)]!);
}

/**
 * c_skip and c_out at a timestep: `scaled = t · timestep_scaling`, c_skip = σ_d²/(scaled² + σ_d²),
 * c_out = scaled/√(scaled² + σ_d²) with σ_d = 0.5, in float32 because the pipeline hands diffusers `t` as an
 * int64 tensor.
 */
export function lcmBoundaryScalings(timestep: number, timestepScaling: number): { cSkip: number; cOut: number } {
  const scaledTimestep = f32(f32(timestep) * f32(timestepScaling));
  const denominator = f32(f32(scaledTimestep * scaledTimestep) + 0.25);
  return { cSkip: f32(0.25 / denominator), cOut: f32(scaledTimestep / f32(Math.sqrt(denominator))) };
}

/** Latent-consistency sampling: each step predicts x0, applies the boundary conditions, and re-noises to the next timestep. */
export class LcmSampler implements DiffusionScheduler {
  readonly name: string;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  private readonly alphasCumprod: Float32Array;
  private readonly config: LcmConfig;

  /** @param strength img2img: the fraction of the distillation grid to sample from (1 for text to image). */
  constructor(config: LcmConfig, steps: number, start: SamplerStart & { strength?: number }) {
    this.name = start.name;
    this.timesteps = lcmTimesteps(config, steps, start.strength ?? 1);
    this.alphasCumprod = trainingAlphasCumprod(config);
    this.config = config;
  }

  scaleModelInput(latents: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    return latents.slice();
  }

  step(modelOutput: Float32Array, stepIndex: number, latents: Float32Array, itemSize: number, noises: readonly SeededNoise[]): void {
    checkStepIndex(stepIndex, this.timesteps.length);
    const last = stepIndex === this.timesteps.length - 1;
    checkStepInputs(modelOutput, latents, itemSize, last ? undefined : noises);
    const { prediction_type: prediction, clip_sample: clip, clip_sample_range: range } = this.config;
    const timestep = this.timesteps[stepIndex]!;
    const alpha = this.alphasCumprod[timestep]!;
    const sqrtAlpha = Math.sqrt(alpha);
    const sqrtBeta = Math.sqrt(1 - alpha);
    const { cSkip, cOut } = lcmBoundaryScalings(timestep, this.config.timestep_scaling);
    // diffusers reads ᾱ at the next timestep; on the last step it returns the denoised sample and injects nothing.
    const alphaNext = last ? 1 : this.alphasCumprod[this.timesteps[stepIndex + 1]!]!;
    const sqrtAlphaNext = Math.sqrt(alphaNext);
    const sqrtBetaNext = Math.sqrt(1 - alphaNext);
    for (let i = 0; i < latents.length; i++) {
      const x = latents[i]!;
      const output = modelOutput[i]!;
      let original = prediction === 'epsilon' ? (x - sqrtBeta * output) / sqrtAlpha : prediction === 'sample' ? output : sqrtAlpha * x - sqrtBeta * output;
      if (clip) original = Math.min(Math.max(original, -range), range);
      const denoised = cOut * original + cSkip * x;
      latents[i] = last ? denoised : sqrtAlphaNext * denoised + sqrtBetaNext * noises[Math.floor(i / itemSize)]!.normal();
    }
  }

  addNoise(clean: Float32Array, noise: Float32Array, stepIndex = 0): Float32Array {
    const alphas = this.timesteps.map((t) => this.alphasCumprod[t]!);
    return addAlphaNoise(clean, noise, alphas, stepIndex, this.timesteps.length);
  }
}
