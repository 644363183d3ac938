import type { SeededNoise } from '../seeded-noise.js';
import { checkStepIndex, checkStepInputs, dividedBy, type DiffusionScheduler, type SamplerStart } from './diffusion-scheduler.js';
import { f32, interpOnIndex } from './numpy-ops.js';
import { checkTrainedBetas, schedulerConfigError, withClassDefaults, type SchedulerConfig } from './scheduler-config.js';
import { exponentialSigmas, karrasSigmas, sigmaToTimestep } from './sigma-conversions.js';
import { spacedTimesteps, type TimestepSpacing } from './timestep-spacing.js';
import { sigmaTable, trainingAlphasCumprod, type TrainingScheduleConfig } from './training-schedule.js';

/** EulerDiscreteScheduler's `__init__` arguments that this implementation reads (diffusers' names). */
export interface EulerDiscreteConfig extends TrainingScheduleConfig {
  prediction_type: 'epsilon' | 'v_prediction' | 'sample';
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
  use_karras_sigmas: boolean;
  use_exponential_sigmas: boolean;
  sigma_min: number | null;
  sigma_max: number | null;
  /** `continuous` with v_prediction feeds the denoiser 0.25·ln σ (EDM-style, Stable Video Diffusion). */
  timestep_type: 'discrete' | 'continuous';
  final_sigmas_type: 'zero' | 'sigma_min';
}

/** EulerDiscreteScheduler's defaults, which also fill in what another class's file (PNDM's, say) leaves out. */
export const EULER_DISCRETE_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  rescale_betas_zero_snr: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  sigma_min: null,
  sigma_max: null,
  timestep_type: 'discrete',
  final_sigmas_type: 'zero',
} as const satisfies EulerDiscreteConfig;

/**
 * The Euler settings a config runs with. Refused: `interpolation_type: log_linear` (diffusers then builds n+1
 * sigmas for n timesteps and never reaches σ = 0), `use_beta_sigmas` (needs scipy's beta quantile), and more than
 * one sigma conversion at once (diffusers refuses that too).
 * @throws FleetError E_MODEL_SHAPE naming the file and key.
 */
export function resolveEulerDiscreteConfig(config: SchedulerConfig): EulerDiscreteConfig {
  const { fields } = config;
  if (fields.interpolation_type === 'log_linear') {
    throw schedulerConfigError(config, 'interpolation_type', "'log_linear' is not supported (diffusers' log-linear sigmas stop short of σ = 0); use 'linear'");
  }
  if (fields.use_beta_sigmas) throw schedulerConfigError(config, 'use_beta_sigmas', 'beta sigmas are not supported; use use_karras_sigmas or use_exponential_sigmas');
  const resolved = withClassDefaults(config, EULER_DISCRETE_DEFAULTS as EulerDiscreteConfig);
  if (resolved.use_karras_sigmas && resolved.use_exponential_sigmas) {
    throw schedulerConfigError(config, 'use_exponential_sigmas', 'only one of use_karras_sigmas and use_exponential_sigmas may be true');
  }
  checkTrainedBetas(config, resolved);
  return resolved;
}

/** Timesteps, the σ of each step plus the final σ, and the initial noise scale, as diffusers' `set_timesteps` picks them. */
export interface SigmaSchedule {
  timesteps: number[];
  sigmas: number[];
  initNoiseSigma: number;
}

/** EulerDiscreteScheduler's `__init__` + `set_timesteps(steps)` + `init_noise_sigma`. */
export function eulerDiscreteSchedule(config: EulerDiscreteConfig, steps: number): SigmaSchedule {
  const alphasCumprod = trainingAlphasCumprod(config);
  // diffusers: close to 0 without being 0 so the first sigma is not infinite.
  if (config.rescale_betas_zero_snr) alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
  const table = sigmaTable(alphasCumprod);
  let timesteps = spacedTimesteps(config.timestep_spacing, config.num_train_timesteps, steps, config.steps_offset, 'float32');
  let sigmas = timesteps.map((t) => interpOnIndex(t, table));
  if (config.use_karras_sigmas || config.use_exponential_sigmas) {
    sigmas = (config.use_karras_sigmas ? karrasSigmas : exponentialSigmas)(sigmas, steps, config);
    const logSigmas = table.map((s) => f32(Math.log(s)));
    timesteps = sigmas.map((sigma) => sigmaToTimestep(sigma, logSigmas));
  }
  const sigmaLast = config.final_sigmas_type === 'sigma_min' ? table[0]! : 0;
  const sigmas32 = [...sigmas, sigmaLast].map(f32);
  const timesteps32 =
    config.timestep_type === 'continuous' && config.prediction_type === 'v_prediction'
      ? sigmas32.slice(0, -1).map((sigma) => f32(0.25 * f32(Math.log(sigma))))
      : timesteps.map(f32);
  return { timesteps: timesteps32, sigmas: sigmas32, initNoiseSigma: initNoiseSigma(sigmas32, config.timestep_spacing) };
}

/** `init_noise_sigma`: σ_max, or √(σ_max² + 1) for leading spacing (diffusers' rule, kept as is). */
export function initNoiseSigma(sigmas: readonly number[], spacing: TimestepSpacing): number {
  const max = Math.max(...sigmas);
  return spacing === 'leading' ? f32(Math.sqrt(f32(f32(max * max) + 1))) : max;
}

/** Euler in σ-space (Karras et al. Algorithm 2 without churn, as diffusers' pipelines run it). */
export class EulerDiscreteSampler implements DiffusionScheduler {
  readonly name: string;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  /** σ at each step, then the final σ. */
  readonly sigmas: readonly number[];
  private readonly prediction: EulerDiscreteConfig['prediction_type'];

  constructor(config: EulerDiscreteConfig, steps: number, start: SamplerStart) {
    const schedule = eulerDiscreteSchedule(config, steps);
    const first = start.startStep ?? 0;
    this.name = start.name;
    this.timesteps = schedule.timesteps.slice(first);
    this.sigmas = schedule.sigmas.slice(first);
    this.initNoiseSigma = schedule.initNoiseSigma;
    this.prediction = config.prediction_type;
  }

  scaleModelInput(latents: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    const sigma = this.sigmas[stepIndex]!;
    return dividedBy(latents, f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  }

  step(modelOutput: Float32Array, stepIndex: number, latents: Float32Array, itemSize: number, _noises?: readonly SeededNoise[]): void {
    checkStepIndex(stepIndex, this.timesteps.length);
    checkStepInputs(modelOutput, latents, itemSize, undefined);
    const sigma = this.sigmas[stepIndex]!;
    const dt = this.sigmas[stepIndex + 1]! - sigma;
    const predictOriginal = originalSamplePredictor(this.prediction, sigma);
    for (let i = 0; i < latents.length; i++) {
      const x = latents[i]!;
      const derivative = (x - predictOriginal(modelOutput[i]!, x)) / sigma;
      latents[i] = x + derivative * dt;
    }
  }

  addNoise(clean: Float32Array, noise: Float32Array, stepIndex = 0): Float32Array {
    return addSigmaNoise(clean, noise, this.sigmas, stepIndex, this.timesteps.length);
  }
}

/**
 * x0 from the model output at σ in the Euler family's variance-exploding parameterisation (x = x0 + σ·ε; the
 * denoiser saw x/√(σ² + 1)): diffusers' `pred_original_sample`.
 */
export function originalSamplePredictor(prediction: EulerDiscreteConfig['prediction_type'], sigma: number): (output: number, x: number) => number {
  switch (prediction) {
    case 'epsilon':
      return (output, x) => x - sigma * output;
    case 'v_prediction': {
      const outputScale = -sigma / Math.sqrt(sigma * sigma + 1);
      const inputScale = 1 / (sigma * sigma + 1);
      return (output, x) => output * outputScale + x * inputScale;
    }
    case 'sample':
      return (output) => output;
  }
}

/** The Euler family's `add_noise`: x0 + σ·noise at the step's σ. */
export function addSigmaNoise(clean: Float32Array, noise: Float32Array, sigmas: readonly number[], stepIndex: number, steps: number): Float32Array {
  checkStepIndex(stepIndex, steps);
  if (noise.length !== clean.length) throw new RangeError(`noise has ${noise.length} values, clean latents ${clean.length}`);
  const sigma = sigmas[stepIndex]!;
  const out = new Float32Array(clean.length);
  for (let i = 0; i < clean.length; i++) out[i] = clean[i]! + noise[i]! * sigma;
  return out;
}
