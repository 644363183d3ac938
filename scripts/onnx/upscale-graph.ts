// A toy Real-ESRGAN-shaped super-resolution graph: `input` [N,3,H,W] in [0,1] -> `output` [N,3,sH,sW] in [0,1].
// Bilinear upsampling, then a two-conv unsharp mask learned-free: conv 1 takes a high-pass of each channel with both
// signs (ReLU keeps either half), conv 2 folds them back, so output = up + strength·highpass(up), clipped.
// Its receptive field is 2 output pixels, so tiles overlapping by >= 4 input pixels reassemble exactly.
import { OnnxGraphBuilder } from './onnx-graph-builder.js';

export interface UpscaleGraphSpec {
  scale: 2 | 4;
  sharpenStrength: number;
}

export function buildUpscaler(spec: UpscaleGraphSpec): Uint8Array {
  const g = new OnnxGraphBuilder('upscaler');
  const input = g.input('input', 'float32', ['batch', 3, 'height', 'width']);
  const up = g.op('Resize', [input, '', g.floats('scales', [4], [1, 1, spec.scale, spec.scale])], { mode: 'linear' });

  const blur = [1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16);
  const highPass = blur.map((v, k) => (k === 4 ? 1 : 0) - v);
  const w1 = new Float32Array(6 * 3 * 9);
  for (let o = 0; o < 6; o++) {
    const channel = o % 3;
    const sign = o < 3 ? 1 : -1;
    for (let k = 0; k < 9; k++) w1[(o * 3 + channel) * 9 + k] = sign * highPass[k]!;
  }
  const halves = g.op('Relu', [g.op('Conv', [up, g.floats('highpass_w', [6, 3, 3, 3], w1), g.floats('highpass_b', [6], new Float32Array(6))], { pads: [1, 1, 1, 1] })]);

  const w2 = new Float32Array(3 * 6 * 9);
  for (let o = 0; o < 3; o++) {
    for (let k = 0; k < 9; k++) {
      const weight = (k === 4 ? 0.6 : 0.05) * spec.sharpenStrength;
      w2[(o * 6 + o) * 9 + k] = weight;
      w2[(o * 6 + o + 3) * 9 + k] = -weight;
    }
  }
  const detail = g.op('Conv', [halves, g.floats('fold_w', [3, 6, 3, 3], w2), g.floats('fold_b', [3], new Float32Array(3))], { pads: [1, 1, 1, 1] });
  g.op('Clip', [g.op('Add', [up, detail]), g.floats('lo', [], [0]), g.floats('hi', [], [1])], {}, 'output');
  g.output('output', 'float32', ['batch', 3, 'out_height', 'out_width']);
  return g.toBytes(`image-fleet toy x${spec.scale} upscaler`);
}
