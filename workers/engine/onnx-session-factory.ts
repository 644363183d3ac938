import { existsSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { isOutOfMemoryError } from '../../batching/index.js';
// Not the contract index: this file also runs in the engine thread, which should load only what it runs (the
// index brings ioredis, pino and zod along).
import { FleetError } from '../../contract/errors.js';
import { isCudaAvailable } from './cuda-availability.js';
import { withFloat32Boundary } from './session-precision.js';

export { isCudaAvailable } from './cuda-availability.js';

/** Name, element type and dimensions (numbers, or symbolic names like `batch`) of one model input or output. */
export interface TensorInfo {
  name: string;
  /** `float32`, `int64`, `int32`, … as onnxruntime names them; undefined when the runtime does not say. */
  type: string | undefined;
  /** Declared shape; empty when unknown. */
  dims: ReadonlyArray<number | string>;
}

/**
 * The slice of an inference session that pipelines use. onnxruntime's InferenceSession is adapted to it by
 * `OnnxSessionFactory`; the worker's sessions are proxies of sessions living in its engine thread
 * (`EngineSessionFactory`); tests may hand a pipeline any object of this shape.
 */
export interface ModelSession {
  /** The file this session was loaded from (named in errors). */
  readonly modelPath: string;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Where the session runs, when its factory knows (`fleet status` shows it per model). @default undefined */
  readonly executionProvider?: ExecutionProviderName;
  /**
   * Runs the graph. Float tensors cross at float32 whatever the export declares: a float32 tensor fed to a
   * `float16` input is converted, and `float16` outputs come back as float32 (see `withFloat32Boundary`).
   * @param fetches the outputs wanted (an SDXL text encoder declares 33 hidden states; the pipeline reads one).
   *   @default every output
   */
  run(feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

/** Where a session runs. */
export type ExecutionProviderName = 'cuda' | 'cpu';

/** Creates sessions from model files. */
export interface SessionFactory {
  /** @throws FleetError E_MODEL_LOAD when the file is missing or not a loadable model (E_OOM when CUDA ran out of memory loading it). */
  create(modelPath: string): Promise<ModelSession>;
}

/** The session of {@link OnnxRuntime}: what `OnnxSessionFactory` reads of onnxruntime's InferenceSession. */
export type RuntimeSession = Pick<ort.InferenceSession, 'inputNames' | 'outputNames' | 'inputMetadata' | 'outputMetadata' | 'run' | 'release'>;

/** What `OnnxSessionFactory` needs of onnxruntime: tests inject a fake to exercise the CUDA paths without a GPU. */
export interface OnnxRuntime {
  createSession(modelPath: string, options: ort.InferenceSession.SessionOptions): Promise<RuntimeSession>;
  /** Whether the CUDA provider can be tried here (see `isCudaAvailable`). */
  cudaAvailable(): boolean;
}

/** onnxruntime-node itself. */
export const ONNXRUNTIME_NODE: OnnxRuntime = {
  createSession: (modelPath, options) => ort.InferenceSession.create(modelPath, options),
  cudaAvailable: isCudaAvailable,
};

/**
 * How a factory picks the provider of each session:
 * - `cuda`: CUDA only. A session that cannot be created there fails to load (`E_OOM` when CUDA ran out of
 *   memory, else `E_MODEL_LOAD`, the runtime's error as the cause); the next load tries CUDA again.
 * - `auto`: CUDA when `cudaAvailable()`, and a session whose creation on CUDA fails is created on the CPU, with
 *   the reason reported through `onProvider`; the next session tries CUDA again. No failure moves later
 *   sessions to the CPU: one out-of-memory while loading a big model says nothing about the next one.
 * - `cpu`: the CPU only.
 */
export type ProviderMode = 'auto' | ExecutionProviderName;

export interface OnnxSessionFactoryOptions {
  /** See {@link ProviderMode}. @default 'auto' */
  executionProvider?: ProviderMode;
  /** CUDA device index. @default 0 */
  cudaDeviceId?: number;
  /** CPU intra-op threads; 0 lets onnxruntime choose (one per core). @default 0 */
  intraOpThreads?: number;
  /**
   * Whether idle intra-op threads busy-wait for the next operator (onnxruntime's own default is on). Off here:
   * a worker shares its cores with sharp's encoder, the event loop and Redis I/O, and spinning threads take
   * the cycles those need (`npm run bench` prints the raw loop with onnxruntime's default settings beside
   * the fleet's). @default false
   */
  intraOpSpinning?: boolean;
  /**
   * Called once per session with the provider it ended up on, and in `auto` mode the CUDA error that sent it to
   * the CPU. @default none
   */
  onProvider?: (provider: ExecutionProviderName, modelPath: string, fallbackReason?: unknown) => void;
  /** The runtime sessions come from. @default onnxruntime-node ({@link ONNXRUNTIME_NODE}) */
  runtime?: OnnxRuntime;
}

export const ONNX_SESSION_FACTORY_DEFAULTS = {
  executionProvider: 'auto',
  cudaDeviceId: 0,
  intraOpThreads: 0,
  intraOpSpinning: false,
  onProvider: () => {},
  runtime: ONNXRUNTIME_NODE,
} satisfies Required<OnnxSessionFactoryOptions>;

const PROVIDER_MODES: readonly ProviderMode[] = ['auto', 'cuda', 'cpu'];

export function resolveOnnxSessionFactoryOptions(options: OnnxSessionFactoryOptions = {}): Required<OnnxSessionFactoryOptions> {
  const resolved = { ...ONNX_SESSION_FACTORY_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (!PROVIDER_MODES.includes(resolved.executionProvider)) {
    throw new RangeError(`executionProvider must be one of ${PROVIDER_MODES.join(', ')}, got ${String(resolved.executionProvider)}`);
  }
  if (!Number.isInteger(resolved.cudaDeviceId) || resolved.cudaDeviceId < 0) throw new RangeError(`cudaDeviceId must be an integer >= 0, got ${resolved.cudaDeviceId}`);
  if (!Number.isInteger(resolved.intraOpThreads) || resolved.intraOpThreads < 0) {
    throw new RangeError(`intraOpThreads must be an integer >= 0, got ${resolved.intraOpThreads}`);
  }
  if (typeof resolved.intraOpSpinning !== 'boolean') {
    throw new TypeError(`intraOpSpinning must be a boolean, got ${String(resolved.intraOpSpinning)}`);
  }
  return resolved;
}

/**
 * The session config entry (`session.intra_op.allow_spinning`) that makes idle intra-op threads spin or sleep,
 * for `SessionOptions.extra`. Every session of a worker should share it: see `intraOpSpinning`.
 */
export function intraOpSpinningConfig(spinning: boolean): ort.InferenceSession.SessionOptions['extra'] {
  return { session: { intra_op: { allow_spinning: spinning ? '1' : '0' } } };
}

function describe(metadata: readonly ort.InferenceSession.ValueMetadata[], names: readonly string[]): TensorInfo[] {
  return names.map((name, i) => {
    const meta = metadata[i];
    if (meta === undefined || !meta.isTensor) return { name, type: undefined, dims: [] };
    return { name, type: meta.type, dims: meta.shape };
  });
}

/** onnxruntime-node refuses typed arrays in shared memory (the engine's conditioning feeds): copy those out. */
function unshared(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  let out: Record<string, ort.Tensor> | undefined;
  for (const [name, tensor] of Object.entries(feeds)) {
    const data = tensor.data;
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      out ??= { ...feeds };
      out[name] = new ort.Tensor(tensor.type, (data as Float32Array).slice() as never, tensor.dims);
    }
  }
  return out ?? feeds;
}

function adapt(session: RuntimeSession, modelPath: string, executionProvider: ExecutionProviderName): ModelSession {
  return withFloat32Boundary({
    modelPath,
    executionProvider,
    inputs: describe(session.inputMetadata, session.inputNames),
    outputs: describe(session.outputMetadata, session.outputNames),
    run: (feeds, fetches) => {
      const owned = unshared(feeds);
      return (fetches === undefined ? session.run(owned) : session.run(owned, [...fetches])) as Promise<Record<string, ort.Tensor>>;
    },
    release: () => session.release(),
  });
}

/** Sessions on onnxruntime, on the provider {@link ProviderMode} picks for each one. */
export class OnnxSessionFactory implements SessionFactory {
  private readonly options: Required<OnnxSessionFactoryOptions>;
  private readonly cudaFirst: boolean;

  constructor(options: OnnxSessionFactoryOptions = {}) {
    this.options = resolveOnnxSessionFactoryOptions(options);
    const mode = this.options.executionProvider;
    this.cudaFirst = mode === 'cuda' || (mode === 'auto' && this.options.runtime.cudaAvailable());
  }

  /** The provider each new session tries first. */
  get preferredProvider(): ExecutionProviderName {
    return this.cudaFirst ? 'cuda' : 'cpu';
  }

  async create(modelPath: string): Promise<ModelSession> {
    if (!existsSync(modelPath)) {
      throw new FleetError('E_MODEL_LOAD', `model file ${modelPath} does not exist`, { details: { file: modelPath } });
    }
    const { runtime } = this.options;
    const base: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      extra: intraOpSpinningConfig(this.options.intraOpSpinning),
      ...(this.options.intraOpThreads > 0 ? { intraOpNumThreads: this.options.intraOpThreads } : {}),
    };
    let fallbackReason: unknown;
    if (this.cudaFirst) {
      try {
        const session = await runtime.createSession(modelPath, { ...base, executionProviders: [{ name: 'cuda', deviceId: this.options.cudaDeviceId }] });
        this.options.onProvider('cuda', modelPath);
        return adapt(session, modelPath, 'cuda');
      } catch (error) {
        if (this.options.executionProvider === 'cuda') {
          const code = isOutOfMemoryError(error) ? 'E_OOM' : 'E_MODEL_LOAD';
          throw new FleetError(code, `model ${modelPath} could not be loaded on CUDA device ${this.options.cudaDeviceId}; the next load tries again`, {
            cause: error,
            details: { file: modelPath },
          });
        }
        fallbackReason = error;
      }
    }
    try {
      const session = await runtime.createSession(modelPath, { ...base, executionProviders: ['cpu'] });
      this.options.onProvider('cpu', modelPath, fallbackReason);
      return adapt(session, modelPath, 'cpu');
    } catch (error) {
      throw new FleetError('E_MODEL_LOAD', `model ${modelPath} could not be loaded by onnxruntime`, { cause: error, details: { file: modelPath } });
    }
  }
}

/** What a pipeline needs of one model: input and output names, and optionally allowed element types. */
export interface SessionExpectation {
  inputs: ReadonlyArray<string | { name: string; types: readonly string[] }>;
  outputs: readonly string[];
}

/**
 * Checks a session's input/output names (and element types where given) against what the pipeline feeds and reads.
 * @throws FleetError E_MODEL_SHAPE listing expected vs found.
 */
export function assertSessionShape(session: ModelSession, expected: SessionExpectation): void {
  const problems: string[] = [];
  const found = (list: readonly TensorInfo[]) => list.map((t) => `${t.name}${t.type === undefined ? '' : `:${t.type}`}`).join(', ');
  for (const input of expected.inputs) {
    const { name, types } = typeof input === 'string' ? { name: input, types: undefined } : input;
    const info = session.inputs.find((t) => t.name === name);
    if (info === undefined) problems.push(`missing input ${name}`);
    else if (types !== undefined && info.type !== undefined && !types.includes(info.type)) {
      problems.push(`input ${name} is ${info.type}, expected ${types.join(' or ')}`);
    }
  }
  for (const name of expected.outputs) {
    if (!session.outputs.some((t) => t.name === name)) problems.push(`missing output ${name}`);
  }
  if (problems.length === 0) return;
  const wanted = `inputs [${expected.inputs.map((i) => (typeof i === 'string' ? i : i.name)).join(', ')}] outputs [${expected.outputs.join(', ')}]`;
  throw new FleetError(
    'E_MODEL_SHAPE',
    `${session.modelPath}: ${problems.join('; ')}. Expected ${wanted}; found inputs [${found(session.inputs)}] outputs [${found(session.outputs)}]`,
    {
      details: {
        file: session.modelPath,
        expected: { inputs: expected.inputs, outputs: expected.outputs },
        found: { inputs: session.inputs.map((t) => t.name), outputs: session.outputs.map((t) => t.name) },
      },
    },
  );
}
