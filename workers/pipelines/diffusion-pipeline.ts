import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { FleetError } from '../../contract/index.js';
import { describeSizes, isSizeAllowed, type DiffusionManifest } from '../models/model-manifest.js';
import { assertSessionShape, type ModelSession, type SessionFactory, type TensorInfo } from '../engine/onnx-session-factory.js';
import { CLIP_SEQUENCE_LENGTH, loadClipTokenizer, type PromptTokenizer } from './clip-tokenizer.js';
import type { DiffusionPipeline, GenerateItem } from './pipeline-types.js';
import { tensorToRawImages, type RawImage } from './raw-image.js';
import { runForFloatOutput } from './run-session.js';
import { EulerDiscreteScheduler, LcmScheduler, type DiffusionScheduler } from './schedulers.js';
import { SeededNoise } from './seeded-noise.js';

const LATENT_CHANNELS = 4;
const VAE_FACTOR = 8;
const ID_TYPES = ['int32', 'int64'];
const TIMESTEP_TYPES = ['int64', 'float32'];

/** The three sessions and the tokenizer of a diffusers-layout model. */
export interface DiffusionComponents {
  tokenizer: PromptTokenizer;
  textEncoder: ModelSession;
  unet: ModelSession;
  vaeDecoder: ModelSession;
}

function idsTensor(ids: number[], rows: number, info: TensorInfo): ort.Tensor {
  const dims = [rows, CLIP_SEQUENCE_LENGTH];
  return info.type === 'int64'
    ? new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), dims)
    : new ort.Tensor('int32', Int32Array.from(ids), dims);
}

/** Exports differ: timestep may be float32 or int64, shaped [batch], [1] or scalar. Follow the declaration. */
function timestepTensor(t: number, batch: number, info: TensorInfo): ort.Tensor {
  const count = info.dims.length === 0 ? 1 : info.dims[0] === 1 ? 1 : batch;
  const dims = info.dims.length === 0 ? [] : [count];
  return info.type === 'int64'
    ? new ort.Tensor('int64', new BigInt64Array(count).fill(BigInt(Math.round(t))), dims)
    : new ort.Tensor('float32', new Float32Array(count).fill(t), dims);
}

function inputInfo(session: ModelSession, name: string): TensorInfo {
  return session.inputs.find((t) => t.name === name)!;
}

function createScheduler(manifest: DiffusionManifest, steps: number): DiffusionScheduler {
  return manifest.scheduler === 'lcm'
    ? new LcmScheduler(steps, manifest.noiseSchedule, manifest.lcmOriginalSteps)
    : new EulerDiscreteScheduler(steps, manifest.noiseSchedule);
}

/**
 * Loads tokenizer and sessions from a diffusers-layout folder and checks their tensor names.
 * @throws FleetError E_MODEL_LOAD (missing/unloadable files) or E_MODEL_SHAPE (names or types differ).
 */
export async function loadDiffusionComponents(manifest: DiffusionManifest, modelDir: string, factory: SessionFactory): Promise<DiffusionComponents> {
  const { files } = manifest;
  const tokenizer = await loadClipTokenizer(join(modelDir, files.tokenizer));
  const loaded: ModelSession[] = [];
  const load = async (file: string) => {
    const session = await factory.create(join(modelDir, file));
    loaded.push(session);
    return session;
  };
  try {
    const textEncoder = await load(files.textEncoder);
    const unet = await load(files.unet);
    const vaeDecoder = await load(files.vaeDecoder);
    assertSessionShape(textEncoder, { inputs: [{ name: 'input_ids', types: ID_TYPES }], outputs: ['last_hidden_state'] });
    assertSessionShape(unet, {
      inputs: [{ name: 'sample', types: ['float32'] }, { name: 'timestep', types: TIMESTEP_TYPES }, { name: 'encoder_hidden_states', types: ['float32'] }],
      outputs: ['out_sample'],
    });
    assertSessionShape(vaeDecoder, { inputs: [{ name: 'latent_sample', types: ['float32'] }], outputs: ['sample'] });
    return { tokenizer, textEncoder, unet, vaeDecoder };
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

function batchSettings(manifest: DiffusionManifest, items: readonly GenerateItem[]): BatchSettings {
  const first = items[0]!;
  const settings = {
    width: first.width,
    height: first.height,
    steps: first.steps ?? manifest.defaultSteps,
    guidanceScale: first.guidanceScale ?? manifest.guidanceScale,
  };
  for (const item of items) {
    if (
      item.width !== settings.width ||
      item.height !== settings.height ||
      (item.steps ?? manifest.defaultSteps) !== settings.steps ||
      (item.guidanceScale ?? manifest.guidanceScale) !== settings.guidanceScale
    ) {
      throw new RangeError('items of one batch must share width, height, steps and guidanceScale');
    }
  }
  if (!isSizeAllowed(manifest.sizes, settings.width, settings.height) || settings.width % VAE_FACTOR !== 0 || settings.height % VAE_FACTOR !== 0) {
    throw new FleetError('E_VALIDATION', `${manifest.name} renders ${describeSizes(manifest.sizes)}; got ${settings.width}x${settings.height}`, {
      field: 'width',
    });
  }
  if (!Number.isInteger(settings.steps) || settings.steps < 1 || settings.steps > manifest.maxSteps) {
    throw new FleetError('E_VALIDATION', `${manifest.name} takes 1–${manifest.maxSteps} steps; got ${settings.steps}`, { field: 'steps' });
  }
  return settings;
}

/**
 * A text-to-image pipeline over already-loaded components (inject fakes here in tests).
 * Classifier-free guidance runs the unconditional prompts in the same denoiser batch: [uncond…, cond…].
 */
export function createDiffusionPipeline(manifest: DiffusionManifest, components: DiffusionComponents): DiffusionPipeline {
  const { tokenizer, textEncoder, unet, vaeDecoder } = components;
  const idsInfo = inputInfo(textEncoder, 'input_ids');
  const timestepInfo = inputInfo(unet, 'timestep');

  async function encodeText(texts: string[]): Promise<ort.Tensor> {
    const ids = tokenizer.encode(texts);
    const { data, dims } = await runForFloatOutput(textEncoder, { input_ids: idsTensor(ids, texts.length, idsInfo) }, 'last_hidden_state');
    return new ort.Tensor('float32', data, dims);
  }

  async function run(items: readonly GenerateItem[]): Promise<RawImage[]> {
    if (items.length === 0) return [];
    const { width, height, steps, guidanceScale } = batchSettings(manifest, items);
    const guided = guidanceScale > 1;
    const count = items.length;
    const latentShape = [count, LATENT_CHANNELS, height / VAE_FACTOR, width / VAE_FACTOR];
    const itemSize = LATENT_CHANNELS * (height / VAE_FACTOR) * (width / VAE_FACTOR);

    const prompts = items.map((item) => item.prompt);
    const context = await encodeText(guided ? [...items.map((item) => item.negativePrompt ?? ''), ...prompts] : prompts);

    const scheduler = createScheduler(manifest, steps);
    const noises = items.map((item) => new SeededNoise(item.seed));
    const latents = new Float32Array(count * itemSize);
    noises.forEach((noise, i) => noise.fillNormal(latents.subarray(i * itemSize, (i + 1) * itemSize), scheduler.initNoiseSigma));

    const unetBatch = guided ? 2 * count : count;
    for (let stepIndex = 0; stepIndex < scheduler.timesteps.length; stepIndex++) {
      const scaled = scheduler.scaleModelInput(latents, stepIndex);
      const sample = guided ? new Float32Array(2 * scaled.length) : scaled;
      if (guided) {
        sample.set(scaled, 0);
        sample.set(scaled, scaled.length);
      }
      const { data: predicted } = await runForFloatOutput(
        unet,
        {
          sample: new ort.Tensor('float32', sample, [unetBatch, ...latentShape.slice(1)]),
          timestep: timestepTensor(scheduler.timesteps[stepIndex]!, unetBatch, timestepInfo),
          encoder_hidden_states: context,
        },
        'out_sample',
      );
      let epsilon = predicted;
      if (guided) {
        const half = scaled.length;
        epsilon = new Float32Array(half);
        for (let i = 0; i < half; i++) {
          const unconditional = predicted[i]!;
          epsilon[i] = unconditional + guidanceScale * (predicted[half + i]! - unconditional);
        }
      }
      if (epsilon.length !== latents.length) {
        throw new FleetError('E_MODEL_SHAPE', `${unet.modelPath}: out_sample has ${epsilon.length} values, expected ${latents.length}`);
      }
      scheduler.step(epsilon, stepIndex, latents, itemSize, noises);
    }

    const inverseScaling = 1 / manifest.vaeScalingFactor;
    for (let i = 0; i < latents.length; i++) latents[i] = latents[i]! * inverseScaling;
    const { data: pixels, dims } = await runForFloatOutput(vaeDecoder, { latent_sample: new ort.Tensor('float32', latents, latentShape) }, 'sample');
    if (dims.length !== 4 || dims[0] !== count || dims[1] !== 3 || dims[2] !== height || dims[3] !== width) {
      throw new FleetError('E_MODEL_SHAPE', `${vaeDecoder.modelPath}: sample is [${dims.join(',')}], expected [${count},3,${height},${width}]`);
    }
    return tensorToRawImages(pixels, count, width, height, 'minus-one-to-one');
  }

  return {
    kind: 'diffusion',
    manifest,
    run,
    async release() {
      await Promise.all([textEncoder.release(), unet.release(), vaeDecoder.release()]);
    },
  };
}
