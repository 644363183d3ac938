// Small RRDBNet graphs shaped like the official Real-ESRGAN ONNX export, for tests that cannot download the real one.
//
// xinntao/Real-ESRGAN scripts/pytorch2onnx.py exports with
//   x = torch.rand(1, 3, 64, 64)
//   torch.onnx._export(model, x, args.output, opset_version=11, export_params=True)
// and no input_names/output_names/dynamic_axes: a static [1,3,64,64] float32 input that torch names `input.1`, an
// output named after its value number, opset 11. basicsr's RRDBNet (its `scale` 2 is RealESRGAN_x2plus) folds the
// input with `pixel_unshuffle` written as view/permute/reshape, so the export holds Reshape [b,c,h,2,w,2] →
// Transpose [0,1,3,5,2,4] → Reshape [b,12,h,w], then conv_first, the RRDB trunk (dense blocks with LeakyReLU 0.2,
// residuals scaled by 0.2), conv_body, two nearest ×2 Resizes each followed by a conv, conv_hr and conv_last.
// These graphs keep that signature and op sequence with a far smaller trunk, and add the nearest-upsampled input to
// the output, so that random weights still give an image-like result.
import { OnnxGraphBuilder, type Dim } from '../../scripts/onnx/onnx-graph-builder.js';

export interface RrdbNetGraphSpec {
  /** RRDBNet's `scale`: 4 (x4plus, no unshuffle) or 2 (x2plus, unshuffle by 2). */
  scale: 2 | 4;
  /** Static input side as pytorch2onnx.py exports (64); undefined for an export with dynamic height/width. */
  staticSidePx?: number;
  /** Element type of input and output (fp16 exports cast at both ends here). @default 'float32' */
  precision?: 'float32' | 'float16';
  /** Convolutions per dense block (RRDBNet: 5). @default 3 */
  denseConvs?: number;
  /** Feature channels (RRDBNet: 64). @default 8 */
  features?: number;
  /** Seed of the weights. @default 1 */
  seed?: number;
}

export const REALESRGAN_INPUT_NAME = 'input.1';
export const REALESRGAN_OUTPUT_NAME = '1895';

function weights(seed: number) {
  let state = seed >>> 0;
  return (count: number, amplitude: number) => {
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      values[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * amplitude;
    }
    return values;
  };
}

export function buildRrdbNetGraph(spec: RrdbNetGraphSpec): Uint8Array {
  const features = spec.features ?? 8;
  const grow = features / 2;
  const denseConvs = spec.denseConvs ?? 3;
  const precision = spec.precision ?? 'float32';
  const unshuffle = spec.scale === 2 ? 2 : 1;
  const random = weights(spec.seed ?? 1);
  const g = new OnnxGraphBuilder('torch_jit');
  let convs = 0;
  let constants = 0;
  const conv = (input: string, cin: number, cout: number, gain = 1) => {
    const n = convs++;
    const w = g.floats(`conv${n}.weight`, [cout, cin, 3, 3], random(cout * cin * 9, (gain * 0.5) / Math.sqrt(cin * 9)));
    const b = g.floats(`conv${n}.bias`, [cout], random(cout, 0.01));
    return g.op('Conv', [input, w, b], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1], dilations: [1, 1] });
  };
  const lrelu = (x: string) => g.op('LeakyRelu', [x], { alpha: 0.2 });
  const times = (x: string, k: number) => g.op('Mul', [x, g.floats(`mul${constants++}`, [], [k])]);
  const nearest2 = (x: string) => g.op('Resize', [x, g.floats(`roi${constants++}`, [0], []), g.floats(`scales${constants++}`, [4], [1, 1, 2, 2])], {
    mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor',
  });

  const side: Dim[] = spec.staticSidePx === undefined ? ['height', 'width'] : [spec.staticSidePx, spec.staticSidePx];
  const declared = g.input(REALESRGAN_INPUT_NAME, precision, [spec.staticSidePx === undefined ? 'batch' : 1, 3, ...side]);
  const image = precision === 'float16' ? g.op('Cast', [declared], { to: 1 }) : declared;

  let x = image;
  if (unshuffle > 1) {
    let shape6: string;
    let shape4: string;
    if (spec.staticSidePx !== undefined) {
      const s = spec.staticSidePx / unshuffle;
      shape6 = g.int64s('shape6', [1, 3, s, unshuffle, s, unshuffle]);
      shape4 = g.int64s('shape4', [1, 3 * unshuffle * unshuffle, s, s]);
    } else {
      // A dynamic export computes the view's shape from the input's at run time, as torch's tracer writes it.
      const shape = g.op('Shape', [image]);
      const dim = (i: number) => g.op('Gather', [shape, g.int64s(`index${i}`, [i])], { axis: 0 });
      const factor = g.int64s('factor', [unshuffle]);
      const [n, h, w] = [dim(0), g.op('Div', [dim(2), factor]), g.op('Div', [dim(3), factor])];
      shape6 = g.op('Concat', [n, g.int64s('channels', [3]), h, factor, w, factor], { axis: 0 });
      shape4 = g.op('Concat', [n, g.int64s('folded', [3 * unshuffle * unshuffle]), h, w], { axis: 0 });
    }
    const folded = g.op('Transpose', [g.op('Reshape', [image, shape6])], { perm: [0, 1, 3, 5, 2, 4] });
    x = g.op('Reshape', [folded, shape4]);
  }
  const first = conv(x, 3 * unshuffle * unshuffle, features);
  // One RRDB of one dense block: the trunk's structure, not its depth.
  const dense: string[] = [first];
  for (let i = 0; i < denseConvs - 1; i++) {
    dense.push(lrelu(conv(dense.length === 1 ? first : g.op('Concat', [...dense], { axis: 1 }), features + i * grow, grow)));
  }
  const blockOut = conv(g.op('Concat', [...dense], { axis: 1 }), features + (denseConvs - 1) * grow, features);
  const rdb = g.op('Add', [times(blockOut, 0.2), first]);
  const rrdb = g.op('Add', [times(rdb, 0.2), first]);
  let feat = g.op('Add', [first, conv(rrdb, features, features)]);
  feat = lrelu(conv(nearest2(feat), features, features));
  feat = lrelu(conv(nearest2(feat), features, features));
  const residual = conv(lrelu(conv(feat, features, features)), features, 3, 0.2);
  const outputScale = 4 / unshuffle;
  const skip = g.op('Resize', [image, g.floats('roi_skip', [0], []), g.floats('scales_skip', [4], [1, 1, outputScale, outputScale])], {
    mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor',
  });
  const out = g.op('Add', [skip, residual]);
  g.op(precision === 'float16' ? 'Cast' : 'Identity', [out], precision === 'float16' ? { to: 10 } : {}, REALESRGAN_OUTPUT_NAME);
  const outSide: Dim[] = spec.staticSidePx === undefined ? ['Resizeoutput_dim_2', 'Resizeoutput_dim_3'] : [spec.staticSidePx * outputScale, spec.staticSidePx * outputScale];
  g.output(REALESRGAN_OUTPUT_NAME, precision, [spec.staticSidePx === undefined ? 'batch' : 1, 3, ...outSide]);
  return g.toBytes('RRDBNet-shaped test graph (Real-ESRGAN pytorch2onnx.py signature)', 11);
}
