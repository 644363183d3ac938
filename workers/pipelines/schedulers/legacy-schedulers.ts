import { NOISE_SCHEDULE_DEFAULTS, type NoiseScheduleOptions } from '../noise-schedule.js';
import type { SeededNoise } from '../seeded-noise.js';
import { createScheduler } from './create-scheduler.js';
import type { DiffusionScheduler } from './diffusion-scheduler.js';
import type { SchedulerConfig, SchedulerConfigFields } from './scheduler-config.js';

// The constructors diffusion-pipeline.ts used before scheduler_config.json was read, kept so its rewrite merges
// without a flag day; they build a config from the manifest's noise schedule and delegate.

function manifestConfig(className: string, schedule: NoiseScheduleOptions, extra: Partial<SchedulerConfigFields>): SchedulerConfig {
  const { trainTimesteps, betaStart, betaEnd, betaSchedule } = { ...NOISE_SCHEDULE_DEFAULTS, ...schedule };
  return {
    file: '(manifest noiseSchedule)',
    fields: { _class_name: className, num_train_timesteps: trainTimesteps, beta_start: betaStart, beta_end: betaEnd, beta_schedule: betaSchedule, ...extra },
  };
}

class DelegatingScheduler implements DiffusionScheduler {
  readonly name: string;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  constructor(private readonly inner: DiffusionScheduler) {
    this.name = inner.name;
    this.timesteps = inner.timesteps;
    this.initNoiseSigma = inner.initNoiseSigma;
  }
  scaleModelInput(latents: Float32Array, stepIndex: number): Float32Array {
    return this.inner.scaleModelInput(latents, stepIndex);
  }
  step(modelOutput: Float32Array, stepIndex: number, latents: Float32Array, itemSize = latents.length, noises: readonly SeededNoise[] = []): void {
    this.inner.step(modelOutput, stepIndex, latents, itemSize, noises);
  }
  addNoise(clean: Float32Array, noise: Float32Array, stepIndex?: number): Float32Array {
    return this.inner.addNoise(clean, noise, stepIndex);
  }
}

/**
 * @deprecated Euler discrete with trailing spacing on a manifest noise schedule (now with diffusers' rounding:
 * 16 steps give 811/561/311/61). Use `createScheduler(parseSchedulerConfig(json, file), steps)`.
 */
export class EulerDiscreteScheduler extends DelegatingScheduler {
  constructor(steps: number, schedule: NoiseScheduleOptions = {}) {
    if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be an integer >= 1, got ${steps}`);
    super(createScheduler(manifestConfig('EulerDiscreteScheduler', schedule, { timestep_spacing: 'trailing' }), steps));
  }
}

/**
 * @deprecated LCM on a manifest noise schedule. Use `createScheduler(parseSchedulerConfig(json, file), steps)`.
 * @param originalSteps the step grid the model was distilled on (LCMScheduler's original_inference_steps).
 */
export class LcmScheduler extends DelegatingScheduler {
  constructor(steps: number, schedule: NoiseScheduleOptions = {}, originalSteps = 50) {
    if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be an integer >= 1, got ${steps}`);
    if (steps > originalSteps) throw new RangeError(`steps must be <= lcmOriginalSteps (${originalSteps}), got ${steps}`);
    super(createScheduler(manifestConfig('LCMScheduler', schedule, { original_inference_steps: originalSteps }), steps));
  }
}
