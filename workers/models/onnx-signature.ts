import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FleetError } from '../../contract/index.js';

/** One graph input or output as the file declares it. */
export interface DeclaredTensor {
  name: string;
  /** onnxruntime's name for the element type (`float32`, `float16`, `int64`, …). */
  type: string;
  /** Fixed sizes as numbers, symbolic ones (`batch_size`) as strings; `?` for a dim with neither. */
  dims: Array<number | string>;
}

/** What an ONNX file says about itself, read without loading its weights. */
export interface OnnxSignature {
  inputs: DeclaredTensor[];
  outputs: DeclaredTensor[];
  /** Operator set per domain (`''` is the default ONNX domain). */
  opsets: Record<string, number>;
  /** Every operator the graph uses, as `domain:OpType` (`:Conv`, `com.microsoft:GroupNorm`). */
  operators: Set<string>;
  /** Files named by initializers stored as external data, relative to the model's folder. */
  externalDataFiles: string[];
  /** Bytes of the weights by element type, from the initializers' dims. */
  weightBytesByType: Record<string, number>;
  producer: string;
}

const ELEMENT_TYPES: Record<number, { name: string; bytes: number }> = {
  1: { name: 'float32', bytes: 4 },
  2: { name: 'uint8', bytes: 1 },
  3: { name: 'int8', bytes: 1 },
  4: { name: 'uint16', bytes: 2 },
  5: { name: 'int16', bytes: 2 },
  6: { name: 'int32', bytes: 4 },
  7: { name: 'int64', bytes: 8 },
  8: { name: 'string', bytes: 0 },
  9: { name: 'bool', bytes: 1 },
  10: { name: 'float16', bytes: 2 },
  11: { name: 'float64', bytes: 8 },
  12: { name: 'uint32', bytes: 4 },
  13: { name: 'uint64', bytes: 8 },
  16: { name: 'bfloat16', bytes: 2 },
};

/** Protobuf over a file, read on demand: a multi-gigabyte initializer is skipped by its length, never read. */
class FileProtoReader {
  private buffer = Buffer.alloc(1 << 16);
  private bufferStart = 0;
  private bufferEnd = 0;
  readonly size: number;

  constructor(private readonly fd: number) {
    this.size = fstatSync(fd).size;
  }

  byteAt(position: number): number {
    if (position < this.bufferStart || position >= this.bufferEnd) {
      const read = readSync(this.fd, this.buffer, 0, this.buffer.length, position);
      this.bufferStart = position;
      this.bufferEnd = position + read;
      if (read === 0) throw new RangeError('truncated ONNX file');
    }
    return this.buffer[position - this.bufferStart]!;
  }

  bytes(position: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    const read = readSync(this.fd, out, 0, length, position);
    if (read !== length) throw new RangeError('truncated ONNX file');
    return out;
  }

  varint(position: number): { value: number; next: number } {
    let value = 0;
    let multiplier = 1;
    let p = position;
    for (;;) {
      const byte = this.byteAt(p++);
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) break;
      multiplier *= 128;
      if (p - position > 10) throw new RangeError('bad varint');
    }
    return { value, next: p };
  }

  /** Calls `visit(field, wireType, start, end | varint value)` for each field in [start, end). */
  fields(start: number, end: number, visit: (field: number, wire: number, at: number, length: number) => void): void {
    let p = start;
    while (p < end) {
      const key = this.varint(p);
      const field = Math.floor(key.value / 8);
      const wire = key.value & 7;
      p = key.next;
      if (wire === 0) {
        const v = this.varint(p);
        visit(field, wire, p, v.value);
        p = v.next;
      } else if (wire === 2) {
        const length = this.varint(p);
        visit(field, wire, length.next, length.value);
        p = length.next + length.value;
      } else if (wire === 1) {
        visit(field, wire, p, 8);
        p += 8;
      } else if (wire === 5) {
        visit(field, wire, p, 4);
        p += 4;
      } else {
        throw new RangeError(`unsupported protobuf wire type ${wire}`);
      }
    }
    if (p !== end) throw new RangeError('protobuf field overruns its message');
  }

  string(at: number, length: number): string {
    return this.bytes(at, length).toString('utf8');
  }
}

function readTensorType(reader: FileProtoReader, at: number, length: number): { type: string; dims: Array<number | string> } {
  let type = 'unknown';
  const dims: Array<number | string> = [];
  // TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1) → dim_value (1) | dim_param (2)
  reader.fields(at, at + length, (field, wire, tAt, tLength) => {
    if (field !== 1 || wire !== 2) return;
    reader.fields(tAt, tAt + tLength, (f, w, a, l) => {
      if (f === 1 && w === 0) type = ELEMENT_TYPES[l]?.name ?? `type${l}`;
      if (f === 2 && w === 2) {
        reader.fields(a, a + l, (df, dw, da, dl) => {
          if (df !== 1 || dw !== 2) return;
          let dim: number | string = '?';
          reader.fields(da, da + dl, (vf, vw, va, vl) => {
            if (vf === 1 && vw === 0) dim = vl;
            if (vf === 2 && vw === 2) dim = reader.string(va, vl);
          });
          dims.push(dim);
        });
      }
    });
  });
  return { type, dims };
}

function readValueInfo(reader: FileProtoReader, at: number, length: number): DeclaredTensor {
  let name = '';
  let described = { type: 'unknown', dims: [] as Array<number | string> };
  reader.fields(at, at + length, (field, wire, a, l) => {
    if (field === 1 && wire === 2) name = reader.string(a, l);
    if (field === 2 && wire === 2) described = readTensorType(reader, a, l);
  });
  return { name, ...described };
}

/**
 * Reads an ONNX file's declared inputs, outputs, operators, opsets and external data references without decoding
 * its weights, so `fleet models` and the load-time contract check cost milliseconds on a multi-gigabyte export.
 * @throws FleetError E_MODEL_LOAD naming the file when it cannot be read or is not an ONNX model.
 */
export function readOnnxSignature(path: string): OnnxSignature {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new FleetError('E_MODEL_LOAD', `${path} cannot be read`, { cause: error, details: { file: path } });
  }
  try {
    const reader = new FileProtoReader(fd);
    const signature: OnnxSignature = { inputs: [], outputs: [], opsets: {}, operators: new Set(), externalDataFiles: [], weightBytesByType: {}, producer: '' };
    const external = new Set<string>();
    const initializerNames = new Set<string>();
    let sawGraph = false;
    reader.fields(0, reader.size, (field, wire, at, length) => {
      if (field === 2 && wire === 2) signature.producer = reader.string(at, length);
      if (field === 8 && wire === 2) {
        let domain = '';
        let version = 0;
        reader.fields(at, at + length, (f, w, a, l) => {
          if (f === 1 && w === 2) domain = reader.string(a, l);
          if (f === 2 && w === 0) version = l;
        });
        signature.opsets[domain === 'ai.onnx' ? '' : domain] = version;
      }
      if (field !== 7 || wire !== 2) return;
      sawGraph = true;
      reader.fields(at, at + length, (f, w, a, l) => {
        if (w !== 2) return;
        if (f === 11) signature.inputs.push(readValueInfo(reader, a, l));
        else if (f === 12) signature.outputs.push(readValueInfo(reader, a, l));
        else if (f === 1) {
          let opType = '';
          let domain = '';
          reader.fields(a, a + l, (nf, nw, na, nl) => {
            if (nf === 4 && nw === 2) opType = reader.string(na, nl);
            if (nf === 7 && nw === 2) domain = reader.string(na, nl);
          });
          signature.operators.add(`${domain === 'ai.onnx' ? '' : domain}:${opType}`);
        } else if (f === 5) {
          let count = 1;
          let type = 0;
          reader.fields(a, a + l, (tf, tw, ta, tl) => {
            if (tf === 1 && tw === 0) count *= tl;
            if (tf === 1 && tw === 2) {
              // packed dims
              let p = ta;
              while (p < ta + tl) {
                const v = reader.varint(p);
                count *= v.value;
                p = v.next;
              }
            }
            if (tf === 2 && tw === 0) type = tl;
            if (tf === 8 && tw === 2) initializerNames.add(reader.string(ta, tl));
            if (tf === 13 && tw === 2) {
              let key = '';
              let value = '';
              reader.fields(ta, ta + tl, (ef, ew, ea, el) => {
                if (ef === 1 && ew === 2) key = reader.string(ea, el);
                if (ef === 2 && ew === 2) value = reader.string(ea, el);
              });
              if (key === 'location') external.add(value);
            }
          });
          const element = ELEMENT_TYPES[type];
          if (element !== undefined) signature.weightBytesByType[element.name] = (signature.weightBytesByType[element.name] ?? 0) + count * element.bytes;
        }
      });
    });
    if (!sawGraph) throw new RangeError('no graph');
    // Initializers are listed as inputs too in older exports (IR < 4); only the ones without a weight are fed.
    signature.inputs = signature.inputs.filter((input) => !initializerNames.has(input.name));
    signature.externalDataFiles = [...external].sort();
    return signature;
  } catch (error) {
    if (error instanceof FleetError) throw error;
    throw new FleetError('E_MODEL_LOAD', `${path} is not a readable ONNX model`, { cause: error, details: { file: path } });
  } finally {
    closeSync(fd);
  }
}
