// Toy Stable-Diffusion-shaped graphs with the diffusers ONNX export's tensor names:
//   text_encoder: input_ids [batch,77] int32 -> last_hidden_state [batch,77,hidden]
//   unet:         sample [batch,4,h,w], timestep, encoder_hidden_states -> out_sample (predicted noise ε)
//   vae_decoder:  latent_sample [batch,4,h,w] -> sample [batch,3,8h,8w] in [-1,1]
// No attention and no training: the denoiser computes a clean-latent target x0* from a smooth field sampled out
// of its own input (so the seed matters), a text-weighted mix of smooth basis patterns (so the prompt matters) and a
// timestep-conditioned conv stack, then returns ε = (x_t − sqrt(ᾱ_t)·x0*) / sqrt(1−ᾱ_t) — exactly the noise a
// real scheduler expects, so Euler and LCM converge to x0*.
import { SeededNoise } from '../../workers/pipelines/seeded-noise.js';
import { alphasCumprod } from '../../workers/pipelines/noise-schedule.js';
import { CLIP_SEQUENCE_LENGTH } from '../../workers/pipelines/clip-tokenizer.js';
import { OnnxGraphBuilder } from './onnx-graph-builder.js';

/** The knobs that give each model its own look. */
export interface DiffusionLook {
  /** Gain on the smooth field sampled from the latent (seed-driven structure); > 1 makes it bistable. */
  seedGain: number;
  /** Gain on the text-driven basis patterns. */
  textGain: number;
  /** Sine banding frequency in the decoder (colour contours); low values give calm backgrounds. */
  bandFrequency: number;
  /** Output = tanh(rgb)·outputScale + outputOffset, in [-1,1]; small scale means low contrast. */
  outputScale: number;
  outputOffset: number;
}

export interface DiffusionGraphSpec {
  weightSeed: number;
  vocabSize: number;
  /** Token id whose embedding is zero (the pad token), so padding adds nothing to the prompt sum. */
  padTokenId: number;
  hiddenSize: number;
  unetChannels: number;
  decoderChannels: [number, number];
  timestep: { type: 'int64' | 'float32'; shape: 'batch' | 'one' };
  look: DiffusionLook;
}

const BASIS_SIZE = 16;
const BASIS_COUNT = 9;
const LATENT_CHANNELS = 4;

function normals(noise: SeededNoise, count: number, scale: number): Float32Array {
  return noise.fillNormal(new Float32Array(count), scale);
}

/** 3×3 conv weights [out,in,3,3]: a blurred identity on matching channels plus random mixing of `mixing` std. */
function smoothConvWeights(noise: SeededNoise, out: number, inp: number, identity: number, mixing: number): Float32Array {
  const blur = [1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16);
  const w = new Float32Array(out * inp * 9);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inp; i++) {
      const mix = noise.normal() * mixing;
      for (let k = 0; k < 9; k++) {
        w[(o * inp + i) * 9 + k] = blur[k]! * ((o % inp === i ? identity : 0) + mix);
      }
    }
  }
  return w;
}

export function buildTextEncoder(spec: DiffusionGraphSpec): Uint8Array {
  const noise = new SeededNoise(spec.weightSeed ^ 0x7e47);
  const d = spec.hiddenSize;
  const g = new OnnxGraphBuilder('text_encoder');
  const ids = g.input('input_ids', 'int32', ['batch', CLIP_SEQUENCE_LENGTH]);
  const table = normals(noise, spec.vocabSize * d, 1);
  table.fill(0, spec.padTokenId * d, (spec.padTokenId + 1) * d);
  const tokens = g.op('Gather', [g.floats('token_embedding', [spec.vocabSize, d], table), ids], { axis: 0 });
  const withPosition = g.op('Add', [tokens, g.floats('position_embedding', [CLIP_SEQUENCE_LENGTH, d], normals(noise, CLIP_SEQUENCE_LENGTH * d, 0.02))]);
  const projected = g.op('MatMul', [withPosition, g.floats('projection', [d, d], normals(noise, d * d, 1.2 / Math.sqrt(d)))]);
  g.op('Tanh', [projected], {}, 'last_hidden_state');
  g.output('last_hidden_state', 'float32', ['batch', CLIP_SEQUENCE_LENGTH, d]);
  return g.toBytes('image-fleet toy CLIP text encoder');
}

/** Smooth 16×16 patterns: a constant (colour bias) and eight low-frequency waves at assorted angles. */
function basisPatterns(noise: SeededNoise): Float32Array {
  const out = new Float32Array(BASIS_COUNT * BASIS_SIZE * BASIS_SIZE);
  for (let k = 0; k < BASIS_COUNT; k++) {
    const angle = noise.uniform() * Math.PI;
    const cycles = 0.5 + noise.uniform() * 1.5;
    const phase = noise.uniform() * 2 * Math.PI;
    for (let y = 0; y < BASIS_SIZE; y++) {
      for (let x = 0; x < BASIS_SIZE; x++) {
        const u = (x + 0.5) / BASIS_SIZE;
        const v = (y + 0.5) / BASIS_SIZE;
        const along = u * Math.cos(angle) + v * Math.sin(angle);
        out[(k * BASIS_SIZE + y) * BASIS_SIZE + x] = k === 0 ? 1 : Math.sin(2 * Math.PI * cycles * along + phase);
      }
    }
  }
  return out;
}

export function buildUnet(spec: DiffusionGraphSpec): Uint8Array {
  const noise = new SeededNoise(spec.weightSeed ^ 0x0e7);
  const { hiddenSize: d, unetChannels: c, look } = spec;
  const g = new OnnxGraphBuilder('unet');
  const sample = g.input('sample', 'float32', ['batch', LATENT_CHANNELS, 'latent_height', 'latent_width']);
  const timestep = g.input('timestep', spec.timestep.type, [spec.timestep.shape === 'one' ? 1 : 'batch']);
  const context = g.input('encoder_hidden_states', 'float32', ['batch', CLIP_SEQUENCE_LENGTH, d]);
  const sampleShape = g.op('Shape', [sample]);

  // Noise level of this timestep, from the same table the schedulers use.
  const alphaBar = alphasCumprod();
  const tFloat = g.op('Cast', [timestep], { to: 1 });
  const tIndex = g.op('Cast', [g.op('Clip', [tFloat, g.floats('t_min', [], [0]), g.floats('t_max', [], [alphaBar.length - 1])])], { to: 7 });
  const perItem = g.int64s('per_item_shape', [-1, 1, 1, 1]);
  const sqrtAlphaBar = g.op('Reshape', [g.op('Gather', [g.floats('sqrt_alpha_bar', [alphaBar.length], alphaBar.map(Math.sqrt)), tIndex]), perItem]);
  const sqrtOneMinus = g.op('Reshape', [g.op('Gather', [g.floats('sqrt_one_minus_alpha_bar', [alphaBar.length], alphaBar.map((a) => Math.sqrt(1 - a))), tIndex]), perItem]);

  // Timestep embedding: sinusoids of t/1000, projected to one bias per channel.
  const freqs = Float32Array.from({ length: c }, (_, i) => 2 ** ((i % 8) - 2) * Math.PI);
  const tScaled = g.op('Reshape', [g.op('Mul', [tFloat, g.floats('t_scale', [], [1 / 1000])]), g.int64s('column_shape', [-1, 1])]);
  const tSin = g.op('Sin', [g.op('Mul', [tScaled, g.floats('t_freqs', [1, c], freqs)])]);
  const tEmbedding = g.op('Reshape', [batchInvariantMatMul(g, tSin, 't_projection', c, c, normals(noise, c * c, 0.3 / Math.sqrt(c))), g.int64s('channel_bias_shape', [-1, c, 1, 1])]);

  // Text: the prompt's token states summed (padding embeds to ~0), mixed into basis-pattern weights per latent channel.
  // A sum over the sequence as a Conv with unit weights, for the same reason as batchInvariantMatMul.
  const sequence = g.op('Reshape', [context, g.int64s('sequence_as_channels', [-1, CLIP_SEQUENCE_LENGTH, d, 1])]);
  const pooled = g.op('Reshape', [
    g.op('Conv', [sequence, g.floats('sequence_sum_w', [1, CLIP_SEQUENCE_LENGTH, 1, 1], new Float32Array(CLIP_SEQUENCE_LENGTH).fill(1))]),
    g.int64s('pooled_shape', [-1, d]),
  ]);
  const coefficients = g.op('Mul', [
    g.op('Tanh', [batchInvariantMatMul(g, g.op('Mul', [pooled, g.floats('pool_scale', [], [0.35])]), 'text_to_basis', d, LATENT_CHANNELS * BASIS_COUNT, normals(noise, d * LATENT_CHANNELS * BASIS_COUNT, 1 / Math.sqrt(d)))]),
    g.floats('text_gain', [], [look.textGain]),
  ]);
  const basis = basisPatterns(noise);
  const patternSmall = g.op('Reshape', [
    batchInvariantMatMul(g, coefficients, 'basis', BASIS_COUNT, BASIS_SIZE * BASIS_SIZE, basis),
    g.int64s('pattern_shape', [-1, LATENT_CHANNELS, BASIS_SIZE, BASIS_SIZE]),
  ]);
  const resizeLinear = { mode: 'linear', coordinate_transformation_mode: 'half_pixel' };
  const pattern = g.op('Resize', [patternSmall, '', '', sampleShape], resizeLinear);

  // Seed: an 8×8 sampling of the latent itself, interpolated back up: a smooth random field.
  const coarseShape = g.op('Concat', [g.op('Slice', [sampleShape, g.int64s('zero', [0]), g.int64s('two', [2])]), g.int64s('coarse_hw', [8, 8])], { axis: 0 });
  const field = g.op('Resize', [g.op('Resize', [sample, '', '', coarseShape], resizeLinear), '', '', sampleShape], resizeLinear);
  const target = g.op('Add', [g.op('Mul', [field, g.floats('seed_gain', [], [look.seedGain])]), pattern]);

  // Conv stack conditioned on the timestep: the compute that batches, adding texture around the target.
  const conv = (x: string, name: string, out: number, inp: number, w: Float32Array) =>
    g.op('Conv', [x, g.floats(`${name}_w`, [out, inp, 3, 3], w), g.floats(`${name}_b`, [out], new Float32Array(out))], { pads: [1, 1, 1, 1] });
  const h1 = g.op('Relu', [g.op('Add', [conv(target, 'conv_in', c, LATENT_CHANNELS, normals(noise, c * LATENT_CHANNELS * 9, 1 / Math.sqrt(LATENT_CHANNELS * 9))), tEmbedding])]);
  const h2 = g.op('Relu', [conv(h1, 'conv_mid', c, c, normals(noise, c * c * 9, 1 / Math.sqrt(c * 9)))]);
  const detail = conv(h2, 'conv_out', LATENT_CHANNELS, c, normals(noise, LATENT_CHANNELS * c * 9, 0.15 / Math.sqrt(c * 9)));
  const x0 = g.op('Mul', [g.op('Tanh', [g.op('Add', [target, detail])]), g.floats('x0_scale', [], [1.2])]);

  g.op('Div', [g.op('Sub', [sample, g.op('Mul', [sqrtAlphaBar, x0])]), sqrtOneMinus], {}, 'out_sample');
  g.output('out_sample', 'float32', ['batch', LATENT_CHANNELS, 'latent_height', 'latent_width']);
  return g.toBytes('image-fleet toy denoiser (epsilon prediction)');
}

export function buildVaeDecoder(spec: DiffusionGraphSpec, scalingFactor: number): Uint8Array {
  const noise = new SeededNoise(spec.weightSeed ^ 0xdec0);
  const [c1, c2] = spec.decoderChannels;
  const { look } = spec;
  const g = new OnnxGraphBuilder('vae_decoder');
  const latent = g.input('latent_sample', 'float32', ['batch', LATENT_CHANNELS, 'latent_height', 'latent_width']);
  const up = (x: string) => g.op('Resize', [x, '', g.floats(`up_${x}`, [4], [1, 1, 2, 2])], { mode: 'linear' });
  const conv = (x: string, name: string, out: number, inp: number, k: number, w: Float32Array, bias?: Float32Array) =>
    g.op('Conv', [x, g.floats(`${name}_w`, [out, inp, k, k], w), g.floats(`${name}_b`, [out], bias ?? new Float32Array(out))], {
      pads: k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0],
    });
  // post_quant_conv analogue: undo the scaling factor the pipeline divided by, and spread 4 channels to c1.
  const f0 = conv(latent, 'post_quant', c1, LATENT_CHANNELS, 1, normals(noise, c1 * LATENT_CHANNELS, scalingFactor * look.bandFrequency), normals(noise, c1, 0.8));
  const f1 = g.op('Sin', [conv(up(f0), 'bands', c1, c1, 3, smoothConvWeights(noise, c1, c1, 1, 0.15))]);
  const f2 = conv(up(f1), 'mix', c2, c1, 3, smoothConvWeights(noise, c2, c1, 0.6, 0.5 / Math.sqrt(c1)));
  const rgb = conv(up(f2), 'to_rgb', 3, c2, 3, smoothConvWeights(noise, 3, c2, 0, 1.4 / Math.sqrt(c2)), normals(noise, 3, 0.3));
  g.op('Add', [g.op('Mul', [g.op('Tanh', [rgb]), g.floats('out_scale', [], [look.outputScale])]), g.floats('out_offset', [], [look.outputOffset])], {}, 'sample');
  g.output('sample', 'float32', ['batch', 3, 'height', 'width']);
  return g.toBytes('image-fleet toy VAE decoder');
}

/**
 * x·W (x [..., inDim], W [inDim, outDim] row-major) as a 1×1 Conv over [N, inDim, 1, 1]. MatMul and
 * ReduceSum pick other kernels when the batch is 1 (GEMV, collapsed reductions), which changes the
 * summation order and so the last bits; Conv runs the same per-image computation whatever the batch,
 * so an image never depends on its batch-mates (the same prompt and seed give the same bytes).
 * Returns [N, outDim] where N is the product of x's leading dimensions.
 */
function batchInvariantMatMul(g: OnnxGraphBuilder, x: string, name: string, inDim: number, outDim: number, weights: Float32Array): string {
  const transposed = new Float32Array(inDim * outDim);
  for (let i = 0; i < inDim; i++) for (let j = 0; j < outDim; j++) transposed[j * inDim + i] = weights[i * outDim + j]!;
  const column = g.op('Reshape', [x, g.int64s(`${name}_in_shape`, [-1, inDim, 1, 1])]);
  const y = g.op('Conv', [column, g.floats(`${name}_w`, [outDim, inDim, 1, 1], transposed), g.floats(`${name}_b`, [outDim], new Float32Array(outDim))]);
  return g.op('Reshape', [y, g.int64s(`${name}_out_shape`, [-1, outDim])]);
}
