import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Per tensor on the image path: how far (in model-input pixels) an input pixel reaches, and the tensor's grid step. */
interface Reach {
  radiusPx: number;
  /** Input pixels per pixel of this tensor: 2 after a pixel-unshuffle by 2, 0.5 after a ×2 upsampling. */
  inputPxPerPixel: number;
  /** Set between the 6-D Reshape and the Reshape back of a pixel-unshuffle written as Reshape/Transpose/Reshape. */
  unshuffleFactor?: number;
}

// Ops that mix nothing across pixels (or only shapes): the reach passes through unchanged.
const POINTWISE = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Clip', 'Elu', 'Selu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Erf', 'Gelu',
  'Add', 'Sub', 'Mul', 'Div', 'Sum', 'Max', 'Min', 'Pow', 'Sqrt', 'Exp', 'Neg', 'Abs', 'Round', 'Floor', 'Ceil',
  'Concat', 'Identity', 'Cast', 'Dropout', 'BatchNormalization', 'Transpose', 'Squeeze', 'Unsqueeze',
  'Shape', 'Gather', 'Slice', 'Constant', 'ConstantOfShape', 'Equal', 'Where', 'Expand',
]);

type Node = onnxProto.onnx.INodeProto;
type Tensor = onnxProto.onnx.ITensorProto;

function ints(node: Node, name: string): number[] | undefined {
  const attribute = node.attribute?.find((a) => a.name === name);
  if (attribute === undefined) return undefined;
  if (attribute.ints && attribute.ints.length > 0) return attribute.ints.map(Number);
  return attribute.i === undefined || attribute.i === null ? undefined : [Number(attribute.i)];
}

function numbers(tensor: Tensor | undefined): number[] | undefined {
  if (tensor === undefined) return undefined;
  if (tensor.floatData && tensor.floatData.length > 0) return tensor.floatData;
  if (tensor.int64Data && tensor.int64Data.length > 0) return tensor.int64Data.map(Number);
  const raw = tensor.rawData;
  if (raw === undefined || raw === null || raw.length === 0) return undefined;
  const bytes = new Uint8Array(raw); // a copy: protobuf hands out unaligned views into the file
  if (tensor.dataType === onnx.TensorProto.DataType.FLOAT) return [...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)];
  if (tensor.dataType === onnx.TensorProto.DataType.INT64) return [...new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8)].map(Number);
  return undefined;
}

/** What the graph of an image-to-image model shows about tiling it. */
export interface OnnxTilingFacts {
  /** Receptive field radius in input pixels; undefined when the graph does not bound it (see below). */
  receptiveFieldPx: number | undefined;
  /** Input sides must be a multiple of this: the largest downsampling (pixel-unshuffle, stride) on the image path. */
  sizeMultiple: number;
}

/**
 * The receptive field radius of a single-input image model, in input pixels, read from its ONNX graph: along the
 * deepest path, every convolution adds half its (dilated) kernel at the resolution it runs at. It is an upper bound,
 * which is what exact tiling needs. Recognises pixel-unshuffle (SpaceToDepth, or Reshape/Transpose/Reshape with a
 * constant 6-D shape) and upsampling (Resize with constant scales, DepthToSpace).
 * `receptiveFieldPx` is undefined when an op on the image path could mix pixels further than that (attention, global pooling,
 *   instance norm, a Reshape it cannot read): then no finite overlap makes tiles exact.
 */
export function tilingFactsOfOnnx(bytes: Uint8Array): OnnxTilingFacts {
  let sizeMultiple = 1;
  const receptiveFieldPx = walk(bytes, (reach) => {
    sizeMultiple = Math.max(sizeMultiple, Math.round(reach.inputPxPerPixel));
  });
  return { receptiveFieldPx, sizeMultiple };
}

function walk(bytes: Uint8Array, visit: (reach: Reach) => void): number | undefined {
  const graph = onnx.ModelProto.decode(bytes).graph;
  if (!graph) return undefined;
  const constants = new Map<string, Tensor>();
  for (const tensor of graph.initializer ?? []) constants.set(tensor.name ?? '', tensor);
  const initializerNames = new Set(constants.keys());
  const imageInputs = (graph.input ?? []).filter((i) => !initializerNames.has(i.name ?? ''));
  if (imageInputs.length !== 1 || (graph.output ?? []).length !== 1) return undefined;
  const reach = new Map<string, Reach>([[imageInputs[0]!.name ?? '', { radiusPx: 0, inputPxPerPixel: 1 }]]);

  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    if (op === 'Constant') {
      const value = node.attribute?.find((a) => a.name === 'value')?.t;
      if (value) constants.set(node.output?.[0] ?? '', value);
      continue;
    }
    const fromImage = (node.input ?? []).map((name) => reach.get(name)).filter((r): r is Reach => r !== undefined);
    if (fromImage.length === 0) continue;
    const first = reach.get(node.input?.[0] ?? '');
    const widest = fromImage.reduce((a, b) => (b.radiusPx > a.radiusPx ? b : a));
    let next: Reach;
    if (op === 'Conv' || op === 'MaxPool' || op === 'AveragePool' || op === 'ConvTranspose') {
      if (first === undefined) return undefined;
      const kernel = ints(node, 'kernel_shape') ?? constants.get(node.input?.[1] ?? '')?.dims?.slice(2).map(Number);
      if (kernel === undefined) return undefined;
      const dilations = ints(node, 'dilations') ?? kernel.map(() => 1);
      const strides = ints(node, 'strides') ?? kernel.map(() => 1);
      const halfKernel = Math.max(...kernel.map((k, i) => Math.ceil(((k - 1) * dilations[i]!) / 2)));
      const stride = Math.max(...strides);
      next = {
        radiusPx: first.radiusPx + halfKernel * first.inputPxPerPixel,
        inputPxPerPixel: op === 'ConvTranspose' ? first.inputPxPerPixel / stride : first.inputPxPerPixel * stride,
      };
    } else if (op === 'SpaceToDepth' || op === 'DepthToSpace') {
      if (first === undefined) return undefined;
      const block = ints(node, 'blocksize')?.[0] ?? 1;
      next = op === 'SpaceToDepth'
        ? { radiusPx: first.radiusPx + (block - 1) * first.inputPxPerPixel, inputPxPerPixel: first.inputPxPerPixel * block }
        : { radiusPx: first.radiusPx, inputPxPerPixel: first.inputPxPerPixel / block };
    } else if (op === 'Resize' || op === 'Upsample') {
      if (first === undefined) return undefined;
      const scales = numbers(constants.get(node.input?.[op === 'Resize' ? 2 : 1] ?? ''));
      const factor = scales !== undefined && scales.length === 4 ? Math.min(scales[2]!, scales[3]!) : 1;
      const mode = node.attribute?.find((a) => a.name === 'mode')?.s;
      const modeName = mode ? new TextDecoder().decode(mode) : 'nearest';
      // Interpolation reads neighbours on the source grid: 1 for linear, 2 for cubic.
      const taps = modeName === 'cubic' ? 2 : modeName === 'linear' ? 1 : 0;
      // A factor not known up front (sizes computed from Shape) is taken as 1: that can only overstate the reach.
      next = { radiusPx: first.radiusPx + taps * first.inputPxPerPixel, inputPxPerPixel: first.inputPxPerPixel / Math.max(1, factor) };
    } else if (op === 'Reshape') {
      if (first === undefined) return undefined;
      const shape = numbers(constants.get(node.input?.[1] ?? ''));
      if (shape?.length === 6 && shape[3] === shape[5] && first.unshuffleFactor === undefined) {
        next = { ...first, unshuffleFactor: shape[3]! };
      } else if (shape?.length === 4 && first.unshuffleFactor !== undefined) {
        const f = first.unshuffleFactor;
        next = { radiusPx: first.radiusPx + (f - 1) * first.inputPxPerPixel, inputPxPerPixel: first.inputPxPerPixel * f };
      } else {
        return undefined;
      }
    } else if (POINTWISE.has(op)) {
      next = { ...widest, ...(first?.unshuffleFactor === undefined ? {} : { unshuffleFactor: first.unshuffleFactor }) };
    } else {
      return undefined;
    }
    visit(next);
    for (const output of node.output ?? []) reach.set(output, next);
  }
  return reach.get(graph.output![0]!.name ?? '')?.radiusPx;
}
