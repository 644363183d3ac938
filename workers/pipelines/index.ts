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
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelEntry } from '../models/model-repository.js';
import { OnnxSessionFactory, type SessionFactory } from '../engine/onnx-session-factory.js';
import { createDiffusionPipeline, loadDiffusionComponents } from './diffusion-pipeline.js';
import type { Pipeline } from './pipeline-types.js';
import { createUpscalePipeline } from './upscale-pipeline.js';
import { describeUpscaleModel } from './upscale-model.js';
import { tilingFactsOfOnnx } from '../models/onnx-tiling-facts.js';

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
  const modelPath = join(dir, manifest.files.model);
  const session = await factory.create(modelPath);
  try {
    // A graph the walk reads whole bounds the receptive field (for the overlap) and shows a pixel-unshuffle factor;
    // the scale is left to the model's dims or a probe, so a manifest that names the wrong one is caught here.
    const graph = tilingFactsOfOnnx(await readFile(modelPath));
    const description = await describeUpscaleModel(session, {
      ...(manifest.valueRange === undefined ? {} : { valueRange: manifest.valueRange }),
      ...(graph.receptiveFieldPx === undefined ? {} : { receptiveFieldPx: graph.receptiveFieldPx, sizeMultiple: graph.sizeMultiple }),
    });
    return createUpscalePipeline(manifest, session, description);
  } catch (error) {
    await session.release();
    throw error;
  }
}

export type { DiffusionPipeline, GenerateItem, Pipeline, UpscaleOptions, UpscalePipeline } from './pipeline-types.js';
export type { RawImage } from './raw-image.js';
export { createDiffusionPipeline, loadDiffusionComponents, type DiffusionComponents } from './diffusion-pipeline.js';
export { createUpscalePipeline, decodeSource } from './upscale-pipeline.js';
export { describeUpscaleModel, type UpscaleModelDescription, type DeclaredUpscaleFacts } from './upscale-model.js';
export { tilingFactsOfOnnx, type OnnxTilingFacts } from '../models/onnx-tiling-facts.js';
export { loadClipTokenizer, CLIP_SEQUENCE_LENGTH, type PromptTokenizer } from './clip-tokenizer.js';
export { EulerDiscreteScheduler, LcmScheduler, type DiffusionScheduler } from './schedulers.js';
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
  type UpscaleScale,
  type ModelManifestInput,
  type PipelineKind,
} from '../models/model-manifest.js';
