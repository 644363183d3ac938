import { join } from 'node:path';
import { FleetError, type Lane } from '../../contract/index.js';
import { parseSchedulerConfig, planScheduler, schedulerConfigForPipeline } from '../pipelines/schedulers/index.js';
import { checkDiffusionContract } from './diffusion-contract.js';
import { hasComponent, readExportComponent, readOptionalJson } from './export-component.js';
import { CUDA_ONLY_OPERATORS, DEFAULT_MAX_STEPS, FAMILY_DEFAULTS, LCM_DEFAULTS } from './family-defaults.js';
import type { DiffusionModel, ExportComponent, TextEncoderPart } from './model-description.js';
import { classifyPipeline, type DiffusionFamily, type PipelineClass } from './model-index.js';
import type { AllowedSizes, ExportManifest } from './model-manifest.js';

/** The lanes an export without a manifest may serve: every text-to-image lane (the policy decides which). */
export const TEXT_TO_IMAGE_LANES: readonly Lane[] = ['flash', 'large', 'typography'];

const CLIP_SEQUENCE = 77;
const T5_SEQUENCE = 256;

function numberField(config: Record<string, unknown> | undefined, key: string): number | undefined {
  const value = config?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function declaredDim(component: ExportComponent, output: string, axis: number): number | undefined {
  const tensor = [...component.signature.inputs, ...component.signature.outputs].find((t) => t.name === output);
  const dim = tensor?.dims[axis];
  return typeof dim === 'number' ? dim : undefined;
}

function hiddenStateCount(component: ExportComponent): number {
  return component.signature.outputs.filter((t) => /^hidden_states\.\d+$/.test(t.name)).length;
}

/** The component classes `model_index.json` names, e.g. `text_encoder_2: ["transformers", "CLIPTextModelWithProjection"]`. */
function componentClass(index: Record<string, unknown>, key: string): string | undefined {
  const entry = index[key];
  return Array.isArray(entry) && typeof entry[1] === 'string' ? entry[1] : undefined;
}

async function textEncoder(dir: string, index: Record<string, unknown>, family: DiffusionFamily, which: 1 | 2 | 3): Promise<TextEncoderPart> {
  const suffix = which === 1 ? '' : `_${which}`;
  const encoder = await readExportComponent(dir, `text_encoder${suffix}`);
  const declaredClass = componentClass(index, `text_encoder${suffix}`);
  const outputs = new Set(encoder.signature.outputs.map((t) => t.name));
  const kind: TextEncoderPart['kind'] =
    which === 3 || declaredClass === 'T5EncoderModel' ? 't5' : declaredClass === 'CLIPTextModelWithProjection' || outputs.has('text_embeds') ? 'clip-projection' : 'clip';
  const config = encoder.config;
  const hiddenSize = numberField(config, kind === 't5' ? 'd_model' : 'hidden_size') ?? declaredDim(encoder, 'last_hidden_state', 2) ?? 0;
  const layers = numberField(config, 'num_hidden_layers') ?? Math.max(0, hiddenStateCount(encoder) - 1);
  // SDXL and SD3 read each CLIP's penultimate layer (diffusers: hidden_states[-2]); hidden_states.0 is the embeddings.
  const statesOutput = kind === 't5' || family === 'sd' ? 'last_hidden_state' : `hidden_states.${layers - 1}`;
  const readsPooled = kind === 'clip-projection' && family !== 'sd';
  return {
    kind,
    tokenizerDir: join(dir, `tokenizer${suffix}`),
    encoder,
    hiddenSize,
    sequenceLength: kind === 't5' ? T5_SEQUENCE : CLIP_SEQUENCE,
    statesOutput,
    pooledOutput: readsPooled ? 'text_embeds' : undefined,
    pooledSize: readsPooled ? (numberField(config, 'projection_dim') ?? declaredDim(encoder, 'text_embeds', 1)) : undefined,
  };
}

function precisionOf(components: readonly ExportComponent[]): DiffusionModel['precision'] {
  const floats = new Set(
    components.flatMap((c) => [...c.signature.inputs, ...c.signature.outputs]).map((t) => t.type).filter((type) => type === 'float16' || type === 'float32'),
  );
  return floats.size > 1 ? 'mixed' : floats.has('float16') ? 'fp16' : 'fp32';
}

function exporterOf(pipelineClass: PipelineClass, components: readonly ExportComponent[]): string {
  const externals = new Set(components.flatMap((c) => c.signature.externalDataFiles));
  const fused = components.some((c) => [...c.signature.operators].some((op) => op.startsWith('com.microsoft:')));
  if (fused || externals.has('model.onnx.data')) return 'onnxruntime optimizer (Olive)';
  if (pipelineClass.className.startsWith('Onnx')) return "diffusers' ONNX script";
  const ids = components.find((c) => c.folder === 'text_encoder')?.signature.inputs.find((t) => t.name === 'input_ids');
  const timestep = components.find((c) => c.folder === 'unet')?.signature.inputs.find((t) => t.name === 'timestep');
  if (ids?.type === 'int32' && timestep?.type === 'int64') return 'Optimum ≤ 1.23';
  return 'Optimum';
}

function cudaOnly(components: readonly ExportComponent[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const component of components) {
    const ops = [...component.signature.operators].filter((op) => CUDA_ONLY_OPERATORS.has(op));
    // The CPU provider's MultiHeadAttention is float32 only.
    if (component.signature.operators.has('com.microsoft:MultiHeadAttention') && (component.signature.weightBytesByType.float16 ?? 0) > 0) {
      ops.push('com.microsoft:MultiHeadAttention (float16)');
    }
    if (ops.length > 0) out[component.file] = ops.sort();
  }
  return out;
}

function defaultSizes(nativeSide: number, denoiser: ExportComponent, vaeScaleFactor: number): AllowedSizes {
  const sample = denoiser.signature.inputs.find((t) => t.name === 'sample' || t.name === 'hidden_states');
  const [height, width] = [sample?.dims[2], sample?.dims[3]];
  if (typeof height === 'number' && typeof width === 'number') return { list: [{ width: width * vaeScaleFactor, height: height * vaeScaleFactor }] };
  // A latent side a multiple of 8 passes every UNet's three downsamplings and SD3's 2×2 patches.
  return { min: Math.max(256, nativeSide / 2), max: Math.round((nativeSide * 1.5) / 64) * 64, multipleOf: 64 };
}

/**
 * Describes an unmodified diffusers/Optimum ONNX export folder: the family from `model_index.json`, the scheduler
 * from `scheduler/scheduler_config.json`, sizes, latent layout and VAE factors from the components' `config.json`
 * (family defaults where an exporter wrote none), precision and weight bytes from the ONNX files. `manifest` may
 * override what an export cannot say. The contract check runs here, so a folder that would fail at run time fails
 * at load, naming the file and the tensor.
 * @throws FleetError E_MODEL_LOAD (files missing, unreadable JSON) or E_MODEL_SHAPE (unknown pipeline class, a
 *   scheduler the fleet cannot run, a graph the pipeline cannot feed).
 */
export async function describeDiffusionExport(dir: string, name: string, manifest: ExportManifest | undefined): Promise<DiffusionModel> {
  const indexFile = join(dir, 'model_index.json');
  const index = await readOptionalJson(indexFile);
  if (index === undefined) throw new FleetError('E_MODEL_LOAD', `${indexFile} is missing`, { details: { file: indexFile } });
  const pipelineClass = classifyPipeline(index._class_name, indexFile);
  const { family } = pipelineClass;
  const defaults = FAMILY_DEFAULTS[family];

  const schedulerFile = join(dir, 'scheduler', 'scheduler_config.json');
  const schedulerJson = await readOptionalJson(schedulerFile);
  if (schedulerJson === undefined) throw new FleetError('E_MODEL_LOAD', `${schedulerFile} is missing`, { details: { file: schedulerFile } });
  const scheduler = planScheduler(schedulerConfigForPipeline(parseSchedulerConfig(schedulerJson, schedulerFile), pipelineClass.className));
  const flow = scheduler.prediction === 'flow_prediction';
  if (flow !== (family === 'sd3')) {
    throw new FleetError('E_MODEL_SHAPE', `${schedulerFile}: ${scheduler.configuredClass} predicts ${scheduler.prediction}, which a ${family} denoiser does not (${family === 'sd3' ? 'SD3 is flow-matched' : 'only SD3 is flow-matched'})`, {
      details: { file: schedulerFile, path: '_class_name' },
    });
  }

  const textEncoders = [await textEncoder(dir, index, family, 1)];
  if (family !== 'sd') textEncoders.push(await textEncoder(dir, index, family, 2));
  if (family === 'sd3' && (await hasComponent(dir, 'text_encoder_3'))) textEncoders.push(await textEncoder(dir, index, family, 3));
  const denoiserKind = family === 'sd3' ? 'transformer' : 'unet';
  const denoiser = { ...(await readExportComponent(dir, denoiserKind)), kind: denoiserKind } as const;
  const vaeDecoder = await readExportComponent(dir, 'vae_decoder');
  const vaeEncoder = (await hasComponent(dir, 'vae_encoder')) ? await readExportComponent(dir, 'vae_encoder') : undefined;
  const components = [...textEncoders.map((t) => t.encoder), denoiser, vaeDecoder, ...(vaeEncoder === undefined ? [] : [vaeEncoder])];

  const vaeConfig = vaeDecoder.config;
  const blocks = vaeConfig?.block_out_channels;
  const vaeScaleFactor = Array.isArray(blocks) && blocks.length > 0 ? 2 ** (blocks.length - 1) : 8;
  const latentChannels = numberField(vaeConfig, 'latent_channels') ?? declaredDim(vaeDecoder, 'latent_sample', 1) ?? defaults.latentChannels;
  const sampleSize = numberField(denoiser.config, 'sample_size');
  const nativeSide = sampleSize === undefined ? defaults.nativeSidePx : sampleSize * vaeScaleFactor;
  const inChannels = numberField(denoiser.config, 'in_channels') ?? declaredDim(denoiser, denoiserKind === 'unet' ? 'sample' : 'hidden_states', 1);
  const inpainting = pipelineClass.task === 'inpaint' ? inChannels !== latentChannels : inChannels === 2 * latentChannels + 1;
  const timestepCondDim = numberField(denoiser.config, 'time_cond_proj_dim') ?? declaredDim(denoiser, 'timestep_cond', 1) ?? (denoiser.signature.inputs.some((t) => t.name === 'timestep_cond') ? -1 : undefined);
  const lcmScheduler = scheduler.kind === 'lcm';
  const guidanceEmbedding = timestepCondDim !== undefined;
  const precision = precisionOf(components);
  const derivedFrom: DiffusionModel['derivedFrom'] = {};
  const from = <T>(key: keyof DiffusionModel['derivedFrom'], value: T | undefined, fallback: T, how: string): T => {
    derivedFrom[key] = value === undefined ? how : 'manifest';
    return value ?? fallback;
  };
  const activationDefault = defaults.activationBytesPerMegapixelFp16 * (precision === 'fp16' ? 1 : 2);
  const weightBytes = components.reduce((sum, c) => sum + c.bytes, 0);

  const model: DiffusionModel = {
    kind: 'diffusion',
    name,
    dir,
    description: manifest?.description,
    lanes: from('lanes', manifest?.lanes, TEXT_TO_IMAGE_LANES, 'any text-to-image lane (no manifest)'),
    costUnitsPerImage: from('costUnitsPerImage', manifest?.costUnitsPerImage, 1, 'default'),
    residentBytes: from('residentBytes', manifest?.residentBytes, weightBytes, 'ONNX files and external data'),
    activationBytesPerMegapixel: from('activationBytesPerMegapixel', manifest?.activationBytesPerMegapixel, activationDefault, `${family} estimate at ${precision === 'fp16' ? 'fp16' : 'fp32'}`),
    pipelineClass,
    family,
    exporter: exporterOf(pipelineClass, components),
    precision,
    scheduler,
    sizes: from('sizes', manifest?.sizes, defaultSizes(nativeSide, denoiser, vaeScaleFactor), sampleSize === undefined ? `${family} default` : 'denoiser sample_size'),
    nativeSize: { width: nativeSide, height: nativeSide },
    defaultSteps: from('defaultSteps', manifest?.defaultSteps, lcmScheduler ? LCM_DEFAULTS.steps : defaults.steps, lcmScheduler ? 'LCM pipeline default' : `${family} pipeline default`),
    maxSteps: manifest?.maxSteps ?? Math.min(scheduler.maxSteps, DEFAULT_MAX_STEPS),
    guidanceScale: from('guidanceScale', manifest?.guidanceScale, lcmScheduler || guidanceEmbedding ? LCM_DEFAULTS.guidanceScale : defaults.guidanceScale, 'pipeline default'),
    latentChannels,
    vaeScaleFactor,
    vaeScalingFactor: numberField(vaeConfig, 'scaling_factor') ?? defaults.vaeScalingFactor,
    vaeShiftFactor: numberField(vaeConfig, 'shift_factor') ?? (vaeConfig === undefined ? defaults.vaeShiftFactor : 0),
    textEncoders,
    denoiser,
    vaeDecoder,
    vaeEncoder,
    inpainting,
    forceZerosForEmptyPrompt: family === 'sdxl' && index.force_zeros_for_empty_prompt !== false,
    timestepCondDim,
    classifierFreeGuidance: !pipelineClass.latentConsistency && !guidanceEmbedding,
    cudaOnlyOperators: cudaOnly(components),
    derivedFrom,
  };
  const problems = checkDiffusionContract(model);
  if (problems.length > 0) {
    const first = problems[0]!;
    throw new FleetError('E_MODEL_SHAPE', `model ${name}: ${problems.map((p) => `${p.file}: ${p.message}`).join('; ')}`, {
      details: { file: first.file, tensor: first.tensor, problems },
    });
  }
  return model;
}
