import { randomUUID } from 'node:crypto';
import { isOutOfMemoryError, type Batch, type ItemOutcome, type ModelSpec } from '../../batching/index.js';
import { describeError, FleetError, findErrorWithCode, type Lane } from '../../contract/index.js';
import type { ModelDescription } from '../models/model-description.js';
import type { ModelRepository } from '../models/model-repository.js';
import { loadPipeline, type Pipeline } from '../pipelines/index.js';
import type { ModelSession, SessionFactory } from './onnx-session-factory.js';
import type { InferenceOutput, RenderJob } from '../consumer/render-job.js';

/**
 * Loads a model's pipeline on the worker's sessions (`sessions`: the engine's, or the injected factory), so a
 * wrapped or simulated pipeline that opens ONNX sessions still runs them off the main thread.
 */
export type PipelineLoader = (model: ModelDescription, sessions: SessionFactory) => Promise<Pipeline>;

/**
 * Where a model a worker loaded runs, for `fleet status`: `cuda`, `cpu`, `cuda+cpu` (some of its sessions fell
 * back to the CPU), `n/a` (its pipeline opened no ONNX session: an injected one). A model whose last load failed
 * is `failed`, with the error; it is tried again at its next load.
 */
export interface ModelReport {
  name: string;
  provider: 'cuda' | 'cpu' | 'cuda+cpu' | 'n/a' | 'failed';
  /** Why the last load failed (the message and its causes). */
  error?: string;
}

export interface InferenceRunnerOptions {
  repository: ModelRepository;
  /** Where pipelines open their sessions. */
  sessionFactory: SessionFactory;
  /** @default `loadPipeline` on `sessionFactory` */
  pipelineLoader?: PipelineLoader;
  /** The device the worker's sessions run on (a CPU worker refuses CUDA-only graphs before loading them). @default 'cpu' */
  provider?: 'cuda' | 'cpu';
  /** @default Date.now */
  now?: () => number;
}

/** Records the sessions one model load opens, to tell where the model runs. */
function recordingFactory(factory: SessionFactory): { factory: SessionFactory; sessions: ModelSession[] } {
  const sessions: ModelSession[] = [];
  return {
    sessions,
    factory: {
      create: async (modelPath) => {
        const session = await factory.create(modelPath);
        sessions.push(session);
        return session;
      },
    },
  };
}

function providerOf(sessions: readonly ModelSession[]): ModelReport['provider'] {
  const providers = new Set(sessions.map((session) => session.executionProvider));
  if (providers.size === 0 || providers.has(undefined)) return 'n/a';
  if (providers.size > 1) return 'cuda+cpu';
  return providers.has('cuda') ? 'cuda' : 'cpu';
}

/** The engine's own failures: the thread was lost, or stopped under the run. They fail the whole batch at once. */
function engineFailure(error: unknown): FleetError | undefined {
  return findErrorWithCode(error, 'E_ENGINE_LOST') ?? findErrorWithCode(error, 'E_SHUTDOWN');
}

/**
 * The batcher's side effects: loading and unloading models, and running a batch on them. A diffusion
 * batch (text to image, or edits) runs as one tensor batch; upscales run one source at a time (tiles batch inside). Errors that
 * concern one item (a source that does not decode) fail that item only; out-of-memory errors go to the batcher
 * (it bisects and learns), and an engine lost under the batch fails every item with `E_ENGINE_LOST` (retried).
 */
export class InferenceRunner {
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly reports = new Map<string, ModelReport>();
  private readonly loadOne: PipelineLoader;
  private readonly repository: ModelRepository;
  private readonly sessionFactory: SessionFactory;
  private readonly now: () => number;

  constructor(options: InferenceRunnerOptions) {
    this.repository = options.repository;
    this.sessionFactory = options.sessionFactory;
    this.now = options.now ?? Date.now;
    const provider = options.provider ?? 'cpu';
    this.loadOne = options.pipelineLoader ?? ((model, sessions) => loadPipeline(model, { sessionFactory: sessions, provider }));
  }

  /**
   * The batcher's model table from the repository's descriptions, and the folders that could not be described (a
   * broken drop-in is reported, not fatal: the other models still serve, and its jobs fail with its error).
   */
  async modelSpecs(): Promise<{ specs: Record<string, ModelSpec>; broken: Array<{ name: string; error: FleetError }> }> {
    const specs: Record<string, ModelSpec> = {};
    const broken: Array<{ name: string; error: FleetError }> = [];
    for (const { name, model, error } of await this.repository.survey()) {
      if (model !== undefined) specs[name] = { weightBytes: model.residentBytes, activationBytesPerMegapixel: model.activationBytesPerMegapixel };
      else if (error !== undefined) broken.push({ name, error });
    }
    return { specs, broken };
  }

  /** Models loaded now, and those whose last load failed. */
  models(): ModelReport[] {
    return [...this.reports.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  report(model: string): ModelReport | undefined {
    return this.reports.get(model);
  }

  load = async (model: string): Promise<void> => {
    if (this.pipelines.has(model)) return;
    const recorder = recordingFactory(this.sessionFactory);
    try {
      this.pipelines.set(model, await this.loadOne(await this.repository.describe(model), recorder.factory));
    } catch (error) {
      this.reports.set(model, { name: model, provider: 'failed', error: describeError(error) });
      throw error;
    }
    this.reports.set(model, { name: model, provider: providerOf(recorder.sessions) });
  };

  unload = async (model: string): Promise<void> => {
    const pipeline = this.pipelines.get(model);
    this.pipelines.delete(model);
    if (pipeline !== undefined) this.reports.delete(model);
    await pipeline?.release();
  };

  run = async (batch: Batch<RenderJob, Lane>): Promise<ItemOutcome<InferenceOutput>[]> => {
    const pipeline = this.pipelines.get(batch.model);
    if (pipeline === undefined) throw new FleetError('E_MODEL_LOAD', `model ${batch.model} is not loaded`);
    const batchId = randomUUID().slice(0, 8);
    const startedAt = this.now();
    const started = performance.now();
    const output = (raw: InferenceOutput['raw']): ItemOutcome<InferenceOutput> => ({
      ok: true,
      value: { raw, batchId, batchSize: batch.payloads.length, batchStartedAt: startedAt, inferenceMs: performance.now() - started },
    });
    if (pipeline.kind === 'diffusion') {
      const first = batch.payloads[0]!;
      const itemOf = (p: RenderJob) => ({
        prompt: p.job.data.request.prompt,
        ...(p.job.data.request.negativePrompt === undefined ? {} : { negativePrompt: p.job.data.request.negativePrompt }),
        seed: p.job.data.request.seed,
        width: first.render.width,
        height: first.render.height,
        ...(first.steps === undefined ? {} : { steps: first.steps }),
        ...(first.guidanceScale === undefined ? {} : { guidanceScale: first.guidanceScale }),
      });
      const render = (payloads: readonly RenderJob[]) => {
        if (first.edit === undefined) return pipeline.run(payloads.map(itemOf));
        if (pipeline.edit === undefined) throw new FleetError('E_VALIDATION', `model ${batch.model}'s pipeline cannot edit`, { field: 'intent' });
        return pipeline.edit(payloads.map((p) => ({ ...itemOf(p), source: p.edit!.source, ...(p.edit!.mask === undefined ? {} : { mask: p.edit!.mask }), strength: p.edit!.strength })));
      };
      try {
        return (await render(batch.payloads)).map(output);
      } catch (error) {
        const lost = engineFailure(error);
        if (lost !== undefined) throw lost;
        if (isOutOfMemoryError(error) || batch.payloads.length === 1) throw error;
        // One poison item must not fail its batch-mates: run them one by one, so only it fails.
        const outcomes: ItemOutcome<InferenceOutput>[] = [];
        for (const payload of batch.payloads) {
          try {
            outcomes.push(output((await render([payload]))[0]!));
          } catch (itemError) {
            const itemLost = engineFailure(itemError);
            if (itemLost !== undefined) throw itemLost;
            if (isOutOfMemoryError(itemError)) throw itemError;
            outcomes.push({ ok: false, error: itemError });
          }
        }
        return outcomes;
      }
    }
    const outcomes: ItemOutcome<InferenceOutput>[] = [];
    for (const payload of batch.payloads) {
      try {
        if (payload.source === undefined) throw new FleetError('E_SOURCE', 'upscale job without source bytes');
        outcomes.push(output(await pipeline.upscale(payload.source)));
      } catch (error) {
        const lost = engineFailure(error);
        if (lost !== undefined) throw lost;
        if (isOutOfMemoryError(error)) throw error; // let the batcher bisect and learn
        outcomes.push({ ok: false, error });
      }
    }
    return outcomes;
  };

  async close(): Promise<void> {
    for (const model of [...this.pipelines.keys()]) await this.unload(model);
  }
}
