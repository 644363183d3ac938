// Converts a TF.js layers image-to-image model (NHWC, Keras layers) into an ONNX graph in NCHW, layer by layer.
// Every layer is mapped by its class name; a class (or a configuration of one) not listed here is refused with its
// name, so a package update that brings a new layer fails the build instead of converting into something else.
import { OnnxGraphBuilder, type Dim } from '../onnx/onnx-graph-builder.js';
import type { KerasLayer, TfjsLayersModel } from './tfjs-layers-model.js';

/** What the converter knows about one tensor while it walks the graph. */
interface TensorState {
  /** ONNX value name. */
  name: string;
  channels: number;
  /** Spatial size relative to the model input (2 after a ×2 upsampling). */
  scale: number;
  /** Receptive field radius in model-input pixels: how far an input pixel can influence this tensor. */
  radiusPx: number;
}

export interface ConvertedUpscaler {
  onnx: Uint8Array;
  /** Output side / input side. */
  scale: number;
  /**
   * Radius in input pixels of the graph's receptive field (every convolution's reach summed along the deepest path,
   * in the resolution it runs at): tiles whose kept part lies this far from their edges reassemble exactly.
   */
  receptiveFieldPx: number;
  /** Layers converted, by class name. */
  layerCounts: Record<string, number>;
}

export interface ConvertOptions {
  /** ONNX input name. @default 'input' */
  inputName?: string;
  /** ONNX output name. @default 'output' */
  outputName?: string;
  /** Written into the model's doc string. @default '' */
  docString?: string;
}

const CONVERT_DEFAULTS = { inputName: 'input', outputName: 'output', docString: '' } satisfies Required<ConvertOptions>;

type LayerConverter = (layer: KerasLayer, inputs: TensorState[], g: OnnxGraphBuilder, model: TfjsLayersModel) => TensorState;

function refuse(model: TfjsLayersModel, layer: KerasLayer, what: string): never {
  throw new Error(`${model.source}: layer ${layer.name} (${layer.className}): ${what}`);
}

function single(model: TfjsLayersModel, layer: KerasLayer, inputs: TensorState[]): TensorState {
  if (inputs.length !== 1) refuse(model, layer, `expected one input, got ${inputs.length}`);
  return inputs[0]!;
}

function pair(config: Record<string, unknown>, key: string): [number, number] {
  const value = config[key];
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => Number.isInteger(v))) return [value[0] as number, value[1] as number];
  throw new Error(`${key} is ${JSON.stringify(value)}, expected two integers`);
}

function requireChannelsLast(model: TfjsLayersModel, layer: KerasLayer): void {
  const format = layer.config.data_format;
  if (format !== undefined && format !== 'channels_last') refuse(model, layer, `data_format ${String(format)} is not supported (channels_last only)`);
}

/** Applies a Keras `activation` name to a tensor; only names checked against TF.js are accepted. */
function activation(model: TfjsLayersModel, layer: KerasLayer, input: string, name: unknown, g: OnnxGraphBuilder): string {
  switch (name) {
    case undefined:
    case null:
    case 'linear':
      return input;
    case 'relu':
      return g.op('Relu', [input]);
    case 'sigmoid':
      return g.op('Sigmoid', [input]);
    case 'tanh':
      return g.op('Tanh', [input]);
    default:
      return refuse(model, layer, `activation ${JSON.stringify(name)} is not supported (linear, relu, sigmoid, tanh)`);
  }
}

function weight(model: TfjsLayersModel, layer: KerasLayer, suffix: string): { shape: number[]; values: Float32Array } {
  const found = model.weights.get(`${layer.name}/${suffix}`);
  if (found === undefined) refuse(model, layer, `weight ${layer.name}/${suffix} is not in the weights manifest`);
  return found;
}

/** Keras kernel [kh, kw, in, out] (HWIO) to ONNX [out, in, kh, kw] (OIHW). */
export function hwioToOihw(values: Float32Array, [kh, kw, cin, cout]: number[]): Float32Array {
  const out = new Float32Array(values.length);
  for (let y = 0; y < kh!; y++) {
    for (let x = 0; x < kw!; x++) {
      for (let i = 0; i < cin!; i++) {
        const from = ((y * kw! + x) * cin! + i) * cout!;
        for (let o = 0; o < cout!; o++) out[((o * cin! + i) * kh! + y) * kw! + x] = values[from + o]!;
      }
    }
  }
  return out;
}

const conv2d: LayerConverter = (layer, inputs, g, model) => {
  const input = single(model, layer, inputs);
  const c = layer.config;
  requireChannelsLast(model, layer);
  const [kh, kw] = pair(c, 'kernel_size');
  const [sh, sw] = pair(c, 'strides');
  const [dh, dw] = pair(c, 'dilation_rate');
  const groups = (c.groups as number | undefined) ?? 1;
  if (sh !== 1 || sw !== 1) refuse(model, layer, `strides [${sh},${sw}] are not supported (1 only: an upscaler keeps its resolution)`);
  if (groups !== 1) refuse(model, layer, `groups ${groups} is not supported`);
  // Keras 'same' (stride 1) pads (k-1)·d in total, the odd pixel at the bottom/right; 'valid' pads nothing and so
  // shrinks the image, which only a 1×1 kernel may do here (the output must stay `scale` times the input).
  const totalH = (kh - 1) * dh;
  const totalW = (kw - 1) * dw;
  let pads: number[];
  if (c.padding === 'same') pads = [Math.floor(totalH / 2), Math.floor(totalW / 2), totalH - Math.floor(totalH / 2), totalW - Math.floor(totalW / 2)];
  else if (c.padding === 'valid' && totalH === 0 && totalW === 0) pads = [0, 0, 0, 0];
  else return refuse(model, layer, `padding ${JSON.stringify(c.padding)} with kernel [${kh},${kw}] is not supported (same, or valid for 1×1)`);
  const kernel = weight(model, layer, 'kernel');
  const [, , cin, cout] = kernel.shape as [number, number, number, number];
  if (kernel.shape[0] !== kh || kernel.shape[1] !== kw || cin !== input.channels || cout !== c.filters) {
    refuse(model, layer, `kernel shape [${kernel.shape}] does not fit kernel_size [${kh},${kw}], ${input.channels} input channels and ${String(c.filters)} filters`);
  }
  const operands = [input.name, g.floats(`${layer.name}.weight`, [cout, cin, kh, kw], hwioToOihw(kernel.values, kernel.shape))];
  if (c.use_bias !== false) operands.push(g.floats(`${layer.name}.bias`, [cout], weight(model, layer, 'bias').values));
  const conv = g.op('Conv', operands, { kernel_shape: [kh, kw], pads, dilations: [dh, dw], strides: [1, 1] });
  const reach = Math.max(Math.ceil(totalH / 2), Math.ceil(totalW / 2)) / input.scale;
  return { name: activation(model, layer, conv, c.activation, g), channels: cout, scale: input.scale, radiusPx: input.radiusPx + reach };
};

const activationLayer: LayerConverter = (layer, inputs, g, model) => {
  const input = single(model, layer, inputs);
  return { ...input, name: activation(model, layer, input.name, layer.config.activation, g) };
};

const reluLayer: LayerConverter = (layer, inputs, g, model) => {
  const input = single(model, layer, inputs);
  const { max_value: maxValue, negative_slope: slope, threshold } = layer.config;
  if ((slope !== undefined && slope !== 0) || (threshold !== undefined && threshold !== 0)) {
    refuse(model, layer, 'negative_slope and threshold other than 0 are not supported');
  }
  const relu = g.op('Relu', [input.name]);
  if (maxValue === undefined || maxValue === null) return { ...input, name: relu };
  return { ...input, name: g.op('Clip', [relu, g.floats(`${layer.name}.min`, [], [0]), g.floats(`${layer.name}.max`, [], [maxValue as number])]) };
};

function sameGrid(model: TfjsLayersModel, layer: KerasLayer, inputs: TensorState[]): void {
  if (inputs.length < 2) refuse(model, layer, `expected at least two inputs, got ${inputs.length}`);
  if (inputs.some((t) => t.scale !== inputs[0]!.scale)) refuse(model, layer, 'inputs at different resolutions');
}

const concatenate: LayerConverter = (layer, inputs, g, model) => {
  sameGrid(model, layer, inputs);
  const axis = layer.config.axis ?? -1;
  if (axis !== -1 && axis !== 3) refuse(model, layer, `axis ${String(axis)} is not supported (channels: -1 or 3)`);
  return {
    name: g.op('Concat', inputs.map((t) => t.name), { axis: 1 }),
    channels: inputs.reduce((sum, t) => sum + t.channels, 0),
    scale: inputs[0]!.scale,
    radiusPx: Math.max(...inputs.map((t) => t.radiusPx)),
  };
};

const add: LayerConverter = (layer, inputs, g, model) => {
  sameGrid(model, layer, inputs);
  if (inputs.some((t) => t.channels !== inputs[0]!.channels)) refuse(model, layer, 'inputs with different channel counts');
  return { ...inputs[0]!, name: g.op('Sum', inputs.map((t) => t.name)), radiusPx: Math.max(...inputs.map((t) => t.radiusPx)) };
};

const upSampling2d: LayerConverter = (layer, inputs, g, model) => {
  const input = single(model, layer, inputs);
  requireChannelsLast(model, layer);
  const [fh, fw] = pair(layer.config, 'size');
  if (fh !== fw) refuse(model, layer, `size [${fh},${fw}] is not supported (square only)`);
  if ((layer.config.interpolation ?? 'nearest') !== 'nearest') refuse(model, layer, `interpolation ${String(layer.config.interpolation)} is not supported (nearest only)`);
  // Keras nearest upsampling repeats each pixel: source index floor(x / f), i.e. ONNX asymmetric + floor.
  const scales = g.floats(`${layer.name}.scales`, [4], [1, 1, fh, fw]);
  const name = g.op('Resize', [input.name, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  return { ...input, name, scale: input.scale * fh };
};

/** UpscalerJS's custom `PixelShuffle{N}x` layer: `tf.depthToSpace(x, N, 'NHWC')`, which is ONNX's DCR order. */
function pixelShuffle(blockSize: number): LayerConverter {
  return (layer, inputs, g, model) => {
    const input = single(model, layer, inputs);
    if (input.channels % (blockSize * blockSize) !== 0) refuse(model, layer, `${input.channels} channels do not split into ${blockSize}×${blockSize} blocks`);
    const name = g.op('DepthToSpace', [input.name], { blocksize: blockSize, mode: 'DCR' });
    return { name, channels: input.channels / (blockSize * blockSize), scale: input.scale * blockSize, radiusPx: input.radiusPx };
  };
}

/** UpscalerJS's custom `MultiplyBeta` layer (residual scaling in RRDN): `x · beta`, beta 0.2 unless configured. */
const multiplyBeta: LayerConverter = (layer, inputs, g, model) => {
  const input = single(model, layer, inputs);
  const beta = (layer.config.beta as number | undefined) ?? 0.2;
  return { ...input, name: g.op('Mul', [input.name, g.floats(`${layer.name}.beta`, [], [beta])]) };
};

const CONVERTERS: Record<string, LayerConverter> = {
  Conv2D: conv2d,
  Activation: activationLayer,
  ReLU: reluLayer,
  Concatenate: concatenate,
  Add: add,
  UpSampling2D: upSampling2d,
  MultiplyBeta: multiplyBeta,
  PixelShuffle2x: pixelShuffle(2),
  PixelShuffle3x: pixelShuffle(3),
  PixelShuffle4x: pixelShuffle(4),
  PixelShuffle8x: pixelShuffle(8),
};

/** Class names the converter maps (InputLayer aside). */
export const SUPPORTED_LAYER_CLASSES = Object.keys(CONVERTERS);

/**
 * Converts an image-to-image layers model with one NHWC input and one output to ONNX: input `[N,C,H,W]`, output
 * `[N,C',sH,sW]`, in whatever value range the model was trained on (the converter changes no numbers).
 * @throws Error naming the layer for any class or configuration it does not map.
 */
export function convertTfjsLayersModel(model: TfjsLayersModel, options: ConvertOptions = {}): ConvertedUpscaler {
  const { inputName, outputName, docString } = { ...CONVERT_DEFAULTS, ...options };
  if (model.inputLayers.length !== 1 || model.outputLayers.length !== 1) {
    throw new Error(`${model.source}: expected one input and one output layer, found [${model.inputLayers}] -> [${model.outputLayers}]`);
  }
  const g = new OnnxGraphBuilder(model.source.replace(/^.*node_modules\//, ''));
  const tensors = new Map<string, TensorState>();
  const layerCounts: Record<string, number> = {};
  for (const layer of model.layers) {
    layerCounts[layer.className] = (layerCounts[layer.className] ?? 0) + 1;
    if (layer.className === 'InputLayer') {
      const shape = layer.config.batch_input_shape as Array<number | null>;
      if (!Array.isArray(shape) || shape.length !== 4 || typeof shape[3] !== 'number') {
        refuse(model, layer, `batch_input_shape ${JSON.stringify(shape)} is not [N,H,W,C] with a known C`);
      }
      const [n, h, w, c] = shape;
      const dims: Dim[] = [n ?? 'batch', c!, h ?? 'height', w ?? 'width'];
      tensors.set(layer.name, { name: g.input(inputName, 'float32', dims), channels: c!, scale: 1, radiusPx: 0 });
      continue;
    }
    const convert = CONVERTERS[layer.className];
    if (convert === undefined) {
      refuse(model, layer, `no converter for this layer class (known: InputLayer, ${SUPPORTED_LAYER_CLASSES.join(', ')})`);
    }
    const inputs = layer.inputs.map((name) => {
      const found = tensors.get(name);
      if (found === undefined) refuse(model, layer, `reads ${name}, which is not defined before it`);
      return found;
    });
    tensors.set(layer.name, convert(layer, inputs, g, model));
  }
  const last = tensors.get(model.outputLayers[0]!);
  if (last === undefined) throw new Error(`${model.source}: output layer ${model.outputLayers[0]} was never computed`);
  g.op('Identity', [last.name], {}, outputName);
  g.output(outputName, 'float32', ['batch', last.channels, 'out_height', 'out_width']);
  return { onnx: g.toBytes(docString), scale: last.scale, receptiveFieldPx: last.radiusPx, layerCounts };
}
