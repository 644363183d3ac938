import type { ModelSession } from '../engine/onnx-session-factory.js';
import type { DiffusionModel } from '../models/model-description.js';
import type { BatchSettings, DenoiseStart } from './diffusion-pipeline.js';
import { compositeEdit, decodeEditImages, imageToPlanar, latentMask, resizeMask, resizeToFill, type EditImages } from './edit-images.js';
import type { EditItem, GenerateItem } from './pipeline-types.js';
import type { RawImage } from './raw-image.js';
import { schedulerFromPlan } from './schedulers/index.js';
import { SeededNoise } from './seeded-noise.js';
import { encodeImages } from './vae-encode.js';

/** What an edit needs from the pipeline it runs in. */
export interface EditContext {
  model: DiffusionModel;
  vaeEncoder: ModelSession;
  settings: BatchSettings;
  denoiseAndDecode(items: readonly GenerateItem[], settings: BatchSettings, start: DenoiseStart): Promise<RawImage[]>;
}

/** One item's images at the render size, beside its originals. */
interface PreparedEdit {
  original: EditImages;
  source: RawImage;
  /** The soft mask at the render size; undefined: repaint everything. */
  mask: Float32Array | undefined;
}

/**
 * Runs a batch of edits (see `DiffusionPipeline.edit`), following diffusers' StableDiffusion[XL|3]Img2Img and
 * Inpaint pipelines: the start step from `strength` (`get_timesteps`), the start latents `add_noise(encoded, noise,
 * t_start)` (pure noise × init sigma at strength 1), and for a 4-channel denoiser with a mask, after every step
 * `latents = (1 − m)·add_noise(encoded, noise, t_next) + m·latents` (the clean source after the last).
 */
export async function runEdit(context: EditContext, items: readonly EditItem[]): Promise<RawImage[]> {
  const { model, settings } = context;
  const strength = items[0]!.strength;
  if (items.some((item) => item.strength !== strength)) throw new RangeError('items of one batch must share strength');
  const { width, height } = settings;
  const prepared = await Promise.all(items.map((item) => prepare(item, width, height)));
  const count = items.length;
  const plane = width * height;
  const latentWidth = width / model.vaeScaleFactor;
  const latentHeight = height / model.vaeScaleFactor;
  const cells = latentWidth * latentHeight;
  const itemSize = model.latentChannels * cells;
  const noises = items.map((item) => new SeededNoise(item.seed));
  const encode = (repaintMasked: boolean) => {
    const planar = new Float32Array(count * 3 * plane);
    prepared.forEach((p, n) => imageToPlanar(p.source, planar, n * 3 * plane, repaintMasked ? (p.mask ?? allOnes(plane)) : undefined));
    return encodeImages(model, context.vaeEncoder, planar, count, settings, noises);
  };

  const scheduler = schedulerFromPlan(model.scheduler, settings.steps, { strength });
  // The inpaint pipelines start a full-strength run from pure noise (`is_strength_max`); img2img always noises the
  // source, at any strength. A dedicated inpainting UNet starting from noise never reads the source's own latents.
  const fromNoise = prepared.map((p) => strength === 1 && (model.inpainting || p.mask !== undefined));
  const imageLatents = fromNoise.every(Boolean) && model.inpainting ? undefined : await encode(false);
  const noise = new Float32Array(count * itemSize);
  noises.forEach((generator, n) => generator.fillNormal(noise.subarray(n * itemSize, (n + 1) * itemSize), 1));
  const latents = imageLatents === undefined ? new Float32Array(count * itemSize) : scheduler.addNoise(imageLatents, noise, 0);
  fromNoise.forEach((pure, n) => {
    if (pure) for (let i = n * itemSize; i < (n + 1) * itemSize; i++) latents[i] = noise[i]! * scheduler.initNoiseSigma;
  });

  const masks = prepared.map((p) => (p.mask === undefined ? undefined : latentMask(p.mask, width, height, latentWidth, latentHeight)));
  const start: DenoiseStart = { scheduler, latents, noises };
  if (model.inpainting) {
    const masked = await encode(true);
    const channels = model.latentChannels + 1;
    const extra = new Float32Array(count * channels * cells);
    for (let n = 0; n < count; n++) {
      const base = n * channels * cells;
      extra.set(masks[n] ?? allOnes(cells), base);
      extra.set(masked.subarray(n * itemSize, (n + 1) * itemSize), base + cells);
    }
    start.extra = { data: extra, channels };
  } else if (masks.some((m) => m !== undefined)) {
    const last = scheduler.timesteps.length - 1;
    const clean = imageLatents!;
    start.afterStep = (current, stepIndex) => {
      const proper = stepIndex < last ? scheduler.addNoise(clean, noise, stepIndex + 1) : clean;
      masks.forEach((mask, n) => {
        if (mask === undefined) return;
        const base = n * itemSize;
        for (let i = 0; i < itemSize; i++) {
          const m = mask[i % cells]!;
          current[base + i] = (1 - m) * proper[base + i]! + m * current[base + i]!;
        }
      });
    };
  }

  const generated = await context.denoiseAndDecode(items, settings, start);
  return Promise.all(
    generated.map(async (image, n) => {
      const { original } = prepared[n]!;
      const full = await resizeToFill(image, original.source.width, original.source.height);
      return compositeEdit(original.source, full, original.mask);
    }),
  );
}

async function prepare(item: EditItem, width: number, height: number): Promise<PreparedEdit> {
  const original = await decodeEditImages(item.source, item.mask);
  const { source } = original;
  return {
    original,
    source: await resizeToFill(source, width, height),
    mask: original.mask === undefined ? undefined : await resizeMask(original.mask, source.width, source.height, width, height),
  };
}

function allOnes(length: number): Float32Array {
  return new Float32Array(length).fill(1);
}
