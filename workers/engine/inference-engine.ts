import type { Worker } from 'node:worker_threads';
import type ort from 'onnxruntime-node';
import { FleetError } from '../../contract/errors.js';
import {
  fromWireError,
  fromWireTensor,
  toWireTensor,
  type CreatedSession,
  type EngineReply,
  type EngineRequest,
  type EngineThreadData,
  type WireFeedRef,
  type WireTensor,
} from './engine-protocol.js';
import { NativeCallGuard } from './native-call-guard.js';
import type { ProviderMode } from './onnx-session-factory.js';
import { spawnEngineThread } from './spawn-engine-thread.js';

export interface InferenceEngineOptions {
  /** How the engine's sessions pick their provider (see `ProviderMode`). @default 'cpu' */
  executionProvider?: ProviderMode;
  /** CUDA device index: the device this engine serves. @default 0 */
  cudaDeviceId?: number;
  /** CPU intra-op threads per session; 0 lets onnxruntime choose. @default 0 */
  intraOpThreads?: number;
  /** See `OnnxSessionFactoryOptions.intraOpSpinning`. @default false */
  intraOpSpinning?: boolean;
  /**
   * Called when the engine thread died by itself or was killed: its calls in flight have failed with `error`
   * (`E_ENGINE_LOST`), and the next call starts a new thread. @default none
   */
  onLost?: (error: FleetError) => void;
  /** Starts the thread. @default spawnEngineThread (the real engine: `engine-thread.ts`) */
  spawn?: (data: EngineThreadData) => Worker;
}

export const INFERENCE_ENGINE_DEFAULTS = {
  executionProvider: 'cpu',
  cudaDeviceId: 0,
  intraOpThreads: 0,
  intraOpSpinning: false,
  onLost: () => {},
  spawn: spawnEngineThread,
} satisfies Required<InferenceEngineOptions>;

/** A session as the engine opened it: in which thread generation, under which id. */
export interface OpenedSession extends CreatedSession {
  generation: number;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: unknown) => void };

/** A request as the caller writes it: the thread assigns no ids, `EngineThread.request` does. */
type Outgoing = { [Op in EngineRequest['op']]: Omit<Extract<EngineRequest, { op: Op }>, 'id'> }[EngineRequest['op']];

/** One engine thread: its requests in flight and how it ended. */
class EngineThread {
  readonly guard: NativeCallGuard;
  readonly worker: Worker;
  readonly ready: Promise<{ cudaAvailable: boolean }>;
  /** Set once the thread can take no more requests: the error its requests failed with. */
  gone: FleetError | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly idleWaiters: Array<() => void> = [];
  private nextId = 1;
  private uncaught: unknown;
  private readonly exited: Promise<void>;
  private hasExited = false;

  constructor(
    readonly generation: number,
    options: Required<InferenceEngineOptions>,
    private readonly onExit: (thread: EngineThread, error: FleetError) => void,
  ) {
    const guardBuffer = NativeCallGuard.createBuffer();
    this.guard = new NativeCallGuard(guardBuffer);
    const { executionProvider, cudaDeviceId, intraOpThreads, intraOpSpinning } = options;
    // Referenced until it is ready: a caller awaiting `start()` alone must not see the process exit under it.
    this.worker = options.spawn({ factory: { executionProvider, cudaDeviceId, intraOpThreads, intraOpSpinning }, guard: guardBuffer });
    let signalReady!: (value: { cudaAvailable: boolean }) => void;
    let failReady!: (error: unknown) => void;
    this.ready = new Promise((resolve, reject) => {
      signalReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => {});
    this.worker.on('message', (message: EngineReply) => {
      if (message.kind === 'ready') {
        this.refWhileBusy();
        return signalReady({ cudaAvailable: message.cudaAvailable });
      }
      const pending = this.pending.get(message.id);
      if (pending === undefined) return;
      this.pending.delete(message.id);
      this.refWhileBusy();
      if (message.ok) pending.resolve(message.value);
      else pending.reject(fromWireError(message.error));
    });
    this.worker.on('error', (error) => (this.uncaught = error));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('exit', (code) => {
      this.hasExited = true;
      if (this.gone !== undefined) return;
      const error = new FleetError('E_ENGINE_LOST', `the inference engine thread exited (code ${code}); a new one starts on the next call, and the work it had is retried`, {
        ...(this.uncaught === undefined ? {} : { cause: this.uncaught }),
        details: { exitCode: code },
      });
      failReady(error);
      this.fail(error);
      this.onExit(this, error);
    });
  }

  request<T>(message: Outgoing, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.gone !== undefined) return Promise.reject(this.gone);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.refWhileBusy();
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** Fires a message no reply answers (the test hook). */
  post(message: Extract<Outgoing, { op: 'die' }>): void {
    this.worker.postMessage({ ...message, id: 0 });
  }

  get requestsInFlight(): number {
    return this.pending.size;
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Fails every request in flight with `error`; the thread takes no more. */
  fail(error: FleetError): void {
    this.gone ??= error;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
    this.refWhileBusy();
  }

  /**
   * Terminates the thread once it is out of onnxruntime's calls (see `NativeCallGuard`): until then it is kept
   * referenced, so the process does not exit (and abort) under a running call.
   */
  async terminate(): Promise<void> {
    if (this.hasExited) return;
    this.worker.ref();
    // A thread that died inside a call never brings its count back down: its exit is as good as the close.
    await Promise.race([this.guard.close(), this.exited]);
    await this.worker.terminate();
  }

  /** An idle thread must not keep the process alive; one with work in flight must. */
  private refWhileBusy(): void {
    if (this.pending.size > 0) {
      this.worker.ref();
      return;
    }
    if (this.gone === undefined) this.worker.unref();
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/**
 * The worker's inference engine for one device: a `worker_threads` thread that holds the real onnxruntime
 * sessions (`engine-thread.ts`), so the main thread — BullMQ's lock renewal, heartbeats, `/metrics`, the
 * batcher, shutdown — never waits on a run. Tensors cross as transferred buffers; float16 exports are converted
 * in the thread. The thread starts on the first call (or `start()`).
 *
 * A thread that dies (an uncaught error or `process.exit` in it, or `kill()`) fails its calls in flight with the
 * retryable `E_ENGINE_LOST`; the next call starts a new thread (a new `generation`), where `EngineSession`s
 * re-create their sessions. A native crash (a segfault in a provider) is not survivable in a thread: it ends the
 * process, and the worker's jobs return to the queue when their locks lapse.
 */
export class InferenceEngine {
  private readonly options: Required<InferenceEngineOptions>;
  private current: EngineThread | undefined;
  private generationCounter = 0;
  private restartCount = 0;
  private closed = false;
  private readonly retiring = new Set<Promise<void>>();
  /**
   * Feeds seen before, by tensor: fed a second time (a batch's conditioning, at every denoising step), a tensor is
   * kept in the thread, and from then on only its id crosses. Per-step tensors are fed once and never kept.
   */
  private readonly seenFeeds = new WeakMap<ort.Tensor, { generation: number; keptAs?: number }>();
  private nextFeedId = 1;
  /** Ids of kept feeds whose tensor was collected here: the thread drops them with the next run. */
  private readonly forgotten: number[] = [];
  private readonly feedRegistry = new FinalizationRegistry<number>((id) => this.forgotten.push(id));

  constructor(options: InferenceEngineOptions = {}) {
    this.options = { ...INFERENCE_ENGINE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    if (!Number.isInteger(this.options.cudaDeviceId) || this.options.cudaDeviceId < 0) throw new RangeError(`cudaDeviceId must be an integer >= 0, got ${this.options.cudaDeviceId}`);
    if (!Number.isInteger(this.options.intraOpThreads) || this.options.intraOpThreads < 0) throw new RangeError(`intraOpThreads must be an integer >= 0, got ${this.options.intraOpThreads}`);
  }

  get executionProvider(): ProviderMode {
    return this.options.executionProvider;
  }

  /** Threads started after a lost one. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Calls (creations, runs, releases) the live thread has not answered yet. */
  get callsInFlight(): number {
    return this.current?.requestsInFlight ?? 0;
  }

  /** Whether sessions opened in `generation` are still open (their thread is the live one). */
  isCurrent(generation: number): boolean {
    return this.current !== undefined && this.current.gone === undefined && this.current.generation === generation;
  }

  /** Starts the thread now instead of on the first call; resolves once it runs, with what it found. */
  async start(): Promise<{ cudaAvailable: boolean }> {
    return this.thread().ready;
  }

  async create(modelPath: string): Promise<OpenedSession> {
    const thread = this.thread();
    await thread.ready;
    const created = await thread.request<CreatedSession>({ op: 'create', modelPath });
    return { ...created, generation: thread.generation };
  }

  /** @param fetches the outputs wanted (see `ModelSession.run`). @default every output */
  async run(session: Pick<OpenedSession, 'generation' | 'sessionId'>, feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const thread = this.threadOf(session.generation);
    const transfer: ArrayBuffer[] = [];
    const wire: Record<string, WireTensor | WireFeedRef> = {};
    for (const [name, tensor] of Object.entries(feeds)) wire[name] = this.feedToWire(tensor, thread.generation, transfer);
    const forget = this.forgotten.splice(0);
    const request = { op: 'run' as const, sessionId: session.sessionId, feeds: wire, ...(fetches === undefined ? {} : { fetches: [...fetches] }), ...(forget.length === 0 ? {} : { forget }) };
    const { outputs } = await thread.request<{ outputs: Record<string, WireTensor> }>(request, transfer);
    const results: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(outputs)) results[name] = fromWireTensor(tensor);
    return results;
  }

  private feedToWire(tensor: ort.Tensor, generation: number, transfer: ArrayBuffer[]): WireTensor | WireFeedRef {
    const seen = this.seenFeeds.get(tensor);
    if (seen !== undefined && seen.generation === generation) {
      if (seen.keptAs !== undefined) return { ref: seen.keptAs };
      seen.keptAs = this.nextFeedId++;
      this.feedRegistry.register(tensor, seen.keptAs);
      return { ...toWireTensor(tensor, true, transfer), keepAs: seen.keptAs };
    }
    this.seenFeeds.set(tensor, { generation });
    return toWireTensor(tensor, true, transfer);
  }

  /** Frees a session; one whose thread is gone went with it. */
  async release(session: Pick<OpenedSession, 'generation' | 'sessionId'>): Promise<void> {
    if (!this.isCurrent(session.generation)) return;
    await this.current!.request({ op: 'release', sessionId: session.sessionId }).catch((error: unknown) => {
      if (!this.isCurrent(session.generation)) return;
      throw error;
    });
  }

  /**
   * Ends the thread now: its calls in flight fail at once (`E_ENGINE_LOST`, or `E_SHUTDOWN` when the worker is
   * stopping past its deadline, so their jobs go back to the queue), and the next call starts a new thread (after
   * a `shutdown` kill none does: the engine is closed). The
   * old thread is terminated as soon as it is out of the onnxruntime call it may be in; the promise resolves
   * then. Also the test hook for an engine lost mid-run.
   */
  kill(reason: 'lost' | 'shutdown' = 'lost'): Promise<void> {
    // A worker stopping past its deadline wants no new thread: its other batches' next steps fail too.
    if (reason === 'shutdown') this.closed = true;
    const thread = this.current;
    if (thread === undefined) return Promise.resolve();
    this.current = undefined;
    const error =
      reason === 'shutdown'
        ? new FleetError('E_SHUTDOWN', 'the worker stopped past its shutdown deadline while this ran; the job goes back to the queue')
        : new FleetError('E_ENGINE_LOST', 'the inference engine was killed with work in flight; it restarts on the next call and the work is retried');
    thread.fail(error);
    if (reason === 'lost') this.options.onLost(error);
    return this.retire(thread);
  }

  /** Test hook: makes the thread die by itself between onnxruntime calls (`exit`: `process.exit`; `throw`: an uncaught error). */
  dieForTest(how: 'exit' | 'throw'): void {
    this.current?.post({ op: 'die', how });
  }

  /** Takes no more calls, waits for those in flight, then ends the thread (and any being retired). */
  async close(): Promise<void> {
    this.closed = true;
    const thread = this.current;
    this.current = undefined;
    if (thread !== undefined) {
      await thread.idle();
      thread.fail(new FleetError('E_SHUTDOWN', 'the inference engine is closed'));
      await this.retire(thread);
    }
    await Promise.all(this.retiring);
  }

  private retire(thread: EngineThread): Promise<void> {
    const done = thread.terminate().finally(() => this.retiring.delete(done));
    this.retiring.add(done);
    return done;
  }

  private thread(): EngineThread {
    if (this.closed) throw new FleetError('E_SHUTDOWN', 'the inference engine is closed');
    if (this.current !== undefined && this.current.gone === undefined) return this.current;
    if (this.generationCounter > 0) this.restartCount++;
    this.current = new EngineThread(++this.generationCounter, this.options, (thread, error) => {
      if (this.current === thread) this.current = undefined;
      this.options.onLost(error);
    });
    return this.current;
  }

  private threadOf(generation: number): EngineThread {
    if (this.isCurrent(generation)) return this.current!;
    throw new FleetError('E_ENGINE_LOST', 'the inference engine this session was opened in is gone; the session is re-created on its next run');
  }
}
