// The TF.js layers → ONNX converter against TensorFlow.js itself (@tensorflow/tfjs, the UpscalerJS packages' peer
// dependency, pure-JS CPU backend): the same model.json and weights run in both, outputs compared element-wise.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { parseTfjsLayersModel, readTfjsLayersModel, type TfjsLayersModel, type TfjsModelJson } from '../../scripts/tfjs/tfjs-layers-model.js';
import { convertTfjsLayersModel } from '../../scripts/tfjs/tfjs-layers-to-onnx.js';
import { packageDir } from '../../scripts/tfjs/convert-upscaler-package.js';

const require = createRequire(import.meta.url);
// esrgan-thick's definition registers its custom layers (MultiplyBeta, PixelShuffle2x) with TF.js, as UpscalerJS does.
(require('@upscalerjs/esrgan-thick/2x') as { default?: { setup(t: typeof tf): void }; setup?(t: typeof tf): void }).setup?.(tf);
tf.setBackend('cpu');

type LayerSpec = { className: string; name: string; config: Record<string, unknown>; inputs: string[] };
type WeightSpec = { name: string; shape: number[] };

/** A functional model.json (Keras 2 serialisation, as the TF.js converter writes it) and one weight shard. */
function modelJson(layers: LayerSpec[], weightSpecs: WeightSpec[], output: string, seed: number) {
  let state = seed;
  const next = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const values = new Float32Array(weightSpecs.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0)).map(() => next() * 0.3);
  const json: TfjsModelJson = {
    format: 'layers-model',
    modelTopology: {
      model_config: {
        class_name: 'Functional',
        config: {
          layers: layers.map((l) => ({ class_name: l.className, name: l.name, config: { name: l.name, ...l.config }, inbound_nodes: l.inputs.length === 0 ? [] : [l.inputs.map((i) => [i, 0, 0, {}])] })),
          input_layers: [['in', 0, 0]],
          output_layers: [[output, 0, 0]],
        },
      },
    },
    weightsManifest: [{ paths: ['w.bin'], weights: weightSpecs.map((w) => ({ ...w, dtype: 'float32' })) }],
  };
  return { json, weights: new Uint8Array(values.buffer) };
}

const input: LayerSpec = { className: 'InputLayer', name: 'in', config: { batch_input_shape: [null, null, null, 3], dtype: 'float32' }, inputs: [] };
const conv = (name: string, from: string, filters: number, kernel: number, extra: Record<string, unknown> = {}): LayerSpec => ({
  className: 'Conv2D',
  name,
  config: { filters, kernel_size: [kernel, kernel], strides: [1, 1], padding: 'same', data_format: 'channels_last', dilation_rate: [1, 1], activation: 'linear', use_bias: true, ...extra },
  inputs: [from],
});
const convWeights = (name: string, cin: number, cout: number, kernel: number): WeightSpec[] => [
  { name: `${name}/kernel`, shape: [kernel, kernel, cin, cout] },
  { name: `${name}/bias`, shape: [cout] },
];

/**
 * Runs one random NHWC image in [0, maxValue] through TF.js and the converted ONNX graph (of `model`, else of
 * `json` with `weights` as its one shard).
 * @returns the largest absolute difference and the largest magnitude TF.js produced.
 */
async function compare(json: TfjsModelJson, weights: Uint8Array, height: number, width: number, maxValue: number, model?: TfjsLayersModel) {
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const reference = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs: specs as tf.io.WeightsManifestEntry[], weightData: weights.slice().buffer }));
  const converted = convertTfjsLayersModel(model ?? parseTfjsLayersModel(json, new Map([[json.weightsManifest[0]!.paths[0]!, weights]]), 'test model'));
  const x = tf.randomUniform([1, height, width, 3], 0, maxValue, 'float32', 11);
  const expected = (await (reference.predict(x) as tf.Tensor).data()) as Float32Array;
  const nhwc = (await x.data()) as Float32Array;
  const plane = height * width;
  const nchw = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) nchw[c * plane + i] = nhwc[i * 3 + c]!;
  const session = await ort.InferenceSession.create(converted.onnx);
  const result = (await session.run({ input: new ort.Tensor('float32', nchw, [1, 3, height, width]) })).output!;
  const [, channels, outHeight, outWidth] = result.dims as number[];
  const outPlane = outHeight! * outWidth!;
  const actual = result.data as Float32Array;
  let maxDiff = 0;
  let peak = 0;
  for (let i = 0; i < outPlane; i++) {
    for (let c = 0; c < channels!; c++) {
      maxDiff = Math.max(maxDiff, Math.abs(actual[c * outPlane + i]! - expected[i * channels! + c]!));
      peak = Math.max(peak, Math.abs(expected[i * channels! + c]!));
    }
  }
  await session.release();
  return { maxDiff, peak, converted, dims: result.dims };
}

describe('TF.js layers → ONNX converter, against TF.js', () => {
  it('matches a stack of every mapped layer: same-padded odd, even and dilated kernels, 1×1 valid, dense concat, add, nearest upsampling, pixel shuffle, beta scaling', async () => {
    const layers: LayerSpec[] = [
      input,
      conv('c3', 'in', 8, 3, { activation: 'relu' }),
      conv('c2', 'c3', 4, 2),
      { className: 'Activation', name: 'r2', config: { activation: 'relu' }, inputs: ['c2'] },
      { className: 'Concatenate', name: 'cat', config: { axis: 3 }, inputs: ['c3', 'r2'] },
      conv('c1', 'cat', 8, 1, { padding: 'valid' }),
      conv('cd', 'c1', 8, 3, { dilation_rate: [2, 2] }),
      { className: 'MultiplyBeta', name: 'beta', config: { beta: 0.2 }, inputs: ['cd'] },
      { className: 'Add', name: 'sum', config: {}, inputs: ['c3', 'beta'] },
      { className: 'UpSampling2D', name: 'up', config: { size: [2, 2], data_format: 'channels_last', interpolation: 'nearest' }, inputs: ['sum'] },
      conv('c5', 'up', 12, 5),
      { className: 'PixelShuffle2x', name: 'shuffle', config: { scale: 2 }, inputs: ['c5'] },
    ];
    const weights = [...convWeights('c3', 3, 8, 3), ...convWeights('c2', 8, 4, 2), ...convWeights('c1', 12, 8, 1), ...convWeights('cd', 8, 8, 3), ...convWeights('c5', 8, 12, 5)];
    const { json, weights: bytes } = modelJson(layers, weights, 'shuffle', 5);
    const { maxDiff, peak, converted, dims } = await compare(json, bytes, 9, 7, 1);
    assert.deepEqual(dims, [1, 3, 36, 28]);
    assert.equal(converted.scale, 4);
    // c3 1 + c2 1 + cd 2 (dilated) at input resolution, c5 2 at ×2: 5 input pixels.
    assert.equal(converted.receptiveFieldPx, 5);
    assert.ok(peak > 0.1, `the stack computes something (peak ${peak})`);
    assert.ok(maxDiff < 1e-5, `max |onnx - tfjs| ${maxDiff}`);
  });

  it('matches the packaged models (esrgan-slim ×2 and esrgan-medium ×4 in [0, 255], esrgan-thick ×2 in [0, 1]) within 4e-6 of their range', async () => {
    const models = [['@upscalerjs/esrgan-slim', 'models/x2/model.json', 255, 12], ['@upscalerjs/esrgan-medium', 'models/x4/model.json', 255, 12], ['@upscalerjs/esrgan-thick', 'models/x2/model.json', 1, 6]] as const;
    for (const [packageName, path, maxValue, side] of models) {
      const modelPath = `${packageDir(packageName)}/${path}`;
      const json = JSON.parse(readFileSync(modelPath, 'utf8')) as TfjsModelJson;
      const shards = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFileSync(modelPath.replace('model.json', p))));
      const { maxDiff, peak } = await compare(json, new Uint8Array(shards), side, side - 2, maxValue, await readTfjsLayersModel(modelPath));
      assert.ok(peak > maxValue / 3, `${packageName}: an image-range output (peak ${peak})`);
      assert.ok(maxDiff < 4e-6 * maxValue, `${packageName}: max |onnx - tfjs| ${maxDiff}`);
    }
  });

  it('refuses, by name, a layer class or configuration it does not map', () => {
    const cases: Array<[LayerSpec, WeightSpec[], RegExp]> = [
      [{ className: 'Dense', name: 'd', config: { units: 3 }, inputs: ['in'] }, [], /layer d \(Dense\): no converter for this layer class/],
      [{ className: 'Lambda', name: 'l', config: {}, inputs: ['in'] }, [], /layer l \(Lambda\): no converter/],
      [conv('s', 'in', 3, 3, { strides: [2, 2] }), convWeights('s', 3, 3, 3), /layer s \(Conv2D\): strides \[2,2\]/],
      [conv('v', 'in', 3, 3, { padding: 'valid' }), convWeights('v', 3, 3, 3), /layer v \(Conv2D\): padding "valid" with kernel \[3,3\]/],
      [conv('f', 'in', 3, 3, { data_format: 'channels_first' }), convWeights('f', 3, 3, 3), /layer f \(Conv2D\): data_format channels_first/],
      [conv('a', 'in', 3, 3, { activation: 'elu' }), convWeights('a', 3, 3, 3), /layer a \(Conv2D\): activation "elu"/],
      [{ className: 'UpSampling2D', name: 'b', config: { size: [2, 2], interpolation: 'bilinear' }, inputs: ['in'] }, [], /layer b \(UpSampling2D\): interpolation bilinear/],
    ];
    for (const [layer, weights, message] of cases) {
      const { json, weights: bytes } = modelJson([input, layer], weights, layer.name, 1);
      assert.throws(() => convertTfjsLayersModel(parseTfjsLayersModel(json, new Map([['w.bin', bytes]]), 'm.json')), message);
    }
  });
});
