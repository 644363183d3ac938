// A small builder over onnx-proto: nodes, float/int initializers, typed inputs/outputs, serialisation.
// Only what the model builders need; graphs target opset 17 (unless asked otherwise), IR version 8.
import onnxProto from 'onnx-proto';
import { float32ToHalf } from '../../workers/engine/half-float.js';

const { onnx } = onnxProto;

export const OPSET_VERSION = 17;
const IR_VERSION = 8;

export type ElementType = 'float32' | 'float16' | 'int32' | 'int64';
/** A dimension: a fixed size or a symbolic name (`batch`, `height`). */
export type Dim = number | string;

const DATA_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

type AttributeValue = number | string | number[] | { floats: number[] };

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
  }
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  return { name, type: T.FLOATS, floats: value.floats };
}

function valueInfo(name: string, type: ElementType, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface SerializeOptions {
  docString?: string;
  /** Written as the model's producer (exporters set `pytorch`, `onnxruntime.transformers`, …). @default 'image-fleet build-models' */
  producerName?: string;
  producerVersion?: string;
  /** Default-domain opset. @default 17 */
  opsetVersion?: number;
  /** Move large initializers to one external data file. @default inline */
  externalData?: { location: string; minBytes?: number };
}

/** Builds one graph; node outputs get unique names from `op()`. */
export class OnnxGraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;
  private readonly domains = new Set<string>();

  constructor(private readonly graphName: string) {}

  /** A fresh number for naming initializers and nodes. */
  unique(): number {
    return this.counter++;
  }

  input(name: string, type: ElementType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElementType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A float32 initializer; `name` is prefixed to keep names unique and readable. */
  floats(name: string, dims: number[], values: ArrayLike<number>): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new RangeError(`${name}: ${values.length} values for dims [${dims}]`);
    const data = Float32Array.from(values);
    this.initializers.push({
      name,
      dims,
      dataType: DATA_TYPE.float32,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** A float16 initializer from float values (rounded to nearest even). */
  halfs(name: string, dims: number[], values: ArrayLike<number>): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new RangeError(`${name}: ${values.length} values for dims [${dims}]`);
    const data = float32ToHalf(values);
    this.initializers.push({ name, dims, dataType: DATA_TYPE.float16, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** A float initializer stored as `type`. */
  weights(name: string, dims: number[], values: ArrayLike<number>, type: 'float32' | 'float16'): string {
    return type === 'float16' ? this.halfs(name, dims, values) : this.floats(name, dims, values);
  }

  int64s(name: string, values: number[]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({
      name,
      dims: [values.length],
      dataType: DATA_TYPE.int64,
      rawData: new Uint8Array(data.buffer),
    });
    return name;
  }

  /** Adds a node with one output (or `outputName` when the graph output must carry that name). */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputName?: string): string {
    return this.domainOp('', opType, inputs, attributes, outputName);
  }

  /** As `op`, for an operator of another domain (`com.microsoft` contrib ops); the domain is imported at version 1. */
  domainOp(domain: string, opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputName?: string): string {
    const output = outputName ?? `${opType.toLowerCase()}_${this.counter++}`;
    if (domain !== '') this.domains.add(domain);
    this.nodes.push({
      opType,
      ...(domain === '' ? {} : { domain }),
      name: `${opType}_${this.counter++}`,
      input: inputs,
      output: [output],
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /**
   * Re-saves serialised model bytes with every initializer of at least `minBytes` in one external data file
   * (`location`, relative to the model), as `onnx.save(save_as_external_data=True, all_tensors_to_one_file=True)` does.
   */
  static moveToExternalData(bytes: Uint8Array, location: string, minBytes = 1024): { model: Uint8Array; externalData?: Uint8Array } {
    const model = onnx.ModelProto.decode(bytes);
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const tensor of model.graph?.initializer ?? []) {
      const raw = tensor.rawData;
      if (raw === undefined || raw === null || raw.byteLength < minBytes) continue;
      chunks.push(raw);
      tensor.rawData = new Uint8Array(0);
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.byteLength) },
      ];
      offset += raw.byteLength;
    }
    if (chunks.length === 0) return { model: bytes };
    return { model: onnx.ModelProto.encode(model).finish(), externalData: Buffer.concat(chunks) };
  }

  /** Serialises to ONNX bytes; `opsetVersion` lets a test model match an exporter's opset (Real-ESRGAN's is 11). */
  toBytes(docString = '', opsetVersion = OPSET_VERSION): Uint8Array {
    return this.serialize({ docString, opsetVersion }).model;
  }

  /**
   * Serialises, optionally moving every initializer of at least `externalData.minBytes` into one external data
   * file (`location`, relative to the model), as `torch.onnx.export` / Optimum do for models over 2 GB.
   */
  serialize(options: SerializeOptions = {}): { model: Uint8Array; externalData?: Uint8Array } {
    let initializers = this.initializers;
    let externalData: Uint8Array | undefined;
    if (options.externalData !== undefined) {
      const { location, minBytes = 1024 } = options.externalData;
      const chunks: Uint8Array[] = [];
      let offset = 0;
      initializers = this.initializers.map((tensor) => {
        const raw = tensor.rawData;
        if (raw === undefined || raw === null || raw.byteLength < minBytes) return tensor;
        chunks.push(raw);
        const entry = { ...tensor, rawData: undefined, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(raw.byteLength) },
        ] };
        offset += raw.byteLength;
        return entry;
      });
      externalData = Buffer.concat(chunks);
    }
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: options.producerName ?? 'image-fleet build-models',
      ...(options.producerVersion === undefined ? {} : { producerVersion: options.producerVersion }),
      docString: options.docString ?? '',
      opsetImport: [{ domain: '', version: options.opsetVersion ?? OPSET_VERSION }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return { model: onnx.ModelProto.encode(model).finish(), ...(externalData === undefined ? {} : { externalData }) };
  }
}
