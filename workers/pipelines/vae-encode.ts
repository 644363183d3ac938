import ort from 'onnxruntime-node';
import { FleetError } from '../../contract/index.js';
import type { ModelSession } from '../engine/onnx-session-factory.js';
import { vaeEncoderOutput } from '../models/diffusion-contract.js';
import type { DiffusionModel } from '../models/model-description.js';
import { runForFloatOutput } from './run-session.js';
import type { SeededNoise } from './seeded-noise.js';

/**
 * Encodes planar [-1, 1] images `[count, 3, H, W]` into the latents the denoiser works in, as diffusers'
 * `_encode_vae_image` does: a sample of the encoder's Gaussian (`latent_dist.sample(generator)`: mean + std·ε,
 * log-variance clamped to [−30, 20], ε from each item's own generator), then `(z − shift_factor)·scaling_factor`.
 * An encoder that emits `latent_sample` has sampled already.
 * @throws FleetError E_MODEL_SHAPE when its output is not `[count, C or 2C, H/8, W/8]`.
 */
export async function encodeImages(
  model: DiffusionModel,
  encoder: ModelSession,
  images: Float32Array,
  count: number,
  size: { width: number; height: number },
  noises: readonly SeededNoise[],
): Promise<Float32Array> {
  const described = vaeEncoderOutput(model.vaeEncoder!)!;
  const channels = model.latentChannels;
  const latentHeight = size.height / model.vaeScaleFactor;
  const latentWidth = size.width / model.vaeScaleFactor;
  const { data, dims } = await runForFloatOutput(encoder, { sample: new ort.Tensor('float32', images, [count, 3, size.height, size.width]) }, described.name);
  const wanted = [count, described.channels(channels), latentHeight, latentWidth];
  if (dims.length !== 4 || dims.some((d, i) => d !== wanted[i])) {
    throw new FleetError('E_MODEL_SHAPE', `${encoder.modelPath}: ${described.name} is [${dims.join(',')}], expected [${wanted.join(',')}]`, {
      details: { file: encoder.modelPath, tensor: described.name },
    });
  }
  const itemSize = channels * latentHeight * latentWidth;
  const latents = new Float32Array(count * itemSize);
  const { vaeScalingFactor: scaling, vaeShiftFactor: shift } = model;
  for (let n = 0; n < count; n++) {
    const out = latents.subarray(n * itemSize, (n + 1) * itemSize);
    if (described.name === 'latent_sample') {
      out.set(data.subarray(n * itemSize, (n + 1) * itemSize));
    } else {
      const base = n * 2 * itemSize;
      noises[n]!.fillNormal(out, 1);
      for (let i = 0; i < itemSize; i++) {
        const logVariance = Math.min(20, Math.max(-30, data[base + itemSize + i]!));
        out[i] = data[base + i]! + Math.exp(0.5 * logVariance) * out[i]!;
      }
    }
    for (let i = 0; i < itemSize; i++) out[i] = (out[i]! - shift) * scaling;
  }
  return latents;
}
