import type { SeededNoise } from '../seeded-noise.js';
import { checkStepIndex, checkStepInputs, type DiffusionScheduler, type SamplerStart } from './diffusion-scheduler.js';
import type { SigmaSchedule } from './euler-discrete-sampler.js';
import { f32, linspace } from './numpy-ops.js';
import { schedulerConfigError, withClassDefaults, type SchedulerConfig } from './scheduler-config.js';
import { exponentialSigmas, karrasSigmas } from './sigma-conversions.js';

/** FlowMatchEulerDiscreteScheduler's `__init__` arguments that this implementation reads. */
export interface FlowMatchEulerConfig {
  num_train_timesteps: number;
  /** Timestep shift s: σ ↦ s·σ / (1 + (s − 1)·σ). SD3/SD3.5 ship 3.0. */
  shift: number;
  /** Stretches the shifted sigmas so the last one is this value (before the final 0). */
  shift_terminal: number | null;
  use_karras_sigmas: boolean;
  use_exponential_sigmas: boolean;
  /** Each step predicts x0 and re-noises with fresh noise instead of following the velocity. */
  stochastic_sampling: boolean;
}

export const FLOW_MATCH_EULER_DEFAULTS = {
  num_train_timesteps: 1000,
  shift: 1,
  shift_terminal: null,
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  stochastic_sampling: false,
} as const satisfies FlowMatchEulerConfig;

/**
 * The flow-matching settings a config runs with. Refused: `use_dynamic_shifting` (the shift then depends on the
 * image's token count, μ, which a scheduler config cannot supply; SD3/SD3.5 ship it false), `invert_sigmas`
 * (Mochi's video parameterisation), `use_beta_sigmas`, and more than one sigma conversion.
 * @throws FleetError E_MODEL_SHAPE naming the file and key.
 */
export function resolveFlowMatchEulerConfig(config: SchedulerConfig): FlowMatchEulerConfig {
  const { fields } = config;
  if (fields.use_dynamic_shifting) {
    throw schedulerConfigError(config, 'use_dynamic_shifting', 'resolution-dependent shifting (mu) is not supported; SD3/SD3.5 configs set it false');
  }
  if (fields.invert_sigmas) throw schedulerConfigError(config, 'invert_sigmas', 'inverted sigmas (Mochi) are not supported');
  if (fields.use_beta_sigmas) throw schedulerConfigError(config, 'use_beta_sigmas', 'beta sigmas are not supported');
  const resolved = withClassDefaults(config, FLOW_MATCH_EULER_DEFAULTS as FlowMatchEulerConfig);
  if (resolved.use_karras_sigmas && resolved.use_exponential_sigmas) {
    throw schedulerConfigError(config, 'use_exponential_sigmas', 'only one of use_karras_sigmas and use_exponential_sigmas may be true');
  }
  return resolved;
}

/**
 * FlowMatchEulerDiscreteScheduler's `__init__` + `set_timesteps(steps)`: timesteps evenly spaced between
 * σ_max·T and σ_min·T of the already-shifted training sigmas, divided by T and shifted again (so the last σ is
 * shift(shift(1/T)), not shift(1/T)), then timesteps = σ·T and a final σ of 0.
 */
export function flowMatchEulerSchedule(config: FlowMatchEulerConfig, steps: number): SigmaSchedule {
  const { num_train_timesteps: trainSteps, shift } = config;
  // __init__, in float32 tensors: the shifted σ of training timesteps T (σ_max) and 1 (σ_min).
  const shifted32 = (sigma: number) => f32(f32(f32(shift) * sigma) / f32(1 + f32(f32(shift - 1) * sigma)));
  const sigmaMax = shifted32(f32(trainSteps / trainSteps));
  const sigmaMin = shifted32(f32(1 / trainSteps));
  // set_timesteps, in float64 numpy.
  let sigmas = linspace(sigmaMax * trainSteps, sigmaMin * trainSteps, steps)
    .map((t) => t / trainSteps)
    .map((sigma) => (shift * sigma) / (1 + (shift - 1) * sigma));
  if (config.shift_terminal !== null) {
    const oneMinus = sigmas.map((sigma) => 1 - sigma);
    const scale = oneMinus[oneMinus.length - 1]! / (1 - config.shift_terminal);
    sigmas = oneMinus.map((value) => 1 - value / scale);
  }
  const noRange = { sigma_min: null, sigma_max: null };
  if (config.use_karras_sigmas) sigmas = karrasSigmas(sigmas, steps, noRange);
  else if (config.use_exponential_sigmas) sigmas = exponentialSigmas(sigmas, steps, noRange);
  const sigmas32 = sigmas.map(f32);
  return { timesteps: sigmas32.map((sigma) => f32(sigma * trainSteps)), sigmas: [...sigmas32, 0], initNoiseSigma: 1 };
}

/** Euler on the flow-matching ODE: x_next = x + (σ_next − σ)·v, with v the model's velocity (ε − x0). */
export class FlowMatchEulerSampler implements DiffusionScheduler {
  readonly name: string;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  readonly sigmas: readonly number[];
  private readonly stochastic: boolean;

  constructor(config: FlowMatchEulerConfig, steps: number, start: SamplerStart) {
    const schedule = flowMatchEulerSchedule(config, steps);
    const first = start.startStep ?? 0;
    this.name = start.name;
    this.timesteps = schedule.timesteps.slice(first);
    this.sigmas = schedule.sigmas.slice(first);
    this.stochastic = config.stochastic_sampling;
  }

  scaleModelInput(latents: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    return latents.slice();
  }

  step(modelOutput: Float32Array, stepIndex: number, latents: Float32Array, itemSize: number, noises: readonly SeededNoise[]): void {
    checkStepIndex(stepIndex, this.timesteps.length);
    const sigma = this.sigmas[stepIndex]!;
    const next = this.sigmas[stepIndex + 1]!;
    const injects = this.stochastic && next > 0;
    checkStepInputs(modelOutput, latents, itemSize, injects ? noises : undefined);
    for (let i = 0; i < latents.length; i++) {
      const x = latents[i]!;
      const velocity = modelOutput[i]!;
      if (!this.stochastic) {
        latents[i] = x + (next - sigma) * velocity;
        continue;
      }
      const original = x - sigma * velocity;
      latents[i] = injects ? (1 - next) * original + next * noises[Math.floor(i / itemSize)]!.normal() : original;
    }
  }

  /** diffusers' `scale_noise`: σ·noise + (1 − σ)·x0. */
  addNoise(clean: Float32Array, noise: Float32Array, stepIndex = 0): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    if (noise.length !== clean.length) throw new RangeError(`noise has ${noise.length} values, clean latents ${clean.length}`);
    const sigma = this.sigmas[stepIndex]!;
    const out = new Float32Array(clean.length);
    for (let i = 0; i < clean.length; i++) out[i] = sigma * noise[i]! + (1 - sigma) * clean[i]!;
    return out;
  }
}
