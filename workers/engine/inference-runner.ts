import { randomUUID } from 'node:crypto';
import type { Batch, ItemOutcome, ModelSpec } from '../../batching/index.js';
import { FleetError, type Lane } from '../../contract/index.js';
import type { ModelDescription } from '../models/model-description.js';
import type { ModelRepository } from '../models/model-repository.js';
import { loadPipeline, type Pipeline } from '../pipelines/index.js';
import type { SessionFactory } from './onnx-session-factory.js';
import type { InferenceOutput, RenderJob } from '../consumer/render-job.js';

/**
 * The batcher's side effects: loading and unloading models, and running a batch on them. A diffusion
 * batch runs as one tensor batch; upscales run one source at a time (tiles batch inside). Errors that
 * concern one item (a source that does not decode) fail that item only.
 */
export class InferenceRunner {
  private readonly pipelines = new Map<string, Pipeline>();

  private readonly loadOne: (model: ModelDescription) => Promise<Pipeline>;

  constructor(
    private readonly repository: ModelRepository,
    sessionFactory: SessionFactory | undefined,
    pipelineLoader?: (model: ModelDescription) => Promise<Pipeline>,
    private readonly now: () => number = Date.now,
  ) {
    this.loadOne = pipelineLoader ?? ((model) => loadPipeline(model, sessionFactory ? { sessionFactory } : {}));
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

  load = async (model: string): Promise<void> => {
    if (this.pipelines.has(model)) return;
    this.pipelines.set(model, await this.loadOne(await this.repository.describe(model)));
  };

  unload = async (model: string): Promise<void> => {
    const pipeline = this.pipelines.get(model);
    this.pipelines.delete(model);
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
      try {
        return (await pipeline.run(batch.payloads.map(itemOf))).map(output);
      } catch (error) {
        if (isOutOfMemory(error) || batch.payloads.length === 1) throw error;
        // One poison item must not fail its batch-mates: run them one by one, so only it fails.
        const outcomes: ItemOutcome<InferenceOutput>[] = [];
        for (const payload of batch.payloads) {
          try {
            outcomes.push(output((await pipeline.run([itemOf(payload)]))[0]!));
          } catch (itemError) {
            if (isOutOfMemory(itemError)) throw itemError;
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
        if (isOutOfMemory(error)) throw error; // let the batcher bisect and learn
        outcomes.push({ ok: false, error });
      }
    }
    return outcomes;
  };

  async close(): Promise<void> {
    for (const model of [...this.pipelines.keys()]) await this.unload(model);
  }
}

function isOutOfMemory(error: unknown): boolean {
  return (error as { code?: string })?.code === 'E_OOM';
}
