// The engine thread's entry: the worker's real onnxruntime sessions live here, so a run (which holds its
// thread for the whole graph) never holds the main thread's event loop. See `InferenceEngine`.
import { parentPort, workerData } from 'node:worker_threads';
import { FleetError } from '../../contract/errors.js';
import type ort from 'onnxruntime-node';
import { fromWireTensor, toWireError, toWireTensor, type EngineReply, type EngineRequest, type EngineThreadData, type WireFeedRef, type WireTensor } from './engine-protocol.js';
import { NativeCallGuard } from './native-call-guard.js';
import { isCudaAvailable, OnnxSessionFactory, type ExecutionProviderName, type ModelSession } from './onnx-session-factory.js';

if (parentPort === null) throw new Error('engine-thread.ts runs as a worker thread (see InferenceEngine)');
const port = parentPort;
const data = workerData as EngineThreadData;
const guard = new NativeCallGuard(data.guard);

const closed = () => new FleetError('E_SHUTDOWN', 'the inference engine is closing and takes no more work');

let lastProvider: { provider: ExecutionProviderName; fallbackReason: unknown } | undefined;
const factory = new OnnxSessionFactory({ ...data.factory, onProvider: (provider, _path, fallbackReason) => (lastProvider = { provider, fallbackReason }) });
const sessions = new Map<number, ModelSession>();
/**
 * Feeds the main thread keeps referring to (by id), least recently used first: a batch's conditioning, converted
 * once (the float16 boundary caches by tensor) instead of at every step. Capped so forgotten ids cannot pile up.
 */
const keptFeeds = new Map<number, ort.Tensor>();
const KEPT_FEEDS_MAX = 32;

function feedFrom(wire: WireTensor | WireFeedRef): ort.Tensor {
  if ('ref' in wire) {
    const kept = keptFeeds.get(wire.ref);
    if (kept === undefined) throw new FleetError('E_INTERNAL', `engine feed ${wire.ref} is not kept (evicted?)`);
    keptFeeds.delete(wire.ref);
    keptFeeds.set(wire.ref, kept);
    return kept;
  }
  const tensor = fromWireTensor(wire);
  if (wire.keepAs !== undefined) {
    keptFeeds.set(wire.keepAs, tensor);
    while (keptFeeds.size > KEPT_FEEDS_MAX) keptFeeds.delete(keptFeeds.keys().next().value!);
  }
  return tensor;
}
let nextSessionId = 1;

function reply(message: EngineReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function handle(request: EngineRequest): Promise<void> {
  try {
    switch (request.op) {
      case 'create': {
        const { session, provider } = await guard.around(async () => {
          const created = await factory.create(request.modelPath);
          return { session: created, provider: lastProvider };
        }, closed);
        const sessionId = nextSessionId++;
        sessions.set(sessionId, session);
        reply({
          kind: 'reply',
          id: request.id,
          ok: true,
          value: {
            sessionId,
            inputs: [...session.inputs].map((t) => ({ ...t, dims: [...t.dims] })),
            outputs: [...session.outputs].map((t) => ({ ...t, dims: [...t.dims] })),
            executionProvider: session.executionProvider ?? provider?.provider ?? 'cpu',
            ...(provider?.fallbackReason === undefined ? {} : { fallbackReason: toWireError(provider.fallbackReason) }),
          },
        });
        return;
      }
      case 'run': {
        const session = sessions.get(request.sessionId);
        if (session === undefined) throw new FleetError('E_INTERNAL', `engine session ${request.sessionId} is not open (released?)`);
        for (const id of request.forget ?? []) keptFeeds.delete(id);
        const feeds = Object.fromEntries(Object.entries(request.feeds).map(([name, tensor]) => [name, feedFrom(tensor)]));
        const results = await guard.around(() => session.run(feeds, request.fetches), closed);
        const transfer: ArrayBuffer[] = [];
        const outputs: Record<string, WireTensor> = {};
        for (const [name, tensor] of Object.entries(results)) outputs[name] = toWireTensor(tensor, false, transfer);
        reply({ kind: 'reply', id: request.id, ok: true, value: { outputs } }, transfer);
        return;
      }
      case 'release': {
        const session = sessions.get(request.sessionId);
        sessions.delete(request.sessionId);
        if (session !== undefined) await guard.around(() => session.release(), closed);
        reply({ kind: 'reply', id: request.id, ok: true, value: null });
        return;
      }
      case 'die':
        if (request.how === 'exit') process.exit(70);
        setImmediate(() => {
          throw new Error('engine test hook: an uncaught error in the engine thread');
        });
        return;
    }
  } catch (error) {
    reply({ kind: 'reply', id: request.id, ok: false, error: toWireError(error) });
  }
}

// One request at a time: onnxruntime's calls hold this thread anyway, and a creation's provider report then
// belongs to that creation.
let queue = Promise.resolve();
port.on('message', (request: EngineRequest) => {
  queue = queue.then(() => handle(request));
});
reply({ kind: 'ready', cudaAvailable: data.factory.executionProvider !== 'cpu' && isCudaAvailable() });
