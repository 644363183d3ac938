// A small builder over onnx-proto: nodes, float/int initializers, typed inputs/outputs, serialisation.
// Only what the model builders need; graphs target opset 17 (unless asked otherwise), IR version 8.
import onnxProto from 'onnx-proto';

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

/** Builds one graph; node outputs get unique names from `op()`. */
export class OnnxGraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly graphName: string) {}

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
    const output = outputName ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({
      opType,
      name: `${opType}_${this.counter++}`,
      input: inputs,
      output: [output],
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** Serialises to ONNX bytes; `opsetVersion` lets a test model match an exporter's opset (Real-ESRGAN's is 11). */
  toBytes(docString = '', opsetVersion = OPSET_VERSION): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'image-fleet build-models',
      docString,
      opsetImport: [{ domain: '', version: opsetVersion }],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
