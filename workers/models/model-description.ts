import type { Lane } from '../../contract/index.js';
import type { SchedulerPlan } from '../pipelines/schedulers/index.js';
import type { AllowedSizes, UpscaleScale } from './model-manifest.js';
import type { DiffusionFamily, PipelineClass } from './model-index.js';
import type { OnnxSignature } from './onnx-signature.js';

/** What every model tells the fleet, however it was described: identity, lanes, price and memory. */
export interface ModelCommon {
  /** The model's name: its folder's name. */
  name: string;
  /** Absolute path of the model's folder. */
  dir: string;
  description: string | undefined;
  /** Lanes this model may serve; a policy picks among them. */
  lanes: readonly Lane[];
  /** Relative price of one image (quotas, metrics, `fleet policy test`); 1 = a flash 512² image. */
  costUnitsPerImage: number;
  /** Bytes the weights hold in (V)RAM while resident. */
  residentBytes: number;
  /** Extra bytes one image needs while it runs, per megapixel of output. */
  activationBytesPerMegapixel: number;
  /** Where each figure above came from, for `fleet models`: `manifest` or how it was derived. */
  derivedFrom: Partial<Record<'lanes' | 'costUnitsPerImage' | 'residentBytes' | 'activationBytesPerMegapixel' | 'sizes' | 'defaultSteps' | 'guidanceScale', string>>;
}

/** One ONNX file of an export, with what it declares and its `config.json` when the exporter wrote one. */
export interface ExportComponent {
  /** Folder inside the export (`unet`, `text_encoder_2`). */
  folder: string;
  /** Absolute path of the `.onnx` file. */
  file: string;
  signature: OnnxSignature;
  config: Record<string, unknown> | undefined;
  /** Bytes of the `.onnx` file and its external data. */
  bytes: number;
}

/** A tokenizer and the encoder it feeds. */
export interface TextEncoderPart {
  /** `clip` (CLIPTextModel), `clip-projection` (CLIPTextModelWithProjection, pooled `text_embeds`), `t5`. */
  kind: 'clip' | 'clip-projection' | 't5';
  tokenizerDir: string;
  encoder: ExportComponent;
  /** Width of its hidden states. */
  hiddenSize: number;
  /** Token ids per prompt: 77 for CLIP, 256 for SD3's T5 (diffusers' `max_sequence_length`). */
  sequenceLength: number;
  /** The output the pipeline reads for the prompt's token states (`last_hidden_state`, `hidden_states.11`). */
  statesOutput: string;
  /** The pooled output the pipeline reads (`text_embeds`), when it reads one. */
  pooledOutput: string | undefined;
  /** Width of the pooled output. */
  pooledSize: number | undefined;
}

/** A text-to-image export: what the loader derived from its `model_index.json`, configs and ONNX files. */
export interface DiffusionModel extends ModelCommon {
  kind: 'diffusion';
  pipelineClass: PipelineClass;
  family: DiffusionFamily;
  /** Which tool wrote it, as far as its layout tells (for people). */
  exporter: string;
  /** Float precision of the graphs' inputs and outputs: `fp16`, `fp32`, or `mixed` across components. */
  precision: 'fp32' | 'fp16' | 'mixed';
  /** Which scheduler runs, with its settings from `scheduler_config.json`. */
  scheduler: SchedulerPlan;
  /** Output sizes it renders. */
  sizes: AllowedSizes;
  /** The size it was trained at (unet `sample_size` × the VAE factor). */
  nativeSize: { width: number; height: number };
  defaultSteps: number;
  maxSteps: number;
  /** Classifier-free guidance scale when the request gives none (or the LCM guidance embedding's scale). */
  guidanceScale: number;
  /** Latent channels: 4 (SD, SDXL) or 16 (SD3). */
  latentChannels: number;
  /** Pixels per latent cell along a side (8). */
  vaeScaleFactor: number;
  vaeScalingFactor: number;
  vaeShiftFactor: number;
  textEncoders: TextEncoderPart[];
  /** `unet` (SD, SDXL) or `transformer` (SD3). */
  denoiser: ExportComponent & { kind: 'unet' | 'transformer' };
  vaeDecoder: ExportComponent;
  /**
   * The VAE encoder edits need (image → latents): `latent_parameters` (mean and log-variance, Optimum ≥ 1.23) or
   * `latent_sample` (a sample, diffusers' script and older Optimum). Undefined: the model cannot edit.
   */
  vaeEncoder: ExportComponent | undefined;
  /**
   * A dedicated inpainting denoiser (`in_channels` = 2 × latent channels + 1): it takes the latents, the mask and the
   * masked image's latents concatenated on the channel axis, as diffusers' inpaint pipelines feed it. Such a model
   * serves edits only.
   */
  inpainting: boolean;
  /** SDXL: an empty negative prompt becomes zero embeddings instead of encoded `""`. */
  forceZerosForEmptyPrompt: boolean;
  /** LCM-distilled UNets take a guidance embedding of this width (`timestep_cond`). */
  timestepCondDim: number | undefined;
  /** Classifier-free guidance is possible (never for LCM pipelines or UNets with a guidance embedding). */
  classifierFreeGuidance: boolean;
  /** Operators only onnxruntime's CUDA provider runs (`com.microsoft:GroupNorm`), by component file. */
  cudaOnlyOperators: Record<string, string[]>;
}

/** An image-to-image super-resolution model. */
export interface UpscaleModel extends ModelCommon {
  kind: 'upscale';
  /** Absolute path of its ONNX file. */
  file: string;
  /** Output side / input side. */
  scale: UpscaleScale;
  /** The value range of its input and output pixels: 1 (PyTorch's [0,1]) or 255 (the TF.js packages'); undefined: [0,1]. */
  valueRange: 1 | 255 | undefined;
  /** Source sizes accepted. */
  sizes: AllowedSizes;
  /** Tile side, and overlap when declared (else twice the receptive field the graph shows). */
  tile: { sizePx: number; overlapPx?: number | undefined };
}

export type ModelDescription = DiffusionModel | UpscaleModel;
