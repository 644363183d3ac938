import type { SeededNoise } from '../seeded-noise.js';
import { checkStepIndex, checkStepInputs, type DiffusionScheduler, type SamplerStart } from './diffusion-scheduler.js';
import { checkTrainedBetas, schedulerConfigError, withClassDefaults, type SchedulerConfig } from './scheduler-config.js';
import { spacedTimesteps, type TimestepSpacing } from './timestep-spacing.js';
import { trainingAlphasCumprod, type TrainingScheduleConfig } from './training-schedule.js';

/** DDIMScheduler's `__init__` arguments that this implementation reads. */
export interface DdimConfig extends TrainingScheduleConfig {
  prediction_type: 'epsilon' | 'v_prediction' | 'sample';
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
  /** The last step goes to ᾱ = 1 (the clean sample) when true, else to ᾱ_0, a trace of noise short of it. */
  set_alpha_to_one: boolean;
  clip_sample: boolean;
  clip_sample_range: number;
}

export const DDIM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  rescale_betas_zero_snr: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 0,
  set_alpha_to_one: true,
  clip_sample: true,
  clip_sample_range: 1,
} as const satisfies DdimConfig;

/**
 * The DDIM or LCM settings' shared refusals: dynamic thresholding (a per-image quantile for pixel-space models),
 * and ε-prediction on a zero-terminal-SNR schedule (x0 = (x − √(1−ᾱ)ε)/√ᾱ divides by √ᾱ_T = 0).
 */
export function refuseThresholdingAndZeroSnrEpsilon(config: SchedulerConfig, resolved: TrainingScheduleConfig & { prediction_type: string }): void {
  if (config.fields.thresholding) {
    throw schedulerConfigError(config, 'thresholding', 'dynamic thresholding is not supported (it is for pixel-space models); set it to false');
  }
  if (resolved.rescale_betas_zero_snr && resolved.prediction_type === 'epsilon') {
    throw schedulerConfigError(config, 'rescale_betas_zero_snr', "zero terminal SNR needs prediction_type 'v_prediction' or 'sample' here (ε divides by √ᾱ = 0)");
  }
}

/** @throws FleetError E_MODEL_SHAPE naming the file and key. */
export function resolveDdimConfig(config: SchedulerConfig): DdimConfig {
  const resolved = withClassDefaults(config, DDIM_DEFAULTS as DdimConfig);
  refuseThresholdingAndZeroSnrEpsilon(config, resolved);
  checkTrainedBetas(config, resolved);
  return resolved;
}

/** DDIMScheduler's timesteps and, per step, the ᾱ it steps from and to. */
export interface DdimSchedule {
  timesteps: number[];
  alphasCumprod: number[];
  /** ᾱ at `t − T // n` (diffusers' previous timestep, not the next entry of `timesteps`), or the final ᾱ. */
  prevAlphasCumprod: number[];
}

/**
 * DDIMScheduler's `set_timesteps(steps)` and the ᾱ pairs its `step` uses.
 * @throws RangeError when a trailing schedule reaches t = −1 (numpy's arange overshoots at 61, 103, … steps):
 *   diffusers would read `alphas_cumprod[-1]`, the noisiest ᾱ, and ruin the image.
 */
export function ddimSchedule(config: DdimConfig, steps: number): DdimSchedule {
  const alphas = trainingAlphasCumprod(config);
  const trainSteps = config.num_train_timesteps;
  const finalAlpha = config.set_alpha_to_one ? 1 : alphas[0]!;
  const timesteps = spacedTimesteps(config.timestep_spacing, trainSteps, steps, config.steps_offset, 'rounded');
  const outside = timesteps.find((t) => t < 0 || t >= trainSteps);
  if (outside !== undefined) {
    throw new RangeError(`DDIMScheduler with ${config.timestep_spacing} spacing at ${steps} steps reaches timestep ${outside}; choose another step count`);
  }
  const stride = Math.floor(trainSteps / steps);
  return {
    timesteps,
    alphasCumprod: timesteps.map((t) => alphas[t]!),
    prevAlphasCumprod: timesteps.map((t) => (t - stride >= 0 ? alphas[t - stride]! : finalAlpha)),
  };
}

/** Deterministic DDIM (η = 0, as diffusers' pipelines default to). */
export class DdimSampler implements DiffusionScheduler {
  readonly name: string;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  private readonly alphas: readonly number[];
  private readonly prevAlphas: readonly number[];
  private readonly config: DdimConfig;

  constructor(config: DdimConfig, steps: number, start: SamplerStart) {
    const schedule = ddimSchedule(config, steps);
    const first = start.startStep ?? 0;
    this.name = start.name;
    this.timesteps = schedule.timesteps.slice(first);
    this.alphas = schedule.alphasCumprod.slice(first);
    this.prevAlphas = schedule.prevAlphasCumprod.slice(first);
    this.config = config;
  }

  scaleModelInput(latents: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    return latents.slice();
  }

  step(modelOutput: Float32Array, stepIndex: number, latents: Float32Array, itemSize: number, _noises?: readonly SeededNoise[]): void {
    checkStepIndex(stepIndex, this.timesteps.length);
    checkStepInputs(modelOutput, latents, itemSize, undefined);
    const { prediction_type: prediction, clip_sample: clip, clip_sample_range: range } = this.config;
    const alpha = this.alphas[stepIndex]!;
    const sqrtAlpha = Math.sqrt(alpha);
    const sqrtBeta = Math.sqrt(1 - alpha);
    const sqrtAlphaPrev = Math.sqrt(this.prevAlphas[stepIndex]!);
    const sqrtBetaPrev = Math.sqrt(1 - this.prevAlphas[stepIndex]!);
    for (let i = 0; i < latents.length; i++) {
      const x = latents[i]!;
      const output = modelOutput[i]!;
      let original: number;
      let epsilon: number;
      if (prediction === 'epsilon') {
        original = (x - sqrtBeta * output) / sqrtAlpha;
        epsilon = output;
      } else if (prediction === 'sample') {
        original = output;
        epsilon = (x - sqrtAlpha * output) / sqrtBeta;
      } else {
        original = sqrtAlpha * x - sqrtBeta * output;
        epsilon = sqrtAlpha * output + sqrtBeta * x;
      }
      // diffusers clips x0 after deriving ε from the unclipped one (use_clipped_model_output defaults to false).
      if (clip) original = Math.min(Math.max(original, -range), range);
      latents[i] = sqrtAlphaPrev * original + sqrtBetaPrev * epsilon;
    }
  }

  addNoise(clean: Float32Array, noise: Float32Array, stepIndex = 0): Float32Array {
    return addAlphaNoise(clean, noise, this.alphas, stepIndex, this.timesteps.length);
  }
}

/** DDPM's `add_noise`: √ᾱ_t·x0 + √(1 − ᾱ_t)·noise at the step's timestep. */
export function addAlphaNoise(clean: Float32Array, noise: Float32Array, alphas: readonly number[], stepIndex: number, steps: number): Float32Array {
  checkStepIndex(stepIndex, steps);
  if (noise.length !== clean.length) throw new RangeError(`noise has ${noise.length} values, clean latents ${clean.length}`);
  const sqrtAlpha = Math.sqrt(alphas[stepIndex]!);
  const sqrtBeta = Math.sqrt(1 - alphas[stepIndex]!);
  const out = new Float32Array(clean.length);
  for (let i = 0; i < clean.length; i++) out[i] = sqrtAlpha * clean[i]! + sqrtBeta * noise[i]!;
  return out;
}
