import { z } from 'zod';
import { FleetError } from '../../../contract/index.js';
import type { TrainingScheduleConfig } from './training-schedule.js';

const nullableFlag = z.boolean().nullable().optional();
const nullableNumber = z.number().nullable().optional();

/**
 * The keys of a diffusers `scheduler/scheduler_config.json` that decide a schedule. Every key is optional because
 * absence matters: diffusers builds a scheduler from another class's file by taking the keys it knows and its own
 * defaults for the rest (configuration_utils.extract_init_dict), so each implementation fills in its own class's
 * defaults. Other keys (`_diffusers_version`, `skip_prk_steps`, `solver_order`, …) are dropped. `null` means
 * Python's None, which diffusers treats as the default.
 */
export const schedulerConfigSchema = z.object({
  _class_name: z.string().min(1),
  num_train_timesteps: z.number().int().min(2).optional(),
  beta_start: z.number().positive().optional(),
  beta_end: z.number().positive().optional(),
  beta_schedule: z.enum(['linear', 'scaled_linear', 'squaredcos_cap_v2']).optional(),
  trained_betas: z.array(z.number().gt(0).lt(1)).min(2).nullable().optional(),
  prediction_type: z.enum(['epsilon', 'v_prediction', 'sample']).optional(),
  timestep_spacing: z.enum(['linspace', 'leading', 'trailing']).optional(),
  steps_offset: z.number().int().min(0).optional(),
  rescale_betas_zero_snr: z.boolean().optional(),
  // EulerDiscreteScheduler
  interpolation_type: z.enum(['linear', 'log_linear']).optional(),
  use_karras_sigmas: nullableFlag,
  use_exponential_sigmas: nullableFlag,
  use_beta_sigmas: nullableFlag,
  sigma_min: z.number().positive().nullable().optional(),
  sigma_max: z.number().positive().nullable().optional(),
  timestep_type: z.enum(['discrete', 'continuous']).optional(),
  final_sigmas_type: z.enum(['zero', 'sigma_min']).optional(),
  // DPMSolverMultistep / UniPC configs of flow models; refused when such a file would run as Euler.
  use_flow_sigmas: nullableFlag,
  // DDIMScheduler, LCMScheduler
  set_alpha_to_one: z.boolean().optional(),
  clip_sample: z.boolean().optional(),
  clip_sample_range: z.number().positive().optional(),
  thresholding: z.boolean().optional(),
  original_inference_steps: z.number().int().positive().optional(),
  timestep_scaling: z.number().positive().optional(),
  // FlowMatchEulerDiscreteScheduler
  shift: z.number().positive().optional(),
  use_dynamic_shifting: z.boolean().optional(),
  base_shift: nullableNumber,
  max_shift: nullableNumber,
  base_image_seq_len: z.number().int().positive().optional(),
  max_image_seq_len: z.number().int().positive().optional(),
  invert_sigmas: z.boolean().optional(),
  shift_terminal: z.number().gt(0).lt(1).nullable().optional(),
  stochastic_sampling: z.boolean().optional(),
  time_shift_type: z.enum(['exponential', 'linear']).optional(),
});

/** The file's keys as written (see {@link schedulerConfigSchema}). */
export type SchedulerConfigFields = z.infer<typeof schedulerConfigSchema>;

/** A parsed `scheduler_config.json`. */
export interface SchedulerConfig {
  /** Where it was read from; every error about it names this. */
  readonly file: string;
  readonly fields: SchedulerConfigFields;
}

/**
 * Validates a parsed `scheduler_config.json`. Values are checked for type and range only; whether this fleet can
 * run them is {@link planScheduler}'s call.
 * @param file the config's path, named in errors.
 * @throws FleetError E_MODEL_SHAPE (not retryable) naming the file and the first bad key; `details.path` holds it.
 */
export function parseSchedulerConfig(json: unknown, file: string): SchedulerConfig {
  const result = schedulerConfigSchema.safeParse(json);
  if (result.success) return { file, fields: result.data };
  const problems = result.error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(root)', message: issue.message }));
  const summary = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  throw new FleetError('E_MODEL_SHAPE', `invalid scheduler config ${file}: ${summary}`, {
    cause: result.error,
    details: { file, path: problems[0]?.path, problems },
  });
}

/** An error about one key of a scheduler config: E_MODEL_SHAPE, naming the file and the key. */
export function schedulerConfigError(config: SchedulerConfig, path: string, message: string): FleetError {
  return new FleetError('E_MODEL_SHAPE', `scheduler config ${config.file}: ${path}: ${message}`, { details: { file: config.file, path } });
}

/**
 * The settings one scheduler class runs with: each key of `defaults` from the file when present (and not null),
 * else the class's default — diffusers' `from_config` rule.
 */
export function withClassDefaults<T extends object>(config: SchedulerConfig, defaults: T): T {
  const fields = config.fields as Record<string, unknown>;
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const key of Object.keys(defaults)) {
    const value = fields[key];
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out as T;
}

/** Throws unless `trained_betas`, when given, has one beta per training timestep. */
export function checkTrainedBetas(config: SchedulerConfig, resolved: TrainingScheduleConfig): void {
  if (resolved.trained_betas !== null && resolved.trained_betas.length !== resolved.num_train_timesteps) {
    throw schedulerConfigError(
      config,
      'trained_betas',
      `holds ${resolved.trained_betas.length} betas but num_train_timesteps is ${resolved.num_train_timesteps}`,
    );
  }
}
