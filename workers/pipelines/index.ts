/**
 * Inference pipelines over a model repository entry.
 *
 * ```ts
 * const repository = new ModelRepository(config.modelsDir);
 * const pipeline = await loadPipeline(await repository.get('flash-v1'));
 * if (pipeline.kind === 'diffusion') {
 *   const [image] = await pipeline.run([{ prompt: 'a red fox', seed: 7, width: 512, height: 512 }]);
 *   const { data, thumbnail } = await encodeImage(image!, { format: 'webp' });
 * }
 * ```
 */
import { join } from 'node:path';
import type { ModelEntry } from '../models/model-repository.js';
import { OnnxSessionFactory, type SessionFactory } from '../engine/onnx-session-factory.js';
import { createDiffusionPipeline, loadDiffusionComponents } from './diffusion-pipeline.js';
import type { Pipeline } from './pipeline-types.js';
import { createUpscalePipeline } from './upscale-pipeline.js';

export interface LoadPipelineOptions {
  /** Where sessions come from; share one factory per process so the CUDA probe happens once. @default a new OnnxSessionFactory (CUDA if available, else CPU) */
  sessionFactory?: SessionFactory;
}

/**
 * Loads a model's files into a ready pipeline: `diffusion` (text → image) or `upscale` (image → image).
 * @throws FleetError E_MODEL_LOAD (files missing or unloadable), E_MODEL_SHAPE (tensor names/types not as the
 *   pipeline expects; the message lists expected vs found).
 */
export async function loadPipeline(entry: ModelEntry, options: LoadPipelineOptions = {}): Promise<Pipeline> {
  const factory = options.sessionFactory ?? new OnnxSessionFactory();
  const { manifest, dir } = entry;
  if (manifest.pipeline === 'diffusion') {
    return createDiffusionPipeline(manifest, await loadDiffusionComponents(manifest, dir, factory));
  }
  const session = await factory.create(join(dir, manifest.files.model));
  try {
    return createUpscalePipeline(manifest, session);
  } catch (error) {
    await session.release();
    throw error;
  }
}

export type { DiffusionPipeline, GenerateItem, Pipeline, UpscaleOptions, UpscalePipeline } from './pipeline-types.js';
export type { RawImage } from './raw-image.js';
export { createDiffusionPipeline, loadDiffusionComponents, type DiffusionComponents } from './diffusion-pipeline.js';
export { createUpscalePipeline, decodeSource } from './upscale-pipeline.js';
export { loadClipTokenizer, CLIP_SEQUENCE_LENGTH, type PromptTokenizer } from './clip-tokenizer.js';
export {
  parseSchedulerConfig,
  schedulerConfigForPipeline,
  planScheduler,
  createScheduler,
  schedulerFromPlan,
  startStepForStrength,
  RUN_AS_EULER_DISCRETE,
  EulerDiscreteScheduler,
  LcmScheduler,
  type CreateSchedulerOptions,
  type DiffusionScheduler,
  type PredictionType,
  type SchedulerConfig,
  type SchedulerConfigFields,
  type SchedulerKind,
  type SchedulerPlan,
} from './schedulers/index.js';
export { SeededNoise } from './seeded-noise.js';
export { encodeImage, resizeRaw, ENCODE_IMAGE_DEFAULTS, type EncodeImageOptions, type EncodedImage, type ImageFormat } from './post-process.js';
export {
  OnnxSessionFactory,
  isCudaAvailable,
  assertSessionShape,
  type ModelSession,
  type SessionFactory,
  type OnnxSessionFactoryOptions,
  type ExecutionProviderName,
  type TensorInfo,
} from '../engine/onnx-session-factory.js';
export { ModelRepository, type ModelEntry } from '../models/model-repository.js';
export {
  parseModelManifest,
  isSizeAllowed,
  describeSizes,
  modelManifestSchema,
  type ModelManifest,
  type DiffusionManifest,
  type UpscaleManifest,
  type ModelManifestInput,
  type PipelineKind,
} from '../models/model-manifest.js';
