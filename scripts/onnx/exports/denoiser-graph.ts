// Denoisers with the exporters' signatures (UNet2DConditionModel for SD/SDXL/LCM, SD3Transformer2DModel for SD3).
// Both compute a clean latent x0 from their conditioning — the oracle's known affine map of the prompt signals, or a
// toy look (a smooth field sampled from the input, text-weighted patterns, a conv stack) — and return the exact
// prediction a scheduler expects for it at the input's noise level:
//   ε = (s·√(1+σ²) − x0)/σ,  v = (ε − σ·x0)/√(1+σ²),  x0,  or flow (x_t − x0)/σ with σ = t/1000.
// s is the UNet's (scaled) input, σ the training schedule's noise level at t, interpolated as diffusers' Euler does.
import { SeededNoise } from '../../../workers/pipelines/seeded-noise.js';
import { OnnxGraphBuilder, type Dim, type ElementType } from '../onnx-graph-builder.js';
import { floatType, type ExportSpec } from './export-spec.js';
import { basisPatterns, batchInvariantMatMul, BASIS_COUNT, BASIS_SIZE, normals } from './graph-helpers.js';
import { INPAINT_MASKED_WEIGHT, latentChannels, oracleCoefficients, signalNames } from './oracle.js';

/** One denoiser input as the exporter declares it. */
interface DeclaredInput {
  name: string;
  type: ElementType;
  dims: Dim[];
}

export interface DenoiserShape {
  inputs: DeclaredInput[];
  output: DeclaredInput;
  /** Width of encoder_hidden_states and the sequence length fed. */
  contextWidth: number;
  sequence: number;
  pooledWidth: number;
}

/** The signature of `unet/model.onnx` or `transformer/model.onnx` for a spec's exporter (see the README's table). */
export function denoiserShape(spec: ExportSpec, contextWidth: number, sequence: number, pooledWidth: number): DenoiserShape {
  const float = floatType(spec);
  const channels = latentChannels(spec);
  const script = spec.exporter === 'diffusers-script';
  const batch = script ? 'batch' : 'batch_size';
  if (spec.family === 'sd3') {
    const latent = { type: float, dims: [batch, channels, 'height', 'width'] as Dim[] };
    return {
      inputs: [
        { name: 'hidden_states', ...latent },
        { name: 'encoder_hidden_states', type: float, dims: [batch, 'sequence_length', contextWidth] },
        { name: 'pooled_projections', type: float, dims: [batch, pooledWidth] },
        { name: 'timestep', type: float, dims: ['step'] },
      ],
      output: { name: 'out_hidden_states', ...latent },
      contextWidth,
      sequence,
      pooledWidth,
    };
  }
  const latent = { type: float, dims: (script ? [batch, 'channels', 'height', 'width'] : [batch, channels, 'height', 'width']) as Dim[] };
  const sampleIn = { type: float, dims: (script ? [batch, 'channels', 'height', 'width'] : [batch, spec.inpainting ? 2 * channels + 1 : channels, 'height', 'width']) as Dim[] };
  const timestep: DeclaredInput =
    spec.exporter === 'optimum-1.23'
      ? { name: 'timestep', type: 'int64', dims: ['steps'] }
      : spec.exporter === 'optimum'
        ? { name: 'timestep', type: float, dims: [] }
        : { name: 'timestep', type: float, dims: [script ? 'batch' : 'unet_time_batch'] };
  const inputs: DeclaredInput[] = [
    { name: 'sample', ...sampleIn },
    timestep,
    { name: 'encoder_hidden_states', type: float, dims: [batch, script ? 'sequence' : 'sequence_length', contextWidth] },
  ];
  if (spec.timeCondProjDim !== undefined) inputs.push({ name: 'timestep_cond', type: float, dims: [batch, spec.timeCondProjDim] });
  if (spec.family === 'sdxl') {
    inputs.push({ name: 'text_embeds', type: float, dims: [batch, pooledWidth] }, { name: 'time_ids', type: float, dims: [batch, 6] });
  }
  return { inputs, output: { name: 'out_sample', ...latent }, contextWidth, sequence, pooledWidth };
}

/** σ_t = √((1−ᾱ_t)/ᾱ_t) for t = 0 … T−1 from a scheduler config's betas. */
export function sigmaTable(scheduler: Record<string, unknown>): Float32Array {
  const steps = (scheduler.num_train_timesteps as number | undefined) ?? 1000;
  const start = (scheduler.beta_start as number | undefined) ?? 0.0001;
  const end = (scheduler.beta_end as number | undefined) ?? 0.02;
  const kind = (scheduler.beta_schedule as string | undefined) ?? 'linear';
  const out = new Float32Array(steps);
  let product = 1;
  for (let t = 0; t < steps; t++) {
    const f = steps === 1 ? 0 : t / (steps - 1);
    const beta = kind === 'scaled_linear' ? (Math.sqrt(start) + f * (Math.sqrt(end) - Math.sqrt(start))) ** 2 : start + f * (end - start);
    product *= 1 - beta;
    out[t] = Math.sqrt((1 - product) / product);
  }
  return out;
}

export function buildDenoiserGraph(spec: ExportSpec, shape: DenoiserShape): Uint8Array {
  const g = new OnnxGraphBuilder(spec.family === 'sd3' ? 'sd3_transformer' : 'unet');
  const f32 = (name: string) => {
    const input = shape.inputs.find((i) => i.name === name)!;
    g.input(input.name, input.type, input.dims);
    return input.type === 'float32' ? name : g.op('Cast', [name], { to: 1 });
  };
  const named: Record<string, string> = {};
  for (const input of shape.inputs) named[input.name] = f32(input.name);
  const channels = latentChannels(spec);
  const input = named[spec.family === 'sd3' ? 'hidden_states' : 'sample']!;
  const channelSlice = (from: number, to: number) => g.op('Slice', [input, g.int64s(`cs_${g.unique()}`, [from]), g.int64s(`ce_${g.unique()}`, [to]), g.int64s(`ca_${g.unique()}`, [1])]);
  // An inpainting UNet's input is [latents, mask, masked-image latents] on the channel axis (diffusers' torch.cat).
  const sample = spec.inpainting ? channelSlice(0, channels) : input;
  const inpaint = spec.inpainting ? { mask: channelSlice(channels, channels + 1), masked: channelSlice(channels + 1, 2 * channels + 1) } : undefined;
  if (inpaint !== undefined && spec.target !== 'oracle') throw new RangeError('an inpainting denoiser is built only as an oracle');
  const weight = (name: string, dims: number[], values: ArrayLike<number>) => g.op('Cast', [g.weights(name, dims, values, floatType(spec) === 'float16' ? 'float16' : 'float32')], { to: 1 });
  const perItem = g.int64s('per_item_shape', [-1, 1, 1, 1]);

  // Noise level at t.
  const t = g.op('Reshape', [g.op('Cast', [named.timestep!], { to: 1 }), perItem]);
  let sigma: string;
  if (spec.prediction === 'flow') {
    sigma = g.op('Mul', [t, g.floats('per_train_step', [], [1 / ((spec.scheduler.num_train_timesteps as number | undefined) ?? 1000)])]);
  } else {
    const table = sigmaTable(spec.scheduler);
    const last = table.length - 1;
    const clipped = g.op('Clip', [t, g.floats('t_min', [], [0]), g.floats('t_max', [], [last])]);
    const floor = g.op('Floor', [clipped]);
    const frac = g.op('Sub', [clipped, floor]);
    const i0 = g.op('Cast', [floor], { to: 7 });
    const i1 = g.op('Min', [g.op('Add', [i0, g.int64s('one', [1])]), g.int64s('last', [last])]);
    const sigmas = g.floats('sigmas', [table.length], table);
    const s0 = g.op('Gather', [sigmas, i0]);
    const s1 = g.op('Gather', [sigmas, i1]);
    sigma = g.op('Add', [s0, g.op('Mul', [frac, g.op('Sub', [s1, s0])])]);
  }

  const one = g.floats('one_f', [], [1]);
  const root = g.op('Sqrt', [g.op('Add', [one, g.op('Mul', [sigma, sigma])])]);
  let x0: string;
  if (spec.target === 'oracle') {
    const target = oracleX0Graph(g, spec, shape, named, sample, weight);
    x0 = target;
    const a = spec.oracleContraction ?? 0;
    if (a !== 0) {
      // The input's clean estimate: x_t = s·√(1+σ²) = x0 + σ·ε for the DDPM family, x_t/(1 − σ) for flow matching;
      // averaged over the latent, the noise leaves about σ/√cells of it.
      const clean =
        spec.prediction === 'flow'
          ? g.op('Div', [sample, g.op('Max', [g.op('Sub', [one, sigma]), g.floats('min_signal', [], [1e-3])])])
          : g.op('Mul', [sample, root]);
      const mean = g.op('ReduceMean', [clean], { axes: [2, 3], keepdims: 1 });
      x0 = g.op('Add', [target, g.op('Mul', [g.op('Sub', [mean, target]), g.floats('contraction', [], [a])])]);
    }
    if (inpaint !== undefined) {
      // Outside the mask the masked image's latents, inside T + β·masked: a pipeline that feeds the channels in
      // another order, leaves the source unmasked or does not encode it lands elsewhere.
      const inside = g.op('Add', [target, g.op('Mul', [inpaint.masked, g.floats('masked_weight', [], [INPAINT_MASKED_WEIGHT])])]);
      x0 = g.op('Add', [inpaint.masked, g.op('Mul', [inpaint.mask, g.op('Sub', [inside, inpaint.masked])])]);
    }
  } else {
    x0 = lookX0Graph(g, spec, shape, named, sample, weight, t);
  }
  const epsilon = () => g.op('Div', [g.op('Sub', [g.op('Mul', [sample, root]), x0]), sigma]);
  let prediction: string;
  if (spec.prediction === 'epsilon') prediction = epsilon();
  else if (spec.prediction === 'v_prediction') prediction = g.op('Div', [g.op('Sub', [epsilon(), g.op('Mul', [sigma, x0])]), root]);
  else if (spec.prediction === 'sample') prediction = x0;
  else prediction = g.op('Div', [g.op('Sub', [sample, x0]), sigma]);

  if (spec.exporter === 'ort-optimized') {
    // ORT's optimiser fuses GroupNorm into the UNet: a CUDA-only contrib op, kept here in the graph's path.
    const normed = g.domainOp('com.microsoft', 'GroupNorm', [x0, g.floats('gn_gamma', [channels], new Float32Array(channels).fill(1)), g.floats('gn_beta', [channels], new Float32Array(channels))], { epsilon: 1e-5, groups: 1, activation: 0, channels_last: 0 });
    prediction = g.op('Add', [prediction, g.op('Mul', [normed, g.floats('gn_weight', [], [0])])]);
  }
  const out = shape.output;
  g.op(out.type === 'float32' ? 'Identity' : 'Cast', [prediction], out.type === 'float32' ? {} : { to: 10 }, out.name);
  g.output(out.name, out.type, out.dims);
  return g.toBytes(`image-fleet ${spec.target === 'oracle' ? 'oracle' : 'toy'} ${spec.family} denoiser (${spec.prediction} prediction)`);
}

type Weight = (name: string, dims: number[], values: ArrayLike<number>) => string;

/** The oracle's clean latent: base + K·signals, broadcast over the latent's height and width. */
function oracleX0Graph(g: OnnxGraphBuilder, spec: ExportSpec, shape: DenoiserShape, named: Record<string, string>, sample: string, weight: Weight): string {
  const maxOf = (x: string, starts: number[], ends: number[], axes: number[]) =>
    g.op('ReduceMax', [g.op('Slice', [x, g.int64s(`s_${g.unique()}`, starts), g.int64s(`e_${g.unique()}`, ends), g.int64s(`a_${g.unique()}`, axes)])], { axes: axes.length === 2 ? [1, 2] : [1], keepdims: 1 });
  const column = (x: string, index: number) => g.op('Slice', [x, g.int64s(`c_${g.unique()}`, [index]), g.int64s(`ce_${g.unique()}`, [index + 1]), g.int64s(`ca_${g.unique()}`, [1])]);
  const flat = (x: string) => g.op('Reshape', [x, g.int64s(`flat_${g.unique()}`, [-1, 1])]);
  const context = named.encoder_hidden_states!;
  const signals: string[] = [];
  const big = 1 << 30;
  for (const signal of signalNames(spec)) {
    if (signal === 'context') signals.push(flat(maxOf(context, [0, 0], [big, big], [1, 2])));
    else if (signal === 'contextL') signals.push(flat(maxOf(context, [0, 0], [77, 768], [1, 2])));
    else if (signal === 'contextG') signals.push(flat(maxOf(context, [0, 768], [77, 2048], [1, 2])));
    else if (signal === 't5') signals.push(flat(maxOf(context, [77, 0], [big, big], [1, 2])));
    else if (signal === 'pooled') signals.push(flat(maxOf(named.text_embeds!, [0], [big], [1])));
    else if (signal === 'pooledL') signals.push(flat(maxOf(named.pooled_projections!, [0], [768], [1])));
    else if (signal === 'pooledG') signals.push(flat(maxOf(named.pooled_projections!, [768], [2048], [1])));
    else if (signal === 'timeHeight') signals.push(g.op('Mul', [column(named.time_ids!, 0), g.floats(`per_1024_${g.unique()}`, [], [1 / 1024])]));
    else if (signal === 'timeWidth') signals.push(g.op('Mul', [column(named.time_ids!, 5), g.floats(`per_1024_${g.unique()}`, [], [1 / 1024])]));
    else if (signal === 'guidanceEmbedding') signals.push(column(named.timestep_cond!, Math.floor(spec.timeCondProjDim! / 2) - 1));
  }
  const channels = latentChannels(spec);
  const { base, k } = oracleCoefficients(channels, signals.length);
  const stacked = signals.length === 1 ? signals[0]! : g.op('Concat', signals, { axis: 1 });
  const kTransposed = new Float32Array(signals.length * channels);
  for (let j = 0; j < signals.length; j++) for (let c = 0; c < channels; c++) kTransposed[j * channels + c] = k[c]![j]!;
  const mixed = g.op('Add', [g.op('MatMul', [stacked, weight('oracle_k', [signals.length, channels], kTransposed)]), weight('oracle_base', [channels], base)]);
  const perChannel = g.op('Reshape', [mixed, g.int64s('x0_shape', [-1, channels, 1, 1])]);
  // Broadcast over the latent's height and width.
  return g.op('Add', [g.op('Mul', [sample, g.floats('zero_f', [], [0])]), perChannel]);
}

/** The shipped models' toy look (see the file comment). */
function lookX0Graph(g: OnnxGraphBuilder, spec: ExportSpec, shape: DenoiserShape, named: Record<string, string>, sample: string, weight: Weight, t: string): string {
  const look = spec.target as Exclude<ExportSpec['target'], 'oracle'>;
  const noise = new SeededNoise((spec.weightSeed ?? 1) ^ 0x0e7);
  const channels = latentChannels(spec);
  const c = 32;
  const d = shape.contextWidth;
  const sampleShape = g.op('Shape', [sample]);

  const freqs = Float32Array.from({ length: c }, (_, i) => 2 ** ((i % 8) - 2) * Math.PI);
  const tScaled = g.op('Reshape', [g.op('Mul', [t, g.floats('t_scale', [], [1 / 1000])]), g.int64s('column_shape', [-1, 1])]);
  const tSin = g.op('Sin', [g.op('Mul', [tScaled, g.floats('t_freqs', [1, c], freqs)])]);
  const tEmbedding = g.op('Reshape', [batchInvariantMatMul(g, tSin, 't_projection', c, c, normals(noise, c * c, 0.3 / Math.sqrt(c))), g.int64s('channel_bias_shape', [-1, c, 1, 1])]);

  // The prompt's token states summed over the sequence, mixed into basis-pattern weights per latent channel.
  const sequence = g.op('Reshape', [named.encoder_hidden_states!, g.int64s('sequence_as_channels', [-1, shape.sequence, d, 1])]);
  const pooled = g.op('Reshape', [g.op('Conv', [sequence, g.floats('sequence_sum_w', [1, shape.sequence, 1, 1], new Float32Array(shape.sequence).fill(1))]), g.int64s('pooled_shape', [-1, d])]);
  let mix = batchInvariantMatMul(g, g.op('Mul', [pooled, g.floats('pool_scale', [], [0.35 * Math.sqrt(64 / d)])]), 'text_to_basis', d, channels * BASIS_COUNT, normals(noise, d * channels * BASIS_COUNT, 1 / Math.sqrt(d)));
  const extra = named.text_embeds ?? named.pooled_projections;
  if (extra !== undefined) {
    const p = shape.pooledWidth;
    mix = g.op('Add', [mix, batchInvariantMatMul(g, g.op('Mul', [extra, g.floats('pooled_scale', [], [0.1])]), 'pooled_to_basis', p, channels * BASIS_COUNT, normals(noise, p * channels * BASIS_COUNT, 1 / Math.sqrt(p)))]);
  }
  const coefficients = g.op('Mul', [g.op('Tanh', [mix]), g.floats('text_gain', [], [look.textGain])]);
  const patternSmall = g.op('Reshape', [batchInvariantMatMul(g, coefficients, 'basis', BASIS_COUNT, BASIS_SIZE * BASIS_SIZE, basisPatterns(noise)), g.int64s('pattern_shape', [-1, channels, BASIS_SIZE, BASIS_SIZE])]);
  const resizeLinear = { mode: 'linear', coordinate_transformation_mode: 'half_pixel' };
  const pattern = g.op('Resize', [patternSmall, '', '', sampleShape], resizeLinear);
  const coarseShape = g.op('Concat', [g.op('Slice', [sampleShape, g.int64s('zero', [0]), g.int64s('two', [2])]), g.int64s('coarse_hw', [8, 8])], { axis: 0 });
  // SD3's flow input is x_t itself; a UNet's is x_t scaled by 1/√(1+σ²): both are dominated by the seed's noise early.
  const field = g.op('Resize', [g.op('Resize', [sample, '', '', coarseShape], resizeLinear), '', '', sampleShape], resizeLinear);
  const target = g.op('Add', [g.op('Mul', [field, g.floats('seed_gain', [], [look.seedGain])]), pattern]);
  const conv = (x: string, name: string, out: number, inp: number, w: Float32Array) =>
    g.op('Conv', [x, weight(`${name}_w`, [out, inp, 3, 3], w), g.floats(`${name}_b`, [out], new Float32Array(out))], { pads: [1, 1, 1, 1] });
  const h1 = g.op('Relu', [g.op('Add', [conv(target, 'conv_in', c, channels, normals(noise, c * channels * 9, 1 / Math.sqrt(channels * 9))), tEmbedding])]);
  const h2 = g.op('Relu', [conv(h1, 'conv_mid', c, c, normals(noise, c * c * 9, 1 / Math.sqrt(c * 9)))]);
  const detail = conv(h2, 'conv_out', channels, c, normals(noise, channels * c * 9, 0.15 / Math.sqrt(c * 9)));
  return g.op('Mul', [g.op('Tanh', [g.op('Add', [target, detail])]), g.floats('x0_scale', [], [1.2])]);
}
