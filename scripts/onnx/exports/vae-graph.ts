// VAE decoders with the exporters' signature: latent_sample [batch, C, h, w] → sample [batch, 3, 8h, 8w] in [-1, 1].
// The oracle is linear (a 1×1 conv whose weights fold in the scaling and shift factors, then nearest ×8), so a
// correct pipeline's latent lands on a known colour; the toy look bands colours as the shipped models always have.
// VAE encoders: sample [batch, 3, H, W] in [-1, 1] → latent_parameters [batch, 2C, H/8, W/8] (the Gaussian's mean
// and log-variance, Optimum) or latent_sample [batch, C, H/8, W/8] (diffusers' script). The oracle's mean is the
// decoder's right inverse over each 8×8 block, so a colour encodes to the latent that decodes back to it.
import { SeededNoise } from '../../../workers/pipelines/seeded-noise.js';
import { OnnxGraphBuilder, type Dim } from '../onnx-graph-builder.js';
import { floatType, type ExportSpec } from './export-spec.js';
import { normals, smoothConvWeights } from './graph-helpers.js';
import { latentChannels, oracleVaeEncoderMatrix, oracleVaeMatrix } from './oracle.js';

/** Dim names of the decoder's input and output for an exporter (optimum ≥ 1.26 renamed them). */
function dims(spec: ExportSpec): { latent: Dim[]; image: Dim[] } {
  const c = latentChannels(spec);
  if (spec.exporter === 'diffusers-script') return { latent: ['batch', 'channels', 'height', 'width'], image: ['batch', 3, 'height', 'width'] };
  if (spec.exporter === 'optimum-1.23') return { latent: ['batch_size', c, 'height_latent', 'width_latent'], image: ['batch_size', 3, 'height', 'width'] };
  return { latent: ['batch_size', c, 'latent_height', 'latent_width'], image: ['batch_size', 3, 'latent_height * 8', 'latent_width * 8'] };
}

export function buildVaeDecoderGraph(spec: ExportSpec): Uint8Array {
  const g = new OnnxGraphBuilder('vae_decoder');
  const float = floatType({ ...spec, precision: spec.vaePrecision ?? spec.precision });
  const c = latentChannels(spec);
  const shape = dims(spec);
  g.input('latent_sample', float, shape.latent);
  const latent = float === 'float32' ? 'latent_sample' : g.op('Cast', ['latent_sample'], { to: 1 });
  const weight = (name: string, wdims: number[], values: ArrayLike<number>) => g.op('Cast', [g.weights(name, wdims, values, float === 'float16' ? 'float16' : 'float32')], { to: 1 });
  const sf = spec.vaeScalingFactor;
  const shift = spec.vaeShiftFactor ?? 0;
  let rgb: string;
  if (spec.target === 'oracle') {
    const { m0, bias0 } = oracleVaeMatrix(c);
    // rgb = M·z + b with z = x0/sf + shift: M = M0·sf, b = bias0 − M·shift, so a correct pipeline gives M0·x0 + bias0.
    const m = m0.flatMap((row) => row.map((v) => v * sf));
    const b = m0.map((row, r) => bias0[r]! - row.reduce((sum, v) => sum + v * sf * shift, 0));
    // Kept in float32 even in fp16 exports: the oracle's colour must not move by half-precision rounding of its own weights.
    const mixed = g.op('Conv', [latent, g.floats('to_rgb_w', [3, c, 1, 1], m), g.floats('to_rgb_b', [3], b)]);
    rgb = g.op('Resize', [mixed, '', g.floats('up8', [4], [1, 1, 8, 8])], { mode: 'nearest' });
  } else {
    const look = spec.target;
    const noise = new SeededNoise((spec.weightSeed ?? 1) ^ 0xdec0);
    const [c1, c2] = [16, 8];
    const up = (x: string) => g.op('Resize', [x, '', g.floats(`up_${g.unique()}`, [4], [1, 1, 2, 2])], { mode: 'linear' });
    const conv = (x: string, name: string, out: number, inp: number, k: number, w: Float32Array, bias?: Float32Array) =>
      g.op('Conv', [x, weight(`${name}_w`, [out, inp, k, k], w), g.floats(`${name}_b`, [out], bias ?? new Float32Array(out))], { pads: k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0] });
    const unshifted = g.op('Sub', [latent, g.floats('shift', [], [shift])]);
    const f0 = conv(unshifted, 'post_quant', c1, c, 1, normals(noise, c1 * c, sf * look.bandFrequency * Math.sqrt(4 / c)), normals(noise, c1, 0.8));
    const f1 = g.op('Sin', [conv(up(f0), 'bands', c1, c1, 3, smoothConvWeights(noise, c1, c1, 1, 0.15))]);
    const f2 = conv(up(f1), 'mix', c2, c1, 3, smoothConvWeights(noise, c2, c1, 0.6, 0.5 / Math.sqrt(c1)));
    const toRgb = conv(up(f2), 'to_rgb', 3, c2, 3, smoothConvWeights(noise, 3, c2, 0, 1.4 / Math.sqrt(c2)), normals(noise, 3, 0.3));
    rgb = g.op('Add', [g.op('Mul', [g.op('Tanh', [toRgb]), g.floats('out_scale', [], [look.outputScale])]), g.floats('out_offset', [], [look.outputOffset])]);
  }
  g.op(float === 'float32' ? 'Identity' : 'Cast', [rgb], float === 'float32' ? {} : { to: 10 }, 'sample');
  g.output('sample', float, shape.image);
  return g.toBytes(`image-fleet ${spec.target === 'oracle' ? 'oracle' : 'toy'} VAE decoder`);
}

/** The log-variance the encoders emit: a deterministic Gaussian (σ ≈ 3e-7), as diffusers clamps it at −30. */
const ENCODER_LOGVAR = -30;

export function buildVaeEncoderGraph(spec: ExportSpec): Uint8Array {
  const g = new OnnxGraphBuilder('vae_encoder');
  const float = floatType({ ...spec, precision: spec.vaePrecision ?? spec.precision });
  const c = latentChannels(spec);
  const script = spec.exporter === 'diffusers-script';
  g.input('sample', float, script ? ['batch', 'channels', 'height', 'width'] : ['batch_size', 3, 'height', 'width']);
  const image = float === 'float32' ? 'sample' : g.op('Cast', ['sample'], { to: 1 });
  const pooled = g.op('AveragePool', [image], { kernel_shape: [8, 8], strides: [8, 8] });
  const sf = spec.vaeScalingFactor;
  const shift = spec.vaeShiftFactor ?? 0;
  let w: Float32Array;
  let b: Float32Array;
  if (spec.target === 'oracle') {
    // The pipeline scales the sample as sf·(z − shift): z = P·rgb/sf + q/sf + shift lands it on P·rgb + q.
    const { p, q } = oracleVaeEncoderMatrix(c);
    w = Float32Array.from(p.flatMap((row) => row.map((v) => v / sf)));
    b = Float32Array.from(q.map((v) => v / sf + shift));
  } else {
    const noise = new SeededNoise((spec.weightSeed ?? 1) ^ 0xe4c0);
    w = normals(noise, c * 3, 0.6 / sf);
    b = Float32Array.from({ length: c }, () => shift);
  }
  const mean = g.op('Conv', [pooled, g.floats('quant_w', [c, 3, 1, 1], w), g.floats('quant_b', [c], b)]);
  let out = mean;
  const name = script ? 'latent_sample' : 'latent_parameters';
  if (!script) out = g.op('Concat', [mean, g.op('Add', [g.op('Mul', [mean, g.floats('zero', [], [0])]), g.floats('logvar', [], [ENCODER_LOGVAR])])], { axis: 1 });
  g.op(float === 'float32' ? 'Identity' : 'Cast', [out], float === 'float32' ? {} : { to: 10 }, name);
  g.output(name, float, script ? ['batch', 'channels', 'height', 'width'] : ['batch_size', 2 * c, 'height_latent', 'width_latent']);
  return g.toBytes(`image-fleet ${spec.target === 'oracle' ? 'oracle' : 'toy'} VAE encoder`);
}
