import type { JobResult, TextCheckReport } from '../../contract/index.js';
import type { ModelDescription } from '../models/model-description.js';
import { encodeImage, resizeRaw, type RawImage } from '../pipelines/index.js';
import type { InferenceOutput, RenderJob } from './render-job.js';
import type { ArtifactStore } from '../stores/artifact-store.js';

/**
 * The typography lane's text step: draws the text on the background and checks it by OCR.
 * Receives the background at its final size; returns the image to store and the report.
 */
export interface TextStage {
  apply(background: RawImage, job: RenderJob): Promise<{ image: RawImage; report: TextCheckReport | { checked: false; reason: string } }>;
}

/** Time spent after inference, for metrics. */
export interface FinishTimings {
  postProcessMs: number;
  uploadMs: number;
}

/**
 * What happens to one job after its batch ran: turn the model's output into the job's result, storing its
 * artifact first (a job is completed only once its artifact is stored). {@link JobFinisher} is the fleet's;
 * `FleetWorkerOptions.finisher` takes another (benchmarks measure the fleet's own cost per job with one that
 * does no image work).
 */
export interface Finisher {
  finish(renderJob: RenderJob, output: InferenceOutput, model: ModelDescription): Promise<{ result: JobResult; timings: FinishTimings }>;
}

/**
 * After inference: resize to the requested size, draw and check text (typography), encode with sharp,
 * store the image (and a thumbnail for previews) under keys derived from the job id, so a retried job
 * overwrites its own artifact and never leaves a second one.
 */
export class JobFinisher implements Finisher {
  constructor(
    private readonly store: ArtifactStore,
    private readonly textStage: TextStage | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async finish(renderJob: RenderJob, output: InferenceOutput, model: ModelDescription): Promise<{ result: JobResult; timings: FinishTimings }> {
    const { job, takenAt } = renderJob;
    const data = job.data;
    const postStarted = performance.now();
    const target = renderJob.output ?? { width: output.raw.width, height: output.raw.height };
    let image = await resizeRaw(output.raw, target.width, target.height);
    let text: JobResult['text'];
    if (data.lane === 'typography' && this.textStage !== undefined) {
      const staged = await this.textStage.apply(image, renderJob);
      image = staged.image;
      text = staged.report;
    }
    const format = data.request.format;
    const encoded = await encodeImage(image, { format, thumbnail: data.request.intent === 'preview' });
    const postProcessMs = performance.now() - postStarted;

    const uploadStarted = performance.now();
    const base = `${data.lane}/${job.id}`;
    const [stored, thumb] = await Promise.all([
      this.store.put(`${base}.${format}`, encoded.data, encoded.contentType),
      encoded.thumbnail ? this.store.put(`${base}.thumb.webp`, encoded.thumbnail.data, encoded.thumbnail.contentType) : undefined,
    ]);
    const uploadMs = performance.now() - uploadStarted;

    const result: JobResult = {
      image: { ...stored, width: encoded.width, height: encoded.height, format },
      model: data.model,
      lane: data.lane,
      seed: data.request.seed,
      ...(renderJob.steps === undefined ? {} : { steps: renderJob.steps }),
      batch: { id: output.batchId, size: output.batchSize },
      ...(text === undefined ? {} : { text }),
      costUnits: model.costUnitsPerImage,
      timings: {
        queueWaitMs: Math.max(0, takenAt - data.enqueuedAt),
        batchWaitMs: Math.max(0, output.batchStartedAt - takenAt),
        inferenceMs: roundTimingMs(output.inferenceMs),
        postProcessMs: roundTimingMs(postProcessMs),
        uploadMs: roundTimingMs(uploadMs),
        endToEndMs: Math.max(0, this.now() - data.enqueuedAt),
      },
    };
    if (thumb && encoded.thumbnail) result.thumbnail = { ...thumb, width: encoded.thumbnail.width, height: encoded.thumbnail.height, format: 'webp' };
    return { result, timings: { postProcessMs, uploadMs } };
  }
}

/** A stage time as a job's result reports it: to 0.1 ms (a double's full digits only lengthen what BullMQ stores). */
export function roundTimingMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}
