import { resolveDdimConfig, type DdimConfig } from './ddim-sampler.js';
import type { PredictionType } from './diffusion-scheduler.js';
import { resolveEulerAncestralConfig, type EulerAncestralConfig } from './euler-ancestral-sampler.js';
import { resolveEulerDiscreteConfig, type EulerDiscreteConfig } from './euler-discrete-sampler.js';
import { resolveFlowMatchEulerConfig, type FlowMatchEulerConfig } from './flow-match-euler-sampler.js';
import { lcmMaxSteps, resolveLcmConfig, type LcmConfig } from './lcm-sampler.js';
import { schedulerConfigError, type SchedulerConfig } from './scheduler-config.js';

/**
 * Classes that diffusers lists as interchangeable with EulerDiscreteScheduler (`KarrasDiffusionSchedulers` in
 * scheduling_utils.py, every member's `_compatibles`) and that this fleet runs as EulerDiscreteScheduler on the
 * same betas, prediction type, spacing and offset — built from their file by diffusers' `from_config` rule, so a
 * key the file leaves out takes Euler's default (SD 1.5's PNDM file has no `timestep_spacing`: linspace).
 */
export const RUN_AS_EULER_DISCRETE: readonly string[] = [
  'PNDMScheduler',
  'DDPMScheduler',
  'LMSDiscreteScheduler',
  'HeunDiscreteScheduler',
  'DPMSolverMultistepScheduler',
  'DPMSolverSinglestepScheduler',
  'DPMSolverSDEScheduler',
  'KDPM2DiscreteScheduler',
  'KDPM2AncestralDiscreteScheduler',
  'DEISMultistepScheduler',
  'UniPCMultistepScheduler',
];

/** Why some known classes are refused rather than substituted. */
const REFUSED: Readonly<Record<string, string>> = {
  EDMEulerScheduler: 'an EDM scheduler (sigma_data, no beta schedule); it is in KarrasDiffusionSchedulers but its config does not describe a DDPM schedule',
  EDMDPMSolverMultistepScheduler: 'an EDM scheduler (sigma_data, no beta schedule)',
  FlowMatchHeunDiscreteScheduler: 'a flow-matching scheduler that diffusers does not list as compatible with FlowMatchEulerDiscreteScheduler',
  FlowMatchLCMScheduler: 'a flow-matching scheduler that diffusers does not list as compatible with FlowMatchEulerDiscreteScheduler',
  TCDScheduler: 'not compatible with any implemented scheduler (diffusers lists none)',
};

/** Which implementation runs, with the settings it runs with. */
export type SchedulerPlan = PlanOf<'euler-discrete', EulerDiscreteConfig> | PlanOf<'euler-ancestral', EulerAncestralConfig> | PlanOf<'ddim', DdimConfig> | PlanOf<'lcm', LcmConfig> | PlanOf<'flow-match-euler', FlowMatchEulerConfig>;

export type SchedulerKind = SchedulerPlan['kind'];

interface PlanOf<K extends string, C> {
  kind: K;
  /** e.g. 'EulerDiscreteScheduler' or 'EulerDiscreteScheduler (for PNDMScheduler)'. */
  name: string;
  /** The config's own class. */
  configuredClass: string;
  /** How the denoiser's output is read; a loader can check it against the model family (flow for SD3). */
  prediction: PredictionType;
  /** The most inference steps the schedule allows. */
  maxSteps: number;
  /** The implementation's `__init__` arguments, the file's values over the class's defaults. */
  config: C;
}

/**
 * Decides which implementation runs a scheduler config, once, before any step count is known:
 * EulerDiscrete, EulerAncestralDiscrete, DDIM, LCM and FlowMatchEulerDiscrete run as themselves; the classes in
 * {@link RUN_AS_EULER_DISCRETE} run as EulerDiscrete; everything else is refused.
 * @throws FleetError E_MODEL_SHAPE (not retryable) naming the file and the key at fault (`_class_name` for an
 *   unsupported class, else the unsupported setting).
 */
export function planScheduler(config: SchedulerConfig): SchedulerPlan {
  const configuredClass = config.fields._class_name;
  switch (configuredClass) {
    case 'EulerDiscreteScheduler':
      return eulerPlan(config, configuredClass, configuredClass);
    case 'EulerAncestralDiscreteScheduler': {
      const resolved = resolveEulerAncestralConfig(config);
      return { kind: 'euler-ancestral', name: configuredClass, configuredClass, prediction: resolved.prediction_type, maxSteps: resolved.num_train_timesteps, config: resolved };
    }
    case 'DDIMScheduler': {
      const resolved = resolveDdimConfig(config);
      return { kind: 'ddim', name: configuredClass, configuredClass, prediction: resolved.prediction_type, maxSteps: resolved.num_train_timesteps, config: resolved };
    }
    case 'LCMScheduler': {
      const resolved = resolveLcmConfig(config);
      return { kind: 'lcm', name: configuredClass, configuredClass, prediction: resolved.prediction_type, maxSteps: lcmMaxSteps(resolved), config: resolved };
    }
    case 'FlowMatchEulerDiscreteScheduler': {
      const resolved = resolveFlowMatchEulerConfig(config);
      return { kind: 'flow-match-euler', name: configuredClass, configuredClass, prediction: 'flow_prediction', maxSteps: resolved.num_train_timesteps, config: resolved };
    }
  }
  if (RUN_AS_EULER_DISCRETE.includes(configuredClass)) {
    if (config.fields.use_flow_sigmas) {
      throw schedulerConfigError(config, 'use_flow_sigmas', `${configuredClass} with flow sigmas describes a flow-matching model and cannot run as EulerDiscreteScheduler`);
    }
    return eulerPlan(config, configuredClass, `EulerDiscreteScheduler (for ${configuredClass})`);
  }
  const reason = REFUSED[configuredClass] ?? 'unknown scheduler class';
  throw schedulerConfigError(
    config,
    '_class_name',
    `${configuredClass} is ${REFUSED[configuredClass] === undefined ? 'an ' : ''}${reason}; supported: EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, DDIMScheduler, LCMScheduler, FlowMatchEulerDiscreteScheduler, and as EulerDiscreteScheduler: ${RUN_AS_EULER_DISCRETE.join(', ')}`,
  );
}

function eulerPlan(config: SchedulerConfig, configuredClass: string, name: string): SchedulerPlan {
  const resolved = resolveEulerDiscreteConfig(config);
  return { kind: 'euler-discrete', name, configuredClass, prediction: resolved.prediction_type, maxSteps: resolved.num_train_timesteps, config: resolved };
}
