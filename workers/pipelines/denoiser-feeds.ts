import ort from 'onnxruntime-node';
import type { TensorInfo } from '../engine/onnx-session-factory.js';
import type { DiffusionModel } from '../models/model-description.js';
import type { PromptConditioning } from './prompt-encoder.js';

/**
 * The `timestep` tensor as the export declares it: int64 or float, a scalar (`[]`, Optimum ≥ 1.24 UNets), one value
 * (`[1]`) or one per row (`[batch]`, `[steps]`: a diffusers UNet expands it to the batch either way). An int64 input
 * gets the value truncated, as the exporters' own pipelines cast it (`np.array([t], dtype=int64)`).
 */
export function timestepTensor(t: number, rows: number, info: TensorInfo | undefined): ort.Tensor {
  const dims = info === undefined ? [rows] : info.dims;
  const shape = dims.length === 0 ? [] : dims[0] === 1 ? [1] : [rows];
  const count = shape.length === 0 ? 1 : shape[0]!;
  return info?.type === 'int64'
    ? new ort.Tensor('int64', new BigInt64Array(count).fill(BigInt(Math.trunc(t))), shape)
    : new ort.Tensor('float32', new Float32Array(count).fill(t), shape);
}

/**
 * LCM's guidance embedding (diffusers' `get_guidance_scale_embedding`): w = scale − 1, scaled by 1000, as sines then
 * cosines of `dim / 2` log-spaced frequencies, zero-padded when `dim` is odd. [rows, dim].
 */
export function guidanceScaleEmbedding(guidanceScale: number, dim: number, rows: number): Float32Array {
  const w = (guidanceScale - 1) * 1000;
  const half = Math.floor(dim / 2);
  const row = new Float32Array(dim);
  const step = Math.log(10000) / (half - 1);
  for (let i = 0; i < half; i++) {
    const angle = w * Math.exp(-step * i);
    row[i] = Math.sin(angle);
    row[half + i] = Math.cos(angle);
  }
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) out.set(row, r * dim);
  return out;
}

/** SDXL's `add_time_ids`: original size, crop top-left, target size, as (height, width) pairs. [rows, 6]. */
export function sdxlTimeIds(width: number, height: number, rows: number): Float32Array {
  const row = [height, width, 0, 0, height, width];
  const out = new Float32Array(rows * 6);
  for (let r = 0; r < rows; r++) out.set(row, r * 6);
  return out;
}

/** What one denoiser call takes besides the latents and the timestep. */
export interface DenoiserConditioning {
  prompts: PromptConditioning;
  width: number;
  height: number;
  /** LCM guidance embedding scale, when the UNet takes one. */
  embeddedGuidanceScale: number | undefined;
}

/** The denoiser's input and output names for a family: `sample`→`out_sample` (UNet), `hidden_states`→`out_hidden_states` (SD3). */
export function denoiserNames(model: DiffusionModel): { latents: string; output: string } {
  return model.denoiser.kind === 'transformer' ? { latents: 'hidden_states', output: 'out_hidden_states' } : { latents: 'sample', output: 'out_sample' };
}

/**
 * The denoiser feeds that stay the same at every step of a batch (prompt conditioning, SDXL's pooled embeddings and
 * time ids, LCM's guidance embedding): built once, so a session converting them to float16 converts them once.
 */
export function constantDenoiserFeeds(model: DiffusionModel, inputs: readonly TensorInfo[], conditioning: DenoiserConditioning): Record<string, ort.Tensor> {
  const { prompts } = conditioning;
  const rows = prompts.rows;
  const feeds: Record<string, ort.Tensor> = {
    encoder_hidden_states: new ort.Tensor('float32', prompts.context, [rows, prompts.sequence, prompts.width]),
  };
  if (model.family === 'sd3') {
    feeds.pooled_projections = new ort.Tensor('float32', prompts.pooled!, [rows, prompts.pooledWidth]);
  }
  if (model.family === 'sdxl') {
    feeds.text_embeds = new ort.Tensor('float32', prompts.pooled!, [rows, prompts.pooledWidth]);
    feeds.time_ids = new ort.Tensor('float32', sdxlTimeIds(conditioning.width, conditioning.height, rows), [rows, 6]);
  }
  if (inputs.some((tensor) => tensor.name === 'timestep_cond') && model.timestepCondDim !== undefined && model.timestepCondDim > 0) {
    const dim = model.timestepCondDim;
    feeds.timestep_cond = new ort.Tensor('float32', guidanceScaleEmbedding(conditioning.embeddedGuidanceScale ?? model.guidanceScale, dim, rows), [rows, dim]);
  }
  return feeds;
}

/** The feeds of one step: the (scaled) latents and the timestep, named as the family's exports name them. */
export function stepFeeds(model: DiffusionModel, inputs: readonly TensorInfo[], latents: Float32Array, latentDims: readonly number[], t: number): Record<string, ort.Tensor> {
  return {
    [denoiserNames(model).latents]: new ort.Tensor('float32', latents, latentDims),
    timestep: timestepTensor(t, latentDims[0]!, inputs.find((tensor) => tensor.name === 'timestep')),
  };
}
