import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { FleetError } from '../../contract/index.js';
import { withFloat32Boundary } from './session-precision.js';

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
 * `createOnnxSessionFactory`; tests may hand a pipeline any object of this shape.
 */
export interface ModelSession {
  /** The file this session was loaded from (named in errors). */
  readonly modelPath: string;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
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
  /** @throws FleetError E_MODEL_LOAD when the file is missing or not a loadable model. */
  create(modelPath: string): Promise<ModelSession>;
}

export interface OnnxSessionFactoryOptions {
  /** `auto` tries CUDA when this onnxruntime build and machine offer it, falling back to CPU. @default 'auto' */
  executionProvider?: 'auto' | ExecutionProviderName;
  /** CUDA device index. @default 0 */
  cudaDeviceId?: number;
  /** CPU intra-op threads; 0 lets onnxruntime choose (one per core). @default 0 */
  intraOpThreads?: number;
  /**
   * Whether idle intra-op threads busy-wait for the next operator (onnxruntime's own default is on). Off here:
   * a worker shares its cores with sharp's encoder, the event loop and Redis I/O, and spinning threads take
   * the cycles those need. On the 2-vCPU machine this was built on, turning it off raised the raw flash-v1
   * loop from ~15 to ~25 images/s at batch 1 (`npm run bench`, the row with onnxruntime's default session
   * settings). @default false
   */
  intraOpSpinning?: boolean;
  /** Called once per session with the provider it ended up on (for the startup log). */
  onProvider?: (provider: ExecutionProviderName, modelPath: string, fallbackReason?: unknown) => void;
}

export const ONNX_SESSION_FACTORY_DEFAULTS = {
  executionProvider: 'auto',
  cudaDeviceId: 0,
  intraOpThreads: 0,
  intraOpSpinning: false,
  onProvider: () => {},
} satisfies Required<OnnxSessionFactoryOptions>;

/**
 * The session config entry (`session.intra_op.allow_spinning`) that makes idle intra-op threads spin or sleep,
 * for `SessionOptions.extra`. Every session of a worker should share it: see `intraOpSpinning`.
 */
export function intraOpSpinningConfig(spinning: boolean): ort.InferenceSession.SessionOptions['extra'] {
  return { session: { intra_op: { allow_spinning: spinning ? '1' : '0' } } };
}

/**
 * Whether the CUDA execution provider can be tried here: this onnxruntime-node build lists it and its provider
 * library was installed next to the binding (onnxruntime-node downloads it only on CUDA machines). A true answer
 * is still confirmed by creating the session; a false one saves a noisy failed attempt.
 */
export function isCudaAvailable(): boolean {
  const listed = ort.listSupportedBackends().find((backend) => backend.name === 'cuda');
  if (listed === undefined) return false;
  if (listed.bundled) return true;
  try {
    const packageDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const binDir = join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
    const library = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return existsSync(join(binDir, library));
  } catch {
    return false;
  }
}

function describe(metadata: readonly ort.InferenceSession.ValueMetadata[], names: readonly string[]): TensorInfo[] {
  return names.map((name, i) => {
    const meta = metadata[i];
    if (meta === undefined || !meta.isTensor) return { name, type: undefined, dims: [] };
    return { name, type: meta.type, dims: meta.shape };
  });
}

function adapt(session: ort.InferenceSession, modelPath: string): ModelSession {
  return withFloat32Boundary({
    modelPath,
    inputs: describe(session.inputMetadata, session.inputNames),
    outputs: describe(session.outputMetadata, session.outputNames),
    run: (feeds, fetches) => (fetches === undefined ? session.run(feeds) : session.run(feeds, [...fetches])) as Promise<Record<string, ort.Tensor>>,
    release: () => session.release(),
  });
}

/**
 * Sessions on onnxruntime-node: CUDA when available (see `isCudaAvailable`), CPU otherwise. After one CUDA failure
 * the factory stays on CPU, so a machine without a working driver pays for the attempt once.
 */
export class OnnxSessionFactory implements SessionFactory {
  private readonly options: Required<OnnxSessionFactoryOptions>;
  private cudaUsable: boolean;

  constructor(options: OnnxSessionFactoryOptions = {}) {
    this.options = { ...ONNX_SESSION_FACTORY_DEFAULTS, ...options };
    if (!Number.isInteger(this.options.intraOpThreads) || this.options.intraOpThreads < 0) {
      throw new RangeError(`intraOpThreads must be an integer >= 0, got ${this.options.intraOpThreads}`);
    }
    if (typeof this.options.intraOpSpinning !== 'boolean') {
      throw new TypeError(`intraOpSpinning must be a boolean, got ${String(this.options.intraOpSpinning)}`);
    }
    const wanted = this.options.executionProvider;
    this.cudaUsable = wanted === 'cuda' || (wanted === 'auto' && isCudaAvailable());
  }

  /** The provider new sessions will try first. */
  get preferredProvider(): ExecutionProviderName {
    return this.cudaUsable ? 'cuda' : 'cpu';
  }

  async create(modelPath: string): Promise<ModelSession> {
    if (!existsSync(modelPath)) {
      throw new FleetError('E_MODEL_LOAD', `model file ${modelPath} does not exist`, { details: { file: modelPath } });
    }
    const base: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      extra: intraOpSpinningConfig(this.options.intraOpSpinning),
      ...(this.options.intraOpThreads > 0 ? { intraOpNumThreads: this.options.intraOpThreads } : {}),
    };
    let fallbackReason: unknown;
    if (this.cudaUsable) {
      try {
        const session = await ort.InferenceSession.create(modelPath, {
          ...base,
          executionProviders: [{ name: 'cuda', deviceId: this.options.cudaDeviceId }],
        });
        this.options.onProvider('cuda', modelPath);
        return adapt(session, modelPath);
      } catch (error) {
        if (this.options.executionProvider === 'cuda') {
          throw new FleetError('E_MODEL_LOAD', `model ${modelPath} could not be loaded on CUDA`, { cause: error, details: { file: modelPath } });
        }
        this.cudaUsable = false;
        fallbackReason = error;
      }
    }
    try {
      const session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cpu'] });
      this.options.onProvider('cpu', modelPath, fallbackReason);
      return adapt(session, modelPath);
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
