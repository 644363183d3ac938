import type { SeededNoise } from '../seeded-noise.js';
import { checkStepIndex, checkStepInputs, dividedBy, type DiffusionScheduler, type SamplerStart } from './diffusion-scheduler.js';
import { addSigmaNoise, initNoiseSigma, originalSamplePredictor, type SigmaSchedule } from './euler-discrete-sampler.js';
import { f32, interpOnIndex } from './numpy-ops.js';
import { checkTrainedBetas, schedulerConfigError, withClassDefaults, type SchedulerConfig } from './scheduler-config.js';
import { spacedTimesteps, type TimestepSpacing } from './timestep-spacing.js';
import { sigmaTable, trainingAlphasCumprod, type TrainingScheduleConfig } from './training-schedule.js';

/** EulerAncestralDiscreteScheduler's `__init__` arguments (it has no sigma conversions or final-sigma choice). */
export interface EulerAncestralConfig extends TrainingScheduleConfig {
  prediction_type: 'epsilon' | 'v_prediction';
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
}

export const EULER_ANCESTRAL_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  rescale_betas_zero_snr: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
} as const satisfies EulerAncestralConfig;

/**
 * The Euler ancestral settings a config runs with; `prediction_type: sample` is refused, as diffusers'
 * `step` raises NotImplementedError for it.
 * @throws FleetError E_MODEL_SHAPE naming the file and key.
 */
export function resolveEulerAncestralConfig(config: SchedulerConfig): EulerAncestralConfig {
  if (config.fields.prediction_type === 'sample') {
    throw schedulerConfigError(config, 'prediction_type', "EulerAncestralDiscreteScheduler does not implement 'sample' (diffusers raises too)");
  }
  const resolved = withClassDefaults(config, EULER_ANCESTRAL_DEFAULTS as EulerAncestralConfig);
  checkTrainedBetas(config, resolved);
  return resolved;
}

/** EulerAncestralDiscreteScheduler's `__init__` + `set_timesteps(steps)` + `init_noise_sigma`. */
export function eulerAncestralSchedule(config: EulerAncestralConfig, steps: number): SigmaSchedule {
  const alphasCumprod = trainingAlphasCumprod(config);
  if (config.rescale_betas_zero_snr) alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
  const table = sigmaTable(alphasCumprod);
  const timesteps = spacedTimesteps(config.timestep_spacing, config.num_train_timesteps, steps, config.steps_offset, 'float32');
  const sigmas = [...timesteps.map((t) => interpOnIndex(t, table)), 0].map(f32);
  return { timesteps, sigmas, initNoiseSigma: initNoiseSigma(sigmas, config.timestep_spacing) };
}

/** Euler steps to σ_down plus fresh noise of σ_up, so each step lands on the next σ's marginal. */
export class EulerAncestralSampler implements DiffusionScheduler {
  readonly name: string;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  readonly sigmas: readonly number[];
  private readonly prediction: EulerAncestralConfig['prediction_type'];

  constructor(config: EulerAncestralConfig, steps: number, start: SamplerStart) {
    const schedule = eulerAncestralSchedule(config, steps);
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

  step(modelOutput: Float32Array, stepIndex: number, latents: Float32Array, itemSize: number, noises: readonly SeededNoise[]): void {
    checkStepIndex(stepIndex, this.timesteps.length);
    const sigmaFrom = this.sigmas[stepIndex]!;
    const sigmaTo = this.sigmas[stepIndex + 1]!;
    const sigmaUp = Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2);
    const sigmaDown = Math.sqrt(sigmaTo ** 2 - sigmaUp ** 2);
    // The last step goes to σ = 0 with σ_up = 0: no noise, so no generator is needed or advanced.
    checkStepInputs(modelOutput, latents, itemSize, sigmaUp > 0 ? noises : undefined);
    const predictOriginal = originalSamplePredictor(this.prediction, sigmaFrom);
    const dt = sigmaDown - sigmaFrom;
    for (let i = 0; i < latents.length; i++) {
      const x = latents[i]!;
      const derivative = (x - predictOriginal(modelOutput[i]!, x)) / sigmaFrom;
      const next = x + derivative * dt;
      latents[i] = sigmaUp > 0 ? next + noises[Math.floor(i / itemSize)]!.normal() * sigmaUp : next;
    }
  }

  addNoise(clean: Float32Array, noise: Float32Array, stepIndex = 0): Float32Array {
    return addSigmaNoise(clean, noise, this.sigmas, stepIndex, this.timesteps.length);
  }
}
