// Reads a TensorFlow.js layers model (the `tfjs_layers_model` format: model.json plus binary weight shards).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** One Keras layer as model.json describes it. */
export interface KerasLayer {
  className: string;
  name: string;
  config: Record<string, unknown>;
  /** Names of the layers whose outputs feed this one (in call order). */
  inputs: string[];
}

/** A functional Keras model with its weights, keyed `layer/kernel`, `layer/bias`. */
export interface TfjsLayersModel {
  /** Where it was read from (named in errors). */
  source: string;
  layers: KerasLayer[];
  inputLayers: string[];
  outputLayers: string[];
  weights: Map<string, { shape: number[]; values: Float32Array }>;
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}

interface ModelJson {
  format?: string;
  modelTopology: { model_config?: KerasModelConfig } & Partial<KerasModelConfig>;
  weightsManifest: Array<{ paths: string[]; weights: WeightSpec[] }>;
}

interface KerasModelConfig {
  class_name: string;
  config: {
    layers: Array<{ class_name: string; name?: string; config: Record<string, unknown>; inbound_nodes?: unknown[] }>;
    input_layers: Array<[string, number, number]>;
    output_layers: Array<[string, number, number]>;
  };
}

/** Inbound node entries are `[layerName, nodeIndex, tensorIndex, kwargs]` (Keras 2 serialisation). */
function inboundNames(layerName: string, inbound: unknown[] | undefined, source: string): string[] {
  if (inbound === undefined || inbound.length === 0) return [];
  if (inbound.length > 1) throw new Error(`${source}: layer ${layerName} is called ${inbound.length} times; shared layers are not supported`);
  const node = inbound[0];
  if (!Array.isArray(node)) throw new Error(`${source}: layer ${layerName} has an inbound node in a format this reader does not know`);
  return node.map((entry: unknown) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || entry[2] !== 0) {
      throw new Error(`${source}: layer ${layerName} reads ${JSON.stringify(entry)}; only single-output layers are supported`);
    }
    return entry[0];
  });
}

/** Parses model.json given the bytes of each shard it lists, keyed by the path as listed. */
export function parseTfjsLayersModel(json: ModelJson, shards: ReadonlyMap<string, Uint8Array>, source: string): TfjsLayersModel {
  const topology = json.modelTopology.model_config ?? (json.modelTopology as KerasModelConfig);
  if (topology.class_name !== 'Functional' && topology.class_name !== 'Model') {
    throw new Error(`${source}: ${topology.class_name} models are not supported (only functional Keras models)`);
  }
  const layers = topology.config.layers.map((layer) => {
    const name = layer.name ?? String(layer.config.name);
    return { className: layer.class_name, name, config: layer.config, inputs: inboundNames(name, layer.inbound_nodes, source) };
  });
  const weights = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const group of json.weightsManifest) {
    const parts = group.paths.map((path) => {
      const bytes = shards.get(path);
      if (bytes === undefined) throw new Error(`${source}: weight shard ${path} is missing`);
      return bytes;
    });
    const data = Buffer.concat(parts);
    let offset = 0;
    for (const spec of group.weights) {
      if (spec.dtype !== 'float32' || spec.quantization !== undefined) {
        throw new Error(`${source}: weight ${spec.name} is ${spec.dtype}${spec.quantization === undefined ? '' : ' quantized'}; only plain float32 weights are supported`);
      }
      const count = spec.shape.reduce((a, b) => a * b, 1);
      if (offset + count * 4 > data.byteLength) throw new Error(`${source}: weight shards end before ${spec.name}`);
      // Copy: shard bytes need not be 4-byte aligned inside the concatenated buffer.
      const values = new Float32Array(data.buffer.slice(data.byteOffset + offset, data.byteOffset + offset + count * 4));
      weights.set(spec.name, { shape: spec.shape, values });
      offset += count * 4;
    }
  }
  return {
    source,
    layers,
    inputLayers: topology.config.input_layers.map((entry) => entry[0]),
    outputLayers: topology.config.output_layers.map((entry) => entry[0]),
    weights,
  };
}

/** Reads `model.json` and the shards its weights manifest lists (paths relative to the file). */
export async function readTfjsLayersModel(modelJsonPath: string): Promise<TfjsLayersModel> {
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as ModelJson;
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw new Error(`${modelJsonPath}: format ${json.format} is not a TF.js layers model`);
  }
  const shards = new Map<string, Uint8Array>();
  for (const path of json.weightsManifest.flatMap((group) => group.paths)) {
    shards.set(path, await readFile(join(dirname(modelJsonPath), path)));
  }
  return parseTfjsLayersModel(json, shards, modelJsonPath);
}

export type { ModelJson as TfjsModelJson };
