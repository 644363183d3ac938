/**
 * Inference pipelines over a described model.
 *
 * ```ts
 * const repository = new ModelRepository(config.modelsDir);
 * const pipeline = await loadPipeline(await repository.describe('flash-v1'));
 * if (pipeline.kind === 'diffusion') {
 *   const [image] = await pipeline.run([{ prompt: 'a red fox', seed: 7, width: 512, height: 512 }]);
 *   const { data, thumbnail } = await encodeImage(image!, { format: 'webp' });
 * }
 * ```
 */
import { FleetError } from '../../contract/index.js';
import type { ModelDescription } from '../models/model-description.js';
import { OnnxSessionFactory, type ExecutionProviderName, type SessionFactory } from '../engine/onnx-session-factory.js';
import { readFile } from 'node:fs/promises';
import { createDiffusionPipeline, loadDiffusionComponents } from './diffusion-pipeline.js';
import type { Pipeline } from './pipeline-types.js';
import { createUpscalePipeline } from './upscale-pipeline.js';
import { describeUpscaleModel } from './upscale-model.js';
import { tilingFactsOfOnnx } from '../models/onnx-tiling-facts.js';

export interface LoadPipelineOptions {
  /** Where sessions come from; share one factory per process so the CUDA probe happens once. @default a new OnnxSessionFactory (CUDA if available, else CPU) */
  sessionFactory?: SessionFactory;
  /**
   * The provider the sessions will run on. On `cpu`, a model whose graphs use operators only CUDA runs (ORT's
   * fused GroupNorm, BiasSplitGelu, …) is refused before any session is created. @default 'cpu' unless the factory says otherwise
   */
  provider?: ExecutionProviderName;
}

/**
 * Loads a model's files into a ready pipeline: `diffusion` (text → image) or `upscale` (image → image).
 * @throws FleetError E_MODEL_LOAD (files missing or unloadable), E_MODEL_SHAPE (graphs this worker's provider cannot
 *   run; the message names the file and operators).
 */
export async function loadPipeline(model: ModelDescription, options: LoadPipelineOptions = {}): Promise<Pipeline> {
  const factory = options.sessionFactory ?? new OnnxSessionFactory();
  if (model.kind === 'diffusion') {
    const provider = options.provider ?? 'cpu';
    const cudaOnly = Object.entries(model.cudaOnlyOperators);
    if (provider === 'cpu' && cudaOnly.length > 0) {
      const [file, ops] = cudaOnly[0]!;
      throw new FleetError('E_MODEL_SHAPE', `model ${model.name}: ${file} uses ${ops.join(', ')}, which onnxruntime runs only on CUDA; this worker runs on CPU (export without ORT's CUDA fusions to run it here)`, {
        details: { file, operators: ops },
      });
    }
    return createDiffusionPipeline(model, await loadDiffusionComponents(model, factory));
  }
  const modelPath = model.file;
  const session = await factory.create(modelPath);
  try {
    // A graph the walk reads whole bounds the receptive field (for the overlap) and shows a pixel-unshuffle factor;
    // the scale is left to the model's dims or a probe, so a manifest that names the wrong one is caught here.
    const graph = tilingFactsOfOnnx(await readFile(modelPath));
    const description = await describeUpscaleModel(session, {
      ...(model.valueRange === undefined ? {} : { valueRange: model.valueRange }),
      ...(graph.receptiveFieldPx === undefined ? {} : { receptiveFieldPx: graph.receptiveFieldPx, sizeMultiple: graph.sizeMultiple }),
    });
    return createUpscalePipeline(model, session, description);
  } catch (error) {
    await session.release();
    throw error;
  }
}

export type { DiffusionPipeline, GenerateItem, Pipeline, UpscaleOptions, UpscalePipeline } from './pipeline-types.js';
export type { RawImage } from './raw-image.js';
export { createDiffusionPipeline, loadDiffusionComponents, type DiffusionComponents } from './diffusion-pipeline.js';
export { loadT5Tokenizer } from './t5-tokenizer.js';
export { createUpscalePipeline, decodeSource } from './upscale-pipeline.js';
export { describeUpscaleModel, type UpscaleModelDescription, type DeclaredUpscaleFacts } from './upscale-model.js';
export { tilingFactsOfOnnx, type OnnxTilingFacts } from '../models/onnx-tiling-facts.js';
export { loadClipTokenizer, CLIP_SEQUENCE_LENGTH, type PromptTokenizer } from './clip-tokenizer.js';
export {
  parseSchedulerConfig,
  schedulerConfigForPipeline,
  planScheduler,
  createScheduler,
  schedulerFromPlan,
  startStepForStrength,
  RUN_AS_EULER_DISCRETE,
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
export { ModelRepository, type SurveyedModel } from '../models/model-repository.js';
export type { ModelDescription, DiffusionModel, UpscaleModel, TextEncoderPart, ExportComponent } from '../models/model-description.js';
export { isSizeAllowed, describeSizes, parseExportManifest, parseUpscaleManifest, type AllowedSizes, type UpscaleScale } from '../models/model-manifest.js';
