// Writes one export folder as the chosen exporter lays it out (see export-spec.ts and the README's table):
// model_index.json, scheduler/, tokenizer*/, text_encoder*/, unet/ or transformer/, vae_decoder/, vae_encoder/, each ONNX file
// with the config.json Optimum writes beside it (diffusers' legacy script writes none), and external data where
// the exporter puts it (Optimum `model.onnx_data`, the legacy script `weights.pb`, ORT's optimiser `model.onnx.data`).
import { mkdir, rm, writeFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildClipVocabulary } from '../clip-vocabulary.js';
import { buildDenoiserGraph, denoiserShape } from './denoiser-graph.js';
import { CLIP_SEQUENCE, ENCODERS, SD3_JOINT_ATTENTION_DIM, SD3_POOLED_DIM, T5_SEQUENCE, floatType, type ExportSpec } from './export-spec.js';
import { latentChannels } from './oracle.js';
import { buildT5Vocabulary } from './t5-vocabulary.js';
import { buildTextEncoderGraph, type TextEncoderGraphSpec } from './text-encoder-graph.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from './vae-graph.js';
import { OnnxGraphBuilder } from '../onnx-graph-builder.js';

const DIFFUSERS_VERSION = '0.31.0';

type Encoder = { folder: string; tokenizer: string; kind: TextEncoderGraphSpec['kind']; size: { hiddenSize: number; layers: number; projectionDim: number }; className: string };

function encodersOf(spec: ExportSpec): Encoder[] {
  if (spec.family === 'sd') {
    // SD 2.x (v-prediction, 768) uses OpenCLIP-H; SD 1.x CLIP-L.
    const size = spec.prediction === 'v_prediction' ? ENCODERS.clipH : ENCODERS.clipL;
    return [{ folder: 'text_encoder', tokenizer: 'tokenizer', kind: 'clip', size, className: 'CLIPTextModel' }];
  }
  if (spec.family === 'sdxl') {
    return [
      { folder: 'text_encoder', tokenizer: 'tokenizer', kind: 'clip', size: ENCODERS.clipL, className: 'CLIPTextModel' },
      { folder: 'text_encoder_2', tokenizer: 'tokenizer_2', kind: 'clip-projection', size: ENCODERS.clipG, className: 'CLIPTextModelWithProjection' },
    ];
  }
  const encoders: Encoder[] = [
    { folder: 'text_encoder', tokenizer: 'tokenizer', kind: 'clip-projection', size: ENCODERS.clipL, className: 'CLIPTextModelWithProjection' },
    { folder: 'text_encoder_2', tokenizer: 'tokenizer_2', kind: 'clip-projection', size: ENCODERS.clipG, className: 'CLIPTextModelWithProjection' },
  ];
  if (spec.withT5) encoders.push({ folder: 'text_encoder_3', tokenizer: 'tokenizer_3', kind: 't5', size: ENCODERS.t5, className: 'T5EncoderModel' });
  return encoders;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function modelIndex(spec: ExportSpec, encoders: readonly Encoder[]): Record<string, unknown> {
  const script = spec.exporter === 'diffusers-script';
  const onnx = ['diffusers', 'OnnxRuntimeModel'];
  const index: Record<string, unknown> = {
    _class_name: spec.pipelineClass,
    _diffusers_version: DIFFUSERS_VERSION,
    _name_or_path: `image-fleet/${spec.family}-${spec.target === 'oracle' ? 'oracle' : 'toy'}`,
    scheduler: ['diffusers', spec.scheduler._class_name],
    vae: ['diffusers', 'AutoencoderKL'],
  };
  if (script) {
    Object.assign(index, { vae_encoder: onnx, vae_decoder: onnx, unet: onnx, text_encoder: onnx, tokenizer: ['transformers', 'CLIPTokenizer'], safety_checker: [null, null], feature_extractor: [null, null], requires_safety_checker: false });
    delete index.vae;
    return index;
  }
  for (const encoder of encoders) {
    index[encoder.folder] = ['transformers', encoder.className];
    index[encoder.tokenizer] = ['transformers', encoder.kind === 't5' ? 'T5TokenizerFast' : 'CLIPTokenizer'];
  }
  if (spec.family === 'sd3') {
    index.transformer = ['diffusers', 'SD3Transformer2DModel'];
    if (!spec.withT5) Object.assign(index, { text_encoder_3: [null, null], tokenizer_3: [null, null] });
  } else {
    index.unet = ['diffusers', 'UNet2DConditionModel'];
  }
  if (spec.family === 'sdxl') index.force_zeros_for_empty_prompt = true;
  return index;
}

function denoiserConfig(spec: ExportSpec, contextWidth: number, pooledWidth: number): Record<string, unknown> {
  const channels = latentChannels(spec);
  if (spec.family === 'sd3') {
    return { _class_name: 'SD3Transformer2DModel', _diffusers_version: DIFFUSERS_VERSION, sample_size: spec.sampleSize, patch_size: 2, in_channels: channels, out_channels: channels, num_layers: 24, attention_head_dim: 64, num_attention_heads: 24, joint_attention_dim: contextWidth, caption_projection_dim: 1536, pooled_projection_dim: pooledWidth, pos_embed_max_size: 192 };
  }
  const config: Record<string, unknown> = {
    _class_name: 'UNet2DConditionModel',
    _diffusers_version: DIFFUSERS_VERSION,
    sample_size: spec.sampleSize,
    in_channels: spec.inpainting ? 2 * channels + 1 : channels,
    out_channels: channels,
    cross_attention_dim: contextWidth,
    block_out_channels: spec.family === 'sdxl' ? [320, 640, 1280] : [320, 640, 1280, 1280],
    time_cond_proj_dim: spec.timeCondProjDim ?? null,
    addition_embed_type: spec.family === 'sdxl' ? 'text_time' : null,
  };
  if (spec.family === 'sdxl') Object.assign(config, { addition_time_embed_dim: 256, projection_class_embeddings_input_dim: 6 * 256 + pooledWidth });
  return config;
}

function vaeConfig(spec: ExportSpec): Record<string, unknown> {
  return {
    _class_name: 'AutoencoderKL',
    _diffusers_version: DIFFUSERS_VERSION,
    latent_channels: latentChannels(spec),
    block_out_channels: [128, 256, 512, 512],
    sample_size: spec.sampleSize * 8,
    scaling_factor: spec.vaeScalingFactor,
    ...(spec.vaeShiftFactor === undefined ? {} : { shift_factor: spec.vaeShiftFactor }),
    force_upcast: spec.family !== 'sd',
  };
}

/** Serialises a graph the way the exporter stores weights; returns the files to write. */
function withWeights(spec: ExportSpec, folder: string, graph: Uint8Array, external: boolean): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  if (!external) {
    files.set(`${folder}/model.onnx`, graph);
    return files;
  }
  const location = spec.exporter === 'diffusers-script' ? 'weights.pb' : spec.exporter === 'ort-optimized' ? 'model.onnx.data' : 'model.onnx_data';
  const { model, externalData } = OnnxGraphBuilder.moveToExternalData(graph, location);
  files.set(`${folder}/model.onnx`, model);
  if (externalData !== undefined) files.set(`${folder}/${location}`, externalData);
  return files;
}

/** Every file of the export, by path relative to its folder. */
export function exportFiles(spec: ExportSpec): Map<string, Uint8Array | string> {
  const files = new Map<string, Uint8Array | string>();
  const script = spec.exporter === 'diffusers-script';
  const encoders = encodersOf(spec);
  files.set('model_index.json', json(modelIndex(spec, encoders)));
  files.set('scheduler/scheduler_config.json', json({ _diffusers_version: DIFFUSERS_VERSION, ...spec.scheduler }));
  const seed = spec.weightSeed ?? 1;
  for (const [i, encoder] of encoders.entries()) {
    const t5 = encoder.kind === 't5';
    const clip = buildClipVocabulary(encoder.tokenizer === 'tokenizer_2' || spec.prediction === 'v_prediction' ? '!' : '<|endoftext|>');
    const vocabulary = t5 ? buildT5Vocabulary() : { files: clip.files, vocabSize: clip.vocabSize, specialIds: [clip.bosId, clip.eosId, clip.padId] };
    for (const [name, text] of Object.entries(vocabulary.files)) files.set(`${encoder.tokenizer}/${name}`, text);
    const idsType = t5 || encoder.kind === 'clip-projection' || spec.exporter === 'optimum' ? 'int64' : 'int32';
    const graph = buildTextEncoderGraph({
      kind: encoder.kind,
      ...encoder.size,
      sequenceLength: t5 ? T5_SEQUENCE : CLIP_SEQUENCE,
      vocabSize: vocabulary.vocabSize,
      specialIds: vocabulary.specialIds,
      idsType,
      idsDims: script ? ['batch', 'sequence'] : ['batch_size', 'sequence_length'],
      hiddenStates: spec.family !== 'sd',
      float: floatType(spec),
      target: spec.target === 'oracle' ? 'oracle' : 'look',
      weightSeed: seed + i,
    });
    for (const [path, bytes] of withWeights(spec, encoder.folder, graph, spec.externalData === true && t5)) files.set(path, bytes);
    if (!script) {
      const config = t5
        ? { architectures: ['T5EncoderModel'], model_type: 't5', d_model: encoder.size.hiddenSize, num_layers: encoder.size.layers, vocab_size: vocabulary.vocabSize }
        : { architectures: [encoder.className], model_type: 'clip_text_model', hidden_size: encoder.size.hiddenSize, num_hidden_layers: encoder.size.layers, projection_dim: encoder.size.projectionDim, max_position_embeddings: CLIP_SEQUENCE, vocab_size: vocabulary.vocabSize, ...(spec.family === 'sd' ? {} : { output_hidden_states: true }) };
      files.set(`${encoder.folder}/config.json`, json(config));
    }
  }
  const clips = encoders.filter((e) => e.kind !== 't5');
  const contextWidth = spec.family === 'sd3' ? SD3_JOINT_ATTENTION_DIM : clips.reduce((sum, e) => sum + e.size.hiddenSize, 0);
  const pooledWidth = spec.family === 'sd3' ? SD3_POOLED_DIM : spec.family === 'sdxl' ? ENCODERS.clipG.projectionDim : 0;
  const sequence = spec.family === 'sd3' ? CLIP_SEQUENCE + T5_SEQUENCE : CLIP_SEQUENCE;
  const denoiserFolder = spec.family === 'sd3' ? 'transformer' : 'unet';
  const denoiser = buildDenoiserGraph(spec, denoiserShape(spec, contextWidth, sequence, pooledWidth));
  // Exporters move weights out past 2 GB: a real UNet or transformer always at fp32 (and SDXL's, SD3's at fp16 too).
  const external = spec.externalData ?? (spec.precision === 'fp32' || spec.family !== 'sd' || script);
  for (const [path, bytes] of withWeights(spec, denoiserFolder, denoiser, external)) files.set(path, bytes);
  if (!script) files.set(`${denoiserFolder}/config.json`, json(denoiserConfig(spec, contextWidth, pooledWidth)));
  files.set('vae_decoder/model.onnx', buildVaeDecoderGraph(spec));
  if (!script) files.set('vae_decoder/config.json', json(vaeConfig(spec)));
  if (spec.withVaeEncoder ?? true) {
    files.set('vae_encoder/model.onnx', buildVaeEncoderGraph(spec));
    if (!script) files.set('vae_encoder/config.json', json(vaeConfig(spec)));
  }
  if (spec.manifest !== undefined) files.set('manifest.json', json(spec.manifest));
  return files;
}

/** Writes the export into `dir` (replacing it), staging in a sibling folder and renaming into place. */
export async function writeExport(spec: ExportSpec, dir: string): Promise<number> {
  const staging = `${dir}.staging-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  await rm(staging, { recursive: true, force: true });
  let bytes = 0;
  for (const [relative, content] of exportFiles(spec)) {
    const path = join(staging, relative);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    bytes += typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  }
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  return bytes;
}
