import ort from 'onnxruntime-node';
import { FleetError } from '../../contract/index.js';
import type { ModelSession, SessionFactory } from '../engine/onnx-session-factory.js';
import type { DiffusionModel } from '../models/model-description.js';
import { describeSizes, isSizeAllowed } from '../models/model-manifest.js';
import { loadClipTokenizer } from './clip-tokenizer.js';
import { constantDenoiserFeeds, denoiserNames, stepFeeds } from './denoiser-feeds.js';
import { runEdit } from './edit-run.js';
import type { DiffusionPipeline, EditItem, GenerateItem } from './pipeline-types.js';
import { encodePrompts, stackConditioning, zeroConditioning, type LoadedTextEncoder, type PromptConditioning } from './prompt-encoder.js';
import { tensorToRawImages, type RawImage } from './raw-image.js';
import { runForFloatOutput } from './run-session.js';
import { schedulerFromPlan, type DiffusionScheduler } from './schedulers/index.js';
import { SeededNoise } from './seeded-noise.js';
import { loadT5Tokenizer } from './t5-tokenizer.js';

/** The sessions and tokenizers of one export. */
export interface DiffusionComponents {
  textEncoders: LoadedTextEncoder[];
  denoiser: ModelSession;
  vaeDecoder: ModelSession;
  /** Loaded when the export has one (edits). */
  vaeEncoder?: ModelSession | undefined;
}

/**
 * Loads the export's tokenizers and sessions. The description was checked against the pipeline's contract when it
 * was read; a session that fails to load releases the ones already loaded, so a model is never half-loaded.
 * @throws FleetError E_MODEL_LOAD (a file onnxruntime cannot load, a tokenizer that cannot be read).
 */
export async function loadDiffusionComponents(model: DiffusionModel, factory: SessionFactory): Promise<DiffusionComponents> {
  const loaded: ModelSession[] = [];
  const load = async (file: string) => {
    const session = await factory.create(file);
    loaded.push(session);
    return session;
  };
  try {
    const textEncoders: LoadedTextEncoder[] = [];
    for (const part of model.textEncoders) {
      const tokenizer = part.kind === 't5' ? await loadT5Tokenizer(part.tokenizerDir, part.sequenceLength) : await loadClipTokenizer(part.tokenizerDir);
      textEncoders.push({ part, tokenizer, session: await load(part.encoder.file) });
    }
    const denoiser = await load(model.denoiser.file);
    const vaeDecoder = await load(model.vaeDecoder.file);
    const vaeEncoder = model.vaeEncoder === undefined ? undefined : await load(model.vaeEncoder.file);
    return { textEncoders, denoiser, vaeDecoder, vaeEncoder };
  } catch (error) {
    await Promise.all(loaded.map((session) => session.release()));
    throw error;
  }
}

/** What every item of a batch shares. */
export interface BatchSettings {
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
}

/** Where a denoising run starts (see `denoiseAndDecode` in {@link createDiffusionPipeline}). */
export interface DenoiseStart {
  scheduler: DiffusionScheduler;
  /** The starting latents, item after item; advanced in place. */
  latents: Float32Array;
  /** Each item's generator (samplers that inject noise draw from it). */
  noises: readonly SeededNoise[];
  /** Per-item channels appended after the latents in every denoiser call (an inpainting UNet's mask and masked latents). */
  extra?: { data: Float32Array; channels: number };
  /** Called after each step with the latents (masked latent blending). */
  afterStep?: (latents: Float32Array, stepIndex: number) => void;
}

function batchSettings(model: DiffusionModel, items: readonly GenerateItem[]): BatchSettings {
  const first = items[0]!;
  const settings = {
    width: first.width,
    height: first.height,
    steps: first.steps ?? model.defaultSteps,
    guidanceScale: first.guidanceScale ?? model.guidanceScale,
  };
  for (const item of items) {
    if (
      item.width !== settings.width ||
      item.height !== settings.height ||
      (item.steps ?? model.defaultSteps) !== settings.steps ||
      (item.guidanceScale ?? model.guidanceScale) !== settings.guidanceScale
    ) {
      throw new RangeError('items of one batch must share width, height, steps and guidanceScale');
    }
  }
  const factor = model.vaeScaleFactor;
  if (!isSizeAllowed(model.sizes, settings.width, settings.height) || settings.width % factor !== 0 || settings.height % factor !== 0) {
    throw new FleetError('E_VALIDATION', `${model.name} renders ${describeSizes(model.sizes)}; got ${settings.width}x${settings.height}`, { field: 'width' });
  }
  if (!Number.isInteger(settings.steps) || settings.steps < 1 || settings.steps > model.maxSteps) {
    throw new FleetError('E_VALIDATION', `${model.name} takes 1–${model.maxSteps} steps; got ${settings.steps}`, { field: 'steps' });
  }
  return settings;
}

/**
 * Text-to-image and edits over already-loaded components (inject fakes here in tests), as diffusers runs each family:
 * classifier-free guidance batches the negative prompts first (`cat([negative, positive])`) and combines
 * `uncond + g·(cond − uncond)`; an LCM UNet gets the guidance embedding instead; the latents are decoded as
 * `latents / scaling_factor + shift_factor`.
 */
export function createDiffusionPipeline(model: DiffusionModel, components: DiffusionComponents): DiffusionPipeline {
  const { textEncoders, denoiser, vaeDecoder, vaeEncoder } = components;
  const names = denoiserNames(model);

  async function conditioning(items: readonly GenerateItem[], guided: boolean): Promise<PromptConditioning> {
    const positive = await encodePrompts(model, textEncoders, items.map((item) => item.prompt));
    if (!guided) return positive;
    const negatives = items.map((item) => item.negativePrompt ?? '');
    const negative = await encodePrompts(model, textEncoders, negatives);
    if (model.forceZerosForEmptyPrompt) {
      const zeros = zeroConditioning(positive, items.length);
      const rowContext = positive.sequence * positive.width;
      negatives.forEach((text, row) => {
        if (text !== '') return;
        negative.context.set(zeros.context.subarray(row * rowContext, (row + 1) * rowContext), row * rowContext);
        negative.pooled?.fill(0, row * negative.pooledWidth, (row + 1) * negative.pooledWidth);
      });
    }
    return stackConditioning(negative, positive);
  }

  /**
   * The denoising loop from `start.latents` over `start.scheduler`'s steps, then the VAE decoder: the part text to
   * image and edits share. `start.extra` (an inpainting denoiser's mask and masked-image latents) is appended to each
   * row's latents on the channel axis; `start.afterStep` sees the latents after every step (masked blending).
   */
  async function denoiseAndDecode(items: readonly GenerateItem[], settings: BatchSettings, start: DenoiseStart): Promise<RawImage[]> {
    const { width, height, guidanceScale } = settings;
    const { scheduler, latents, extra } = start;
    const guided = model.classifierFreeGuidance && guidanceScale > 1;
    const count = items.length;
    const channels = model.latentChannels;
    const latentHeight = height / model.vaeScaleFactor;
    const latentWidth = width / model.vaeScaleFactor;
    const itemSize = channels * latentHeight * latentWidth;
    const prompts = await conditioning(items, guided);
    const noises = start.noises;

    const rows = guided ? 2 * count : count;
    const extraSize = extra === undefined ? 0 : extra.channels * latentHeight * latentWidth;
    const rowDims = [rows, channels + (extra?.channels ?? 0), latentHeight, latentWidth];
    const embeddedGuidanceScale = model.timestepCondDim === undefined ? undefined : guidanceScale;
    const constant = constantDenoiserFeeds(model, denoiser.inputs, { prompts, width, height, embeddedGuidanceScale });
    for (let stepIndex = 0; stepIndex < scheduler.timesteps.length; stepIndex++) {
      const scaled = scheduler.scaleModelInput(latents, stepIndex);
      let input = scaled;
      if (guided || extra !== undefined) {
        const rowSize = itemSize + extraSize;
        input = new Float32Array(rows * rowSize);
        for (let row = 0; row < rows; row++) {
          const n = row % count;
          input.set(scaled.subarray(n * itemSize, (n + 1) * itemSize), row * rowSize);
          if (extra !== undefined) input.set(extra.data.subarray(n * extraSize, (n + 1) * extraSize), row * rowSize + itemSize);
        }
      }
      const feeds = { ...constant, ...stepFeeds(model, denoiser.inputs, input, rowDims, scheduler.timesteps[stepIndex]!) };
      const { data: predicted } = await runForFloatOutput(denoiser, feeds, names.output);
      if (predicted.length !== rows * itemSize) {
        throw new FleetError('E_MODEL_SHAPE', `${denoiser.modelPath}: ${names.output} has ${predicted.length} values, expected ${rows * itemSize}`, {
          details: { file: denoiser.modelPath, tensor: names.output },
        });
      }
      let output = predicted;
      if (guided) {
        const half = scaled.length;
        output = new Float32Array(half);
        for (let i = 0; i < half; i++) {
          const unconditional = predicted[i]!;
          output[i] = unconditional + guidanceScale * (predicted[half + i]! - unconditional);
        }
      }
      scheduler.step(output, stepIndex, latents, itemSize, noises);
      start.afterStep?.(latents, stepIndex);
    }

    const inverseScaling = 1 / model.vaeScalingFactor;
    const shift = model.vaeShiftFactor;
    for (let i = 0; i < latents.length; i++) latents[i] = latents[i]! * inverseScaling + shift;
    const { data: pixels, dims } = await runForFloatOutput(vaeDecoder, { latent_sample: new ort.Tensor('float32', latents, [count, channels, latentHeight, latentWidth]) }, 'sample');
    if (dims.length !== 4 || dims[0] !== count || dims[1] !== 3 || dims[2] !== height || dims[3] !== width) {
      throw new FleetError('E_MODEL_SHAPE', `${vaeDecoder.modelPath}: sample is [${dims.join(',')}], expected [${count},3,${height},${width}]`, {
        details: { file: vaeDecoder.modelPath, tensor: 'sample' },
      });
    }
    return tensorToRawImages(pixels, count, width, height, 'minus-one-to-one');
  }

  async function run(items: readonly GenerateItem[]): Promise<RawImage[]> {
    if (items.length === 0) return [];
    if (model.inpainting) {
      throw new FleetError('E_VALIDATION', `${model.name} is an inpainting model: it only edits (intent 'edit' with a source)`, { field: 'intent' });
    }
    const settings = batchSettings(model, items);
    const scheduler = schedulerFromPlan(model.scheduler, settings.steps);
    const noises = items.map((item) => new SeededNoise(item.seed));
    const itemSize = (model.latentChannels * settings.width * settings.height) / model.vaeScaleFactor ** 2;
    const latents = new Float32Array(items.length * itemSize);
    noises.forEach((noise, i) => noise.fillNormal(latents.subarray(i * itemSize, (i + 1) * itemSize), scheduler.initNoiseSigma));
    return denoiseAndDecode(items, settings, { scheduler, latents, noises });
  }

  async function edit(items: readonly EditItem[]): Promise<RawImage[]> {
    if (items.length === 0) return [];
    if (vaeEncoder === undefined) {
      throw new FleetError('E_VALIDATION', `${model.name} has no VAE encoder, so it cannot edit`, { field: 'intent' });
    }
    return runEdit({ model, vaeEncoder, settings: batchSettings(model, items), denoiseAndDecode }, items);
  }

  return {
    kind: 'diffusion',
    model,
    run,
    edit,
    async release() {
      await Promise.all([...textEncoders.map((e) => e.session.release()), denoiser.release(), vaeDecoder.release(), ...(vaeEncoder === undefined ? [] : [vaeEncoder.release()])]);
    },
  };
}
