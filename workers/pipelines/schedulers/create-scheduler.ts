import { DdimSampler } from './ddim-sampler.js';
import type { DiffusionScheduler } from './diffusion-scheduler.js';
import { EulerAncestralSampler } from './euler-ancestral-sampler.js';
import { EulerDiscreteSampler } from './euler-discrete-sampler.js';
import { FlowMatchEulerSampler } from './flow-match-euler-sampler.js';
import { LcmSampler } from './lcm-sampler.js';
import { planScheduler, type SchedulerPlan } from './plan-scheduler.js';
import type { SchedulerConfig } from './scheduler-config.js';

export interface CreateSchedulerOptions {
  /**
   * img2img: how much of the schedule runs, in (0, 1]. The scheduler then starts part-way (its `timesteps` are
   * the ones that run) and the pipeline starts from `addNoise(encodedImage, noise)` instead of scaled noise.
   * LCM, as in diffusers' LCM img2img pipeline, samples all `steps` from a grid shortened by `strength` instead.
   * @default 1 (text to image: the whole schedule)
   */
  strength?: number;
}

/**
 * A scheduler for `steps` inference steps, following the config as diffusers does (see {@link planScheduler} for
 * which implementation runs).
 * @throws FleetError E_MODEL_SHAPE for a config this fleet cannot run; RangeError for `steps` or `strength` out
 *   of range (over the plan's `maxSteps`, or a strength that leaves no step to run).
 */
export function createScheduler(config: SchedulerConfig, steps: number, options: CreateSchedulerOptions = {}): DiffusionScheduler {
  return schedulerFromPlan(planScheduler(config), steps, options);
}

/** {@link createScheduler} for a plan already made (a loader plans once per model, then creates per batch). */
export function schedulerFromPlan(plan: SchedulerPlan, steps: number, options: CreateSchedulerOptions = {}): DiffusionScheduler {
  if (!Number.isInteger(steps) || steps < 1 || steps > plan.maxSteps) {
    throw new RangeError(`steps must be an integer in [1, ${plan.maxSteps}] for ${plan.name}, got ${steps}`);
  }
  const strength = options.strength ?? 1;
  if (!(strength > 0 && strength <= 1)) throw new RangeError(`strength must be in (0, 1], got ${strength}`);
  const name = plan.name;
  if (plan.kind === 'lcm') return new LcmSampler(plan.config, steps, { name, strength });
  const startStep = strength === 1 ? 0 : startStepForStrength(steps, strength, plan.kind === 'flow-match-euler' ? 'flow-match' : 'stable-diffusion');
  const sampler = (() => {
    switch (plan.kind) {
      case 'euler-discrete':
        return new EulerDiscreteSampler(plan.config, steps, { name, startStep });
      case 'euler-ancestral':
        return new EulerAncestralSampler(plan.config, steps, { name, startStep });
      case 'ddim':
        return new DdimSampler(plan.config, steps, { name, startStep });
      case 'flow-match-euler':
        return new FlowMatchEulerSampler(plan.config, steps, { name, startStep });
    }
  })();
  if (sampler.timesteps.length === 0) throw new RangeError(`strength ${strength} leaves none of ${steps} steps to run`);
  return sampler;
}

/**
 * The first step an img2img pipeline runs, as diffusers' `get_timesteps` computes it. Its two families truncate
 * different quantities, so SD runs ⌊steps·strength⌋ steps and SD3 ⌈steps·strength⌉ (10 steps at 0.25: SD starts
 * at step 8, SD3 at 7), and float products leak through (100 × 0.29 is 28.999999999999996: SD runs 28 steps):
 * - `stable-diffusion` (SD, SDXL): `steps − min(int(steps·strength), steps)`;
 * - `flow-match` (SD3, Flux): `int(max(steps − min(steps·strength, steps), 0))`.
 */
export function startStepForStrength(steps: number, strength: number, rounding: 'stable-diffusion' | 'flow-match'): number {
  if (rounding === 'stable-diffusion') return Math.max(steps - Math.min(Math.trunc(steps * strength), steps), 0);
  return Math.trunc(Math.max(steps - Math.min(steps * strength, steps), 0));
}
