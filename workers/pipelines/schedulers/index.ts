/**
 * Schedulers that follow a diffusers `scheduler/scheduler_config.json` as diffusers does.
 *
 * ```ts
 * const config = parseSchedulerConfig(JSON.parse(await readFile(file, 'utf8')), file);
 * const plan = planScheduler(schedulerConfigForPipeline(config, modelIndex._class_name)); // at load: refusals surface here
 * const scheduler = schedulerFromPlan(plan, steps);                                      // per batch
 * ```
 */
export { parseSchedulerConfig, schedulerConfigSchema, type SchedulerConfig, type SchedulerConfigFields } from './scheduler-config.js';
export { schedulerConfigForPipeline, PIPELINES_FIXING_SCHEDULER_CONFIG } from './scheduler-config-for-pipeline.js';
export { planScheduler, RUN_AS_EULER_DISCRETE, type SchedulerPlan, type SchedulerKind } from './plan-scheduler.js';
export { createScheduler, schedulerFromPlan, startStepForStrength, type CreateSchedulerOptions } from './create-scheduler.js';
export type { DiffusionScheduler, PredictionType } from './diffusion-scheduler.js';
export { EulerDiscreteScheduler, LcmScheduler } from './legacy-schedulers.js';
