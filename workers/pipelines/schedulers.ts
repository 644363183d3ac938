import { alphasCumprod, type NoiseScheduleOptions } from './noise-schedule.js';
import type { SeededNoise } from './seeded-noise.js';

/**
 * A sampler over a batch of latents laid out item after item (`itemSize` floats each). Follows diffusers'
 * EulerDiscreteScheduler and LCMScheduler so exported SD checkpoints see the inputs they were trained on.
 */
export interface DiffusionScheduler {
  /** The timestep fed to the denoiser at each step, first (noisiest) to last. */
  readonly timesteps: readonly number[];
  /** Initial latents are unit normals times this. */
  readonly initNoiseSigma: number;
  /** The denoiser's `sample` input at `stepIndex` (a new array; `latents` is untouched). */
  scaleModelInput(latents: Float32Array, stepIndex: number): Float32Array;
  /**
   * Advances `latents` in place by one step, given the predicted noise ε.
   * @param noises one generator per item, for samplers that re-inject noise (LCM).
   */
  step(epsilon: Float32Array, stepIndex: number, latents: Float32Array, itemSize: number, noises: readonly SeededNoise[]): void;
}

/** Euler discrete in σ-space with "trailing" timestep spacing (starts at the last training timestep). */
export class EulerDiscreteScheduler implements DiffusionScheduler {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  private readonly sigmas: readonly number[];

  constructor(steps: number, schedule: NoiseScheduleOptions = {}) {
    if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be an integer >= 1, got ${steps}`);
    const alphaBar = alphasCumprod(schedule);
    const trainSteps = alphaBar.length;
    const timesteps: number[] = [];
    for (let i = 0; i < steps; i++) timesteps.push(Math.max(0, Math.round(trainSteps - (i * trainSteps) / steps) - 1));
    this.timesteps = timesteps;
    this.sigmas = [...timesteps.map((t) => Math.sqrt((1 - alphaBar[t]!) / alphaBar[t]!)), 0];
    this.initNoiseSigma = this.sigmas[0]!;
  }

  scaleModelInput(latents: Float32Array, stepIndex: number): Float32Array {
    const sigma = this.sigmas[stepIndex]!;
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    const out = new Float32Array(latents.length);
    for (let i = 0; i < latents.length; i++) out[i] = latents[i]! * scale;
    return out;
  }

  step(epsilon: Float32Array, stepIndex: number, latents: Float32Array): void {
    // x0 = x − σ·ε, derivative (x − x0)/σ = ε, so x_next = x + (σ_next − σ)·ε.
    const dt = this.sigmas[stepIndex + 1]! - this.sigmas[stepIndex]!;
    for (let i = 0; i < latents.length; i++) latents[i] = latents[i]! + epsilon[i]! * dt;
  }
}

/** Latent-consistency sampling: few steps, each predicting x0 and re-noising to the next timestep. */
export class LcmScheduler implements DiffusionScheduler {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  private readonly alphaBar: Float64Array;
  private static readonly SIGMA_DATA = 0.5;
  private static readonly TIMESTEP_SCALING = 10;

  /** @param originalSteps the step grid the model was distilled on (LCMScheduler's original_inference_steps). */
  constructor(steps: number, schedule: NoiseScheduleOptions = {}, originalSteps = 50) {
    if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be an integer >= 1, got ${steps}`);
    if (steps > originalSteps) throw new RangeError(`steps must be <= lcmOriginalSteps (${originalSteps}), got ${steps}`);
    this.alphaBar = alphasCumprod(schedule);
    const stride = Math.floor(this.alphaBar.length / originalSteps);
    const origin: number[] = [];
    for (let k = originalSteps; k >= 1; k--) origin.push(k * stride - 1);
    this.timesteps = Array.from({ length: steps }, (_, i) => origin[Math.floor((i * origin.length) / steps)]!);
  }

  scaleModelInput(latents: Float32Array): Float32Array {
    return Float32Array.from(latents);
  }

  step(epsilon: Float32Array, stepIndex: number, latents: Float32Array, itemSize: number, noises: readonly SeededNoise[]): void {
    const t = this.timesteps[stepIndex]!;
    const last = stepIndex === this.timesteps.length - 1;
    const alphaT = this.alphaBar[t]!;
    const alphaPrev = last ? this.alphaBar[0]! : this.alphaBar[this.timesteps[stepIndex + 1]!]!;
    const scaled = t * LcmScheduler.TIMESTEP_SCALING;
    const sd2 = LcmScheduler.SIGMA_DATA ** 2;
    const cSkip = sd2 / (scaled * scaled + sd2);
    const cOut = scaled / Math.sqrt(scaled * scaled + sd2);
    const sqrtAlphaT = Math.sqrt(alphaT);
    const sqrtOneMinusT = Math.sqrt(1 - alphaT);
    const sqrtAlphaPrev = Math.sqrt(alphaPrev);
    const sqrtOneMinusPrev = Math.sqrt(1 - alphaPrev);
    for (let i = 0; i < latents.length; i++) {
      const x = latents[i]!;
      const predictedX0 = (x - sqrtOneMinusT * epsilon[i]!) / sqrtAlphaT;
      const denoised = cOut * predictedX0 + cSkip * x;
      latents[i] = last ? denoised : sqrtAlphaPrev * denoised + sqrtOneMinusPrev * noises[Math.floor(i / itemSize)]!.normal();
    }
  }
}
