import type ort from 'onnxruntime-node';
import { findErrorWithCode } from '../../contract/errors.js';
import { fromWireError } from './engine-protocol.js';
import type { InferenceEngine, OpenedSession } from './inference-engine.js';
import type { ExecutionProviderName, ModelSession, SessionFactory, TensorInfo } from './onnx-session-factory.js';

export interface EngineSessionFactoryOptions {
  /**
   * Called for every session the engine opens (re-creations after an engine restart included), with the provider
   * it runs on and, in `auto` mode, the CUDA error that put it on the CPU. @default none
   */
  onProvider?: (provider: ExecutionProviderName, modelPath: string, fallbackReason?: Error) => void;
}

/**
 * Sessions in the worker's inference engine: each `ModelSession` is a proxy with the interface pipelines
 * already use (`run` per denoising step, `inputs`/`outputs`, `release`); the real session lives in the
 * engine thread. When the engine was lost and restarted, a proxy re-creates its session there on its next run.
 */
export class EngineSessionFactory implements SessionFactory {
  constructor(
    readonly engine: InferenceEngine,
    private readonly options: EngineSessionFactoryOptions = {},
  ) {}

  async create(modelPath: string): Promise<ModelSession> {
    return new EngineSession(this, modelPath, await this.open(modelPath));
  }

  /** Opens `modelPath` in the engine's live thread. */
  async open(modelPath: string): Promise<OpenedSession> {
    const opened = await this.engine.create(modelPath);
    this.options.onProvider?.(opened.executionProvider, modelPath, opened.fallbackReason === undefined ? undefined : fromWireError(opened.fallbackReason));
    return opened;
  }
}

class EngineSession implements ModelSession {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  private opened: OpenedSession;
  private reopening: Promise<OpenedSession> | undefined;
  private released = false;

  constructor(
    private readonly factory: EngineSessionFactory,
    readonly modelPath: string,
    opened: OpenedSession,
  ) {
    this.opened = opened;
    this.inputs = opened.inputs;
    this.outputs = opened.outputs;
  }

  get executionProvider(): ExecutionProviderName {
    return this.opened.executionProvider;
  }

  async run(feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<Record<string, ort.Tensor>> {
    return this.factory.engine.run(await this.live(), feeds, fetches);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.factory.engine.release(this.opened).catch((error: unknown) => {
      // A session whose engine is gone or closing went with it.
      if (findErrorWithCode(error, 'E_ENGINE_LOST') === undefined && findErrorWithCode(error, 'E_SHUTDOWN') === undefined) throw error;
    });
  }

  /** The session in the engine's live thread, re-created there once when its own thread was lost. */
  private live(): Promise<OpenedSession> {
    if (this.released) return Promise.reject(new Error(`session ${this.modelPath} was released`));
    if (this.factory.engine.isCurrent(this.opened.generation)) return Promise.resolve(this.opened);
    this.reopening ??= this.factory
      .open(this.modelPath)
      .then(async (opened) => {
        if (this.released) {
          await this.factory.engine.release(opened);
          throw new Error(`session ${this.modelPath} was released`);
        }
        return (this.opened = opened);
      })
      .finally(() => (this.reopening = undefined));
    return this.reopening;
  }
}
