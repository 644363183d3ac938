// The messages between a worker's main thread and its engine thread, and how tensors and errors cross.
import ort from 'onnxruntime-node';
import { FleetError, isErrorCode, MAX_CAUSE_DEPTH } from '../../contract/errors.js';
import type { ExecutionProviderName, ProviderMode, TensorInfo } from './onnx-session-factory.js';

/** What the engine thread is started with (it must survive structured cloning: no functions). */
export interface EngineThreadData {
  factory: { executionProvider: ProviderMode; cudaDeviceId: number; intraOpThreads: number; intraOpSpinning: boolean };
  /**
   * One Int32 shared with the main thread: how many onnxruntime calls the thread is inside (or -1 once the main
   * thread has closed it). See `NativeCallGuard`.
   */
  guard: SharedArrayBuffer;
}

/** A tensor on the wire: its data is a typed array whose buffer is transferred (or shared), not copied. */
export interface WireTensor {
  type: ort.Tensor.Type;
  dims: readonly number[];
  data: ort.Tensor.DataType;
  /** Keep this feed in the thread under this id: the main thread will refer to it by {@link WireFeedRef}. */
  keepAs?: number;
}

/** A feed the thread already holds (a prompt's conditioning, fed at every denoising step of a batch). */
export interface WireFeedRef {
  ref: number;
}

/** An error on the wire: structured cloning keeps neither `code` nor `cause`, so they travel as fields. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  details?: Record<string, unknown>;
  cause?: WireError;
}

export type EngineRequest =
  | { op: 'create'; id: number; modelPath: string }
  | { op: 'run'; id: number; sessionId: number; feeds: Record<string, WireTensor | WireFeedRef>; fetches?: string[]; forget?: number[] }
  | { op: 'release'; id: number; sessionId: number }
  /** Test hook: the thread dies by itself, between onnxruntime calls (`exit`: process.exit; `throw`: an uncaught error). */
  | { op: 'die'; id: number; how: 'exit' | 'throw' };

export interface CreatedSession {
  sessionId: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  executionProvider: ExecutionProviderName;
  /** In `auto` mode, the CUDA error that put this session on the CPU. */
  fallbackReason?: WireError;
}

export type EngineReply =
  | { kind: 'ready'; cudaAvailable: boolean }
  | { kind: 'reply'; id: number; ok: true; value: CreatedSession | { outputs: Record<string, WireTensor> } | null }
  | { kind: 'reply'; id: number; ok: false; error: WireError };

export function toWireError(error: unknown, depth = 0): WireError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { code, details } = error as { code?: unknown; details?: unknown };
  const wire: WireError = { name: error.name, message: error.message };
  if (error.stack !== undefined) wire.stack = error.stack;
  if (typeof code === 'string') wire.code = code;
  if (details !== undefined && typeof details === 'object' && details !== null) wire.details = details as Record<string, unknown>;
  if (error.cause !== undefined && depth < MAX_CAUSE_DEPTH) wire.cause = toWireError(error.cause, depth + 1);
  return wire;
}

/** Rebuilds an error: a `FleetError` when it carried a catalogue code, else an Error with its name, code and stack. */
export function fromWireError(wire: WireError): Error {
  const cause = wire.cause === undefined ? undefined : fromWireError(wire.cause);
  const error = isErrorCode(wire.code)
    ? new FleetError(wire.code, wire.message, { ...(cause === undefined ? {} : { cause }), ...(wire.details === undefined ? {} : { details: wire.details }) })
    : Object.assign(new Error(wire.message, cause === undefined ? undefined : { cause }), wire.code === undefined ? {} : { code: wire.code });
  error.name = wire.name;
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}

function isTypedArray(data: unknown): data is Exclude<ort.Tensor.DataType, string[]> {
  return ArrayBuffer.isView(data);
}

/**
 * A tensor for the wire. `copy`: the caller keeps using its data (pipelines feed the same text embeddings at
 * every denoising step), so the data is copied once into a buffer of its own, which is then transferred. Without
 * `copy` (the engine's outputs, used by no one else) the buffer itself is transferred when the array spans all
 * of it.
 */
export function toWireTensor(tensor: ort.Tensor, copy: boolean, transfer: ArrayBuffer[]): WireTensor {
  const data = tensor.data;
  if (!isTypedArray(data)) return { type: tensor.type, dims: tensor.dims, data };
  // Shared memory crosses as it is: no copy on the main thread (the thread copies it out: onnxruntime refuses it).
  if (data.buffer instanceof SharedArrayBuffer) return { type: tensor.type, dims: tensor.dims, data };
  const own = copy || data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength ? data.slice() : data;
  transfer.push(own.buffer as ArrayBuffer);
  return { type: tensor.type, dims: tensor.dims, data: own };
}

export function fromWireTensor(wire: WireTensor): ort.Tensor {
  const data = wire.data;
  const own = ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer ? (data as Exclude<ort.Tensor.DataType, string[]>).slice() : data;
  return new ort.Tensor(wire.type, own as never, wire.dims);
}

/** A typed array in shared memory, for big feeds the engine reads at every step without a copy on the main thread. */
export function sharedFloat32Array(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT));
}
