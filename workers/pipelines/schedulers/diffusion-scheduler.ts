import type { SeededNoise } from '../seeded-noise.js';

/**
 * What the denoiser's output means: ε (`epsilon`), v (`v_prediction`), the clean sample x0 (`sample`), or the
 * flow-matching velocity ε − x0 (`flow_prediction`, the name diffusers' solvers use for it).
 */
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample' | 'flow_prediction';

/**
 * A sampler over a batch of latents laid out item after item (`itemSize` floats each), following one diffusers
 * scheduler class and config so exported checkpoints see the inputs they were trained on.
 *
 * The loop: `latents = noise × initNoiseSigma` (or {@link addNoise} of an encoded image for img2img); for each
 * step i, `out = denoiser(scaleModelInput(latents, i), timesteps[i])`, then `step(out, i, latents, …)`.
 */
export interface DiffusionScheduler {
  /** Name for logs/`fleet models`, e.g. 'EulerDiscreteScheduler' or 'EulerDiscreteScheduler (for PNDMScheduler)'. */
  readonly name: string;
  /**
   * What the denoiser's `timestep` input gets at each step, first to last (floats; the pipeline casts for int64
   * inputs). Whole numbers except under Euler's linspace spacing, Karras/exponential sigmas, continuous timesteps
   * and flow matching; for those, diffusers' own OnnxStableDiffusionPipeline casts with
   * `np.array([t], dtype=np.int64)`, which truncates. Its length is the number of denoiser runs, which diffusers
   * does not always make equal to the requested steps (trailing spacing at 61 steps runs 62).
   */
  readonly timesteps: readonly number[];
  /** Text to image starts from unit normals times this. */
  readonly initNoiseSigma: number;
  /** The denoiser's sample input at `stepIndex` (a new array; `latents` is untouched). */
  scaleModelInput(latents: Float32Array, stepIndex: number): Float32Array;
  /**
   * Advances latents in place from the model output (interpreted by the config's prediction type: ε, v, x0, or
   * flow velocity).
   * @param noises item k's generator, for schedulers that inject noise (Euler ancestral, LCM, stochastic flow).
   */
  step(modelOutput: Float32Array, stepIndex: number, latents: Float32Array, itemSize: number, noises: readonly SeededNoise[]): void;
  /**
   * The latents to start step `stepIndex` from, given clean latents and unit noise of the same layout (a new
   * array): diffusers' `add_noise` (`scale_noise` for flow matching). img2img uses step 0 of a scheduler created
   * with `strength`; inpainting re-noises the known region to each next step.
   */
  addNoise(clean: Float32Array, noise: Float32Array, stepIndex?: number): Float32Array;
}

/** Names a sampler and where it starts (img2img starts part-way). */
export interface SamplerStart {
  name: string;
  /** Index of the first step to run. @default 0 */
  startStep?: number;
}

/** Throws RangeError unless the arrays describe one batch and there is a generator per item when one is needed. */
export function checkStepInputs(
  modelOutput: Float32Array,
  latents: Float32Array,
  itemSize: number,
  noises: readonly SeededNoise[] | undefined,
): void {
  if (modelOutput.length !== latents.length) {
    throw new RangeError(`model output has ${modelOutput.length} values, latents ${latents.length}`);
  }
  if (!Number.isInteger(itemSize) || itemSize < 1 || latents.length % itemSize !== 0) {
    throw new RangeError(`itemSize must divide the latents (${latents.length}), got ${itemSize}`);
  }
  if (noises !== undefined && noises.length < latents.length / itemSize) {
    throw new RangeError(`noises must hold one generator per item (${latents.length / itemSize}), got ${noises.length}`);
  }
}

/** Throws RangeError unless `stepIndex` names one of `count` steps. */
export function checkStepIndex(stepIndex: number, count: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= count) {
    throw new RangeError(`stepIndex must be an integer in [0, ${count - 1}], got ${stepIndex}`);
  }
}

/** A copy of `latents` divided by `divisor` (a division, as torch's `sample / x`, not a multiplication by 1/x). */
export function dividedBy(latents: Float32Array, divisor: number): Float32Array {
  const out = new Float32Array(latents.length);
  for (let i = 0; i < latents.length; i++) out[i] = latents[i]! / divisor;
  return out;
}
