import type { SchedulerConfig } from './scheduler-config.js';

/**
 * Pipelines whose `__init__` rewrites the scheduler's config (diffusers' pipeline_stable_diffusion*.py and
 * pipeline_onnx_stable_diffusion*.py; Optimum's ORT pipelines subclass them): `steps_offset` becomes 1 and
 * `clip_sample` false, with a deprecation warning. SDXL, LCM and SD3 pipelines leave the config alone.
 */
export const PIPELINES_FIXING_SCHEDULER_CONFIG: readonly string[] = [
  'StableDiffusionPipeline',
  'StableDiffusionImg2ImgPipeline',
  'StableDiffusionInpaintPipeline',
  'OnnxStableDiffusionPipeline',
  'OnnxStableDiffusionImg2ImgPipeline',
  'OnnxStableDiffusionInpaintPipeline',
  'ORTStableDiffusionPipeline',
  'ORTStableDiffusionImg2ImgPipeline',
  'ORTStableDiffusionInpaintPipeline',
];

/**
 * The scheduler config as the export's pipeline class (`model_index.json`'s `_class_name`) leaves it. Matters for
 * files that predate the fix: a DDIM file without `clip_sample` would otherwise clip latents to [−1, 1], and a
 * leading-spacing file without `steps_offset` would start one timestep early.
 */
export function schedulerConfigForPipeline(config: SchedulerConfig, pipelineClass: string): SchedulerConfig {
  if (!PIPELINES_FIXING_SCHEDULER_CONFIG.includes(pipelineClass)) return config;
  return { file: config.file, fields: { ...config.fields, steps_offset: 1, clip_sample: false } };
}
