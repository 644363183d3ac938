// Weight generators and graph idioms shared by the export-shaped builders.
import type { SeededNoise } from '../../../workers/pipelines/seeded-noise.js';
import type { OnnxGraphBuilder } from '../onnx-graph-builder.js';

export const BASIS_SIZE = 16;
export const BASIS_COUNT = 9;

export function normals(noise: SeededNoise, count: number, scale: number): Float32Array {
  return noise.fillNormal(new Float32Array(count), scale);
}

/** 3×3 conv weights [out,in,3,3]: a blurred identity on matching channels plus random mixing of `mixing` std. */
export function smoothConvWeights(noise: SeededNoise, out: number, inp: number, identity: number, mixing: number): Float32Array {
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

/** Smooth 16×16 patterns: a constant (colour bias) and eight low-frequency waves at assorted angles. */
export function basisPatterns(noise: SeededNoise): Float32Array {
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

/**
 * x·W (x [..., inDim], W [inDim, outDim] row-major) as a 1×1 Conv over [N, inDim, 1, 1]. MatMul and
 * ReduceSum pick other kernels when the batch is 1 (GEMV, collapsed reductions), which changes the
 * summation order and so the last bits; Conv runs the same per-image computation whatever the batch,
 * so an image never depends on its batch-mates (the same prompt and seed give the same bytes).
 * Returns [N, outDim] where N is the product of x's leading dimensions.
 */
export function batchInvariantMatMul(g: OnnxGraphBuilder, x: string, name: string, inDim: number, outDim: number, weights: Float32Array): string {
  const transposed = new Float32Array(inDim * outDim);
  for (let i = 0; i < inDim; i++) for (let j = 0; j < outDim; j++) transposed[j * inDim + i] = weights[i * outDim + j]!;
  const column = g.op('Reshape', [x, g.int64s(`${name}_in_shape`, [-1, inDim, 1, 1])]);
  const y = g.op('Conv', [column, g.floats(`${name}_w`, [outDim, inDim, 1, 1], transposed), g.floats(`${name}_b`, [outDim], new Float32Array(outDim))]);
  return g.op('Reshape', [y, g.int64s(`${name}_out_shape`, [-1, outDim])]);
}
