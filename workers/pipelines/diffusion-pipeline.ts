import ort from 'onnxruntime-node';
import { FleetError } from '../../contract/index.js';
import type { ModelSession, SessionFactory } from '../engine/onnx-session-factory.js';
import type { DiffusionModel } from '../models/model-description.js';
import { describeSizes, isSizeAllowed } from '../models/model-manifest.js';
import { loadClipTokenizer } from './clip-tokenizer.js';
import { constantDenoiserFeeds, denoiserNames, stepFeeds } from './denoiser-feeds.js';
import type { DiffusionPipeline, GenerateItem } from './pipeline-types.js';
import { encodePrompts, stackConditioning, zeroConditioning, type LoadedTextEncoder, type PromptConditioning } from './prompt-encoder.js';
import { tensorToRawImages, type RawImage } from './raw-image.js';
import { runForFloatOutput } from './run-session.js';
import { schedulerFromPlan } from './schedulers/index.js';
import { SeededNoise } from './seeded-noise.js';
import { loadT5Tokenizer } from './t5-tokenizer.js';

/** The sessions and tokenizers of one export. */
export interface DiffusionComponents {
  textEncoders: LoadedTextEncoder[];
  denoiser: ModelSession;
  vaeDecoder: ModelSession;
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
    return { textEncoders, denoiser, vaeDecoder };
  } catch (error) {
    await Promise.all(loaded.map((session) => session.release()));
    throw error;
  }
}

interface BatchSettings {
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
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
 * Text-to-image over already-loaded components (inject fakes here in tests), as diffusers runs each family:
 * classifier-free guidance batches the negative prompts first (`cat([negative, positive])`) and combines
 * `uncond + g·(cond − uncond)`; an LCM UNet gets the guidance embedding instead; the latents are decoded as
 * `latents / scaling_factor + shift_factor`.
 */
export function createDiffusionPipeline(model: DiffusionModel, components: DiffusionComponents): DiffusionPipeline {
  const { textEncoders, denoiser, vaeDecoder } = components;
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

  async function run(items: readonly GenerateItem[]): Promise<RawImage[]> {
    if (items.length === 0) return [];
    const { width, height, steps, guidanceScale } = batchSettings(model, items);
    const guided = model.classifierFreeGuidance && guidanceScale > 1;
    const count = items.length;
    const channels = model.latentChannels;
    const latentHeight = height / model.vaeScaleFactor;
    const latentWidth = width / model.vaeScaleFactor;
    const itemSize = channels * latentHeight * latentWidth;
    const prompts = await conditioning(items, guided);

    const scheduler = schedulerFromPlan(model.scheduler, steps);
    const noises = items.map((item) => new SeededNoise(item.seed));
    const latents = new Float32Array(count * itemSize);
    noises.forEach((noise, i) => noise.fillNormal(latents.subarray(i * itemSize, (i + 1) * itemSize), scheduler.initNoiseSigma));

    const rows = guided ? 2 * count : count;
    const rowDims = [rows, channels, latentHeight, latentWidth];
    const embeddedGuidanceScale = model.timestepCondDim === undefined ? undefined : guidanceScale;
    const constant = constantDenoiserFeeds(model, denoiser.inputs, { prompts, width, height, embeddedGuidanceScale });
    for (let stepIndex = 0; stepIndex < scheduler.timesteps.length; stepIndex++) {
      const scaled = scheduler.scaleModelInput(latents, stepIndex);
      let input = scaled;
      if (guided) {
        input = new Float32Array(2 * scaled.length);
        input.set(scaled, 0);
        input.set(scaled, scaled.length);
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

  return {
    kind: 'diffusion',
    model,
    run,
    async release() {
      await Promise.all([...textEncoders.map((e) => e.session.release()), denoiser.release(), vaeDecoder.release()]);
    },
  };
}
