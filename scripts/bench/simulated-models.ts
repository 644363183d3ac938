import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { EDIT_ACTIVATION_SCALE, type ModelDescription, type Pipeline, type RawImage } from '../../workers/index.js';
import type { SimulatedDevice } from './simulated-gpu.js';

/**
 * What each model of the scenario stands for on an 8 GiB device, and how long it computes. Latency of a
 * batch of n items at m megapixels: `(fixedMs + perItemMs × n) × m / refMegapixels` (upscales: per source
 * megapixel, one source at a time). Memory: `weightBytes` resident while loaded, `activationBytesPerMegapixel
 * × m × n` while a batch runs. Calibration sources are in README "Benchmarks".
 */
export interface SimulatedModel {
  standsFor: string;
  weightBytes: number;
  activationBytesPerMegapixel: number;
  refMegapixels: number;
  /** Per-batch time at refMegapixels, ms (what batching amortises). */
  fixedMs: number;
  /** Per-item time at refMegapixels, ms. */
  perItemMs: number;
  calibration: string;
}

const MP_512 = (512 * 512) / 1e6;
const MP_1024 = (1024 * 1024) / 1e6;

export const SIMULATED_MODELS: Record<string, SimulatedModel> = {
  'flash-v1': {
    standsFor: 'SD-Turbo / SDXL-Turbo-class distilled few-step model (fp16, 1.3 B parameters)',
    weightBytes: 2.6e9,
    activationBytesPerMegapixel: 1.2e9,
    refMegapixels: MP_512,
    fixedMs: 80,
    perItemMs: 120,
    calibration: 'SDXL-Turbo ≈ 0.2 s per 512² image on an A100 (batch 1); 40 % of it per batch',
  },
  'flash-v2': {
    standsFor: 'canary of flash-v1 (same shape)',
    weightBytes: 2.6e9,
    activationBytesPerMegapixel: 1.2e9,
    refMegapixels: MP_512,
    fixedMs: 80,
    perItemMs: 120,
    calibration: 'as flash-v1',
  },
  'large-v1': {
    standsFor:
      'SDXL-class 30-step model (UNet 2.6 B + VAE in fp16, text encoders offloaded to host): the stand-in for SD3.5 Large, ' +
      'which needs ≥ 18–24 GB in fp16 and cannot be resident on 8 GiB',
    weightBytes: 5.3e9,
    activationBytesPerMegapixel: 1.2e9,
    refMegapixels: MP_1024,
    fixedMs: 500,
    perItemMs: 2000,
    calibration: 'SDXL ≈ 2.5 s per 1024² image at 30 steps on an 80 GB card; 20 % of it per batch',
  },
  'typography-v1': {
    standsFor: 'SD 1.5-class 30-step model with a layout ControlNet (1.4 B parameters, fp16)',
    weightBytes: 2.9e9,
    activationBytesPerMegapixel: 1.2e9,
    refMegapixels: MP_512,
    fixedMs: 100,
    perItemMs: 400,
    calibration: 'SD 1.5 ≈ 0.5 s per 512² image at 30 steps on an 80 GB card (2 s at 1024²); 20 % of it per batch',
  },
  'upscale-x2': {
    standsFor: 'Real-ESRGAN-class ×2 super-resolution (17 M parameters)',
    weightBytes: 70e6,
    activationBytesPerMegapixel: 0.6e9,
    refMegapixels: MP_512,
    fixedMs: 20,
    perItemMs: 80,
    calibration: 'assumed: ≈ 0.1 s per 512² source (no public figure used)',
  },
  'upscale-x4': {
    standsFor: 'Real-ESRGAN-class ×4 super-resolution (17 M parameters)',
    weightBytes: 67e6,
    activationBytesPerMegapixel: 1.2e9,
    refMegapixels: MP_512,
    fixedMs: 30,
    perItemMs: 170,
    calibration: 'assumed: ≈ 0.2 s per 512² source (no public figure used)',
  },
};

/** The VAE encoder's share of an edit's simulated compute, next to its denoising steps (assumed). */
const EDIT_ENCODER_WORK_SHARE = 0.1;

/** Host-to-device copy rate for loading weights (PCIe 4.0 x16 from host memory, practical), bytes/s. */
export const WEIGHT_LOAD_BYTES_PER_SEC = 12e9;

/**
 * Writes a model repository for the simulated device: the shipped models (names, lanes, sizes, steps, cost units)
 * with the footprints of {@link SIMULATED_MODELS} in their manifests. The simulated pipelines read no weights; the
 * batcher plans with these footprints and the device charges the same ones.
 */
export function writeSimulatedModelRepository(shippedDir: string, targetDir: string): void {
  for (const name of readdirSync(shippedDir)) {
    const model = SIMULATED_MODELS[name];
    const manifestFile = join(shippedDir, name, 'manifest.json');
    if (model === undefined || !existsSync(manifestFile)) continue;
    const json = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
    json.residentBytes = model.weightBytes;
    json.activationBytesPerMegapixel = model.activationBytesPerMegapixel;
    json.description = `simulated: ${model.standsFor}`;
    cpSync(join(shippedDir, name), join(targetDir, name), { recursive: true });
    writeFileSync(join(targetDir, name, 'manifest.json'), JSON.stringify(json, null, 2));
  }
}

function greyImage(width: number, height: number): RawImage {
  return { pixels: new Uint8Array(width * height * 3).fill(118), width, height, channels: 3 };
}

/**
 * A `FleetWorkerOptions.pipelineLoader` that runs every model on `device`: loading reserves the weights and
 * waits for the copy, a batch waits for its compute, images come back flat grey at the size asked.
 * `timeScale` multiplies every simulated duration (0.1: ten times faster than real time).
 */
export function simulatedPipelineLoader(device: SimulatedDevice, timeScale: number): (description: ModelDescription) => Promise<Pipeline> {
  return async (description) => {
    const name = description.name;
    const model = SIMULATED_MODELS[name];
    if (model === undefined) throw new Error(`no simulated figures for model ${name}`);
    device.allocate(model.weightBytes);
    let released = false;
    const release = async (): Promise<void> => {
      if (!released) device.free(model.weightBytes);
      released = true;
    };
    try {
      await new Promise((resolve) => setTimeout(resolve, (model.weightBytes / WEIGHT_LOAD_BYTES_PER_SEC) * 1000 * timeScale));
    } catch (error) {
      await release();
      throw error;
    }
    const workMs = (items: number, megapixels: number) => (model.fixedMs + model.perItemMs * items) * (megapixels / model.refMegapixels) * timeScale;
    if (description.kind === 'upscale') {
      const upscaler = description;
      const tileMegapixels = (upscaler.tile.sizePx * upscaler.tile.sizePx) / 1e6;
      return {
        kind: 'upscale',
        model: upscaler,
        scale: upscaler.scale,
        release,
        upscale: async (source) => {
          const { width, height } = source instanceof Uint8Array ? await sharp(source).metadata() : source;
          if (!width || !height) throw Object.assign(new Error('source does not decode'), { code: 'E_SOURCE' });
          // Tiles run one after another, so activations stay at one tile's.
          await device.run(workMs(1, (width * height) / 1e6), tileMegapixels * model.activationBytesPerMegapixel);
          return greyImage(width * upscaler.scale, height * upscaler.scale);
        },
      };
    }
    return {
      kind: 'diffusion',
      model: description,
      release,
      run: async (items) => {
        const { width, height } = items[0]!;
        const megapixels = (width * height) / 1e6;
        await device.run(workMs(items.length, megapixels), items.length * megapixels * model.activationBytesPerMegapixel);
        return items.map(() => greyImage(width, height));
      },
      // Assumed, as the rest: the schedule's tail (`strength` of the steps) plus the encoder pass, whose
      // activations the batcher counts with EDIT_ACTIVATION_SCALE; the result at the source's size.
      edit: async (items) => {
        const { width, height, strength } = items[0]!;
        const megapixels = (width * height) / 1e6;
        await device.run(workMs(items.length, megapixels) * (strength + EDIT_ENCODER_WORK_SHARE), items.length * megapixels * model.activationBytesPerMegapixel * EDIT_ACTIVATION_SCALE);
        return Promise.all(
          items.map(async (item) => {
            const source = await sharp(item.source).metadata();
            return greyImage(source.width ?? width, source.height ?? height);
          }),
        );
      },
    };
  };
}
