import { effectiveStrength, ValidationError, type JobData } from '../../contract/index.js';
import { batchKeyOf } from './edit-job.js';
import type { ModelDescription } from '../models/model-description.js';
import { planRenderSize } from './render-size.js';

/** Where the producer left no size (it always sets one for text-to-image lanes), the model renders this. */
const FALLBACK_SIZE = { width: 512, height: 512 } as const;

/**
 * Everything the worker decides about a job before it joins a batch, in one place: what the model renders, the
 * size the artifact is resized to, the steps and guidance, and which jobs it may share a batch with.
 */
export interface RenderPlan {
  /** What the model renders: a size it allows (an upscale's: its tile). */
  render: { width: number; height: number };
  /** The artifact's size; undefined: what the model gave (an upscale: the source times its scale). */
  output: { width: number; height: number } | undefined;
  steps?: number;
  guidanceScale?: number;
  /** Jobs of one lane and model with the same key may share a batch. */
  batchKey: string;
}

/**
 * The one place a job's render size and settings are decided (the producer checks the request against the model's
 * limits at the edge; the consumer and the finisher only follow this plan). `alone`: a batch of its own (a job
 * suspected of crashing its worker, see CrashIsolation). Pure.
 * @throws ValidationError (E_VALIDATION) for more steps than the model runs, or an upscale without a source
 */
export function prepareRenderJob(data: JobData, jobId: string, model: ModelDescription, alone = false): RenderPlan {
  const output = data.size ?? undefined;
  if (model.kind === 'upscale') {
    if (data.request.source === undefined) throw new ValidationError('upscale needs source.key', 'source');
    const side = model.tile.sizePx;
    return { render: { width: side, height: side }, output, batchKey: alone ? `alone:${jobId}` : `source:${jobId}` };
  }
  const steps = data.request.steps ?? model.defaultSteps;
  if (steps > model.maxSteps) throw new ValidationError(`model ${model.name} runs at most ${model.maxSteps} steps, got ${steps}`, 'steps');
  const target = output ?? FALLBACK_SIZE;
  const strength = effectiveStrength(data.request);
  return {
    render: planRenderSize(model.sizes, target.width, target.height),
    output,
    steps,
    guidanceScale: model.guidanceScale,
    // An edit batches only with edits of its strength: a batch runs one schedule.
    batchKey: alone ? `alone:${jobId}` : batchKeyOf({ steps, guidanceScale: model.guidanceScale, ...(strength === null ? {} : { edit: { strength } }) }),
  };
}
