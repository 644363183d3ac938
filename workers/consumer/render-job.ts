import type { Job } from 'bullmq';
import type { JobData, JobResult } from '../../contract/index.js';
import type { RawImage } from '../pipelines/index.js';

/** What the worker hands the batcher for one job (the batch item's payload). */
export interface RenderJob {
  job: Job<JobData, JobResult>;
  /** Epoch ms when this worker took the job from the queue. */
  takenAt: number;
  /** What the model renders: a size it allows (post-processing resizes to the requested size). */
  render: { width: number; height: number };
  /** The artifact's size (see `prepareRenderJob`); undefined: what the model gave. */
  output: { width: number; height: number } | undefined;
  steps?: number;
  guidanceScale?: number;
  /** Upscale only: the source image's bytes, read before the batch so no I/O holds VRAM. */
  source?: Buffer;
  /** Edits only: the source's and mask's bytes (read before the batch, as an upscale's) and the strength. */
  edit?: { source: Buffer; mask?: Buffer; strength: number };
}

/** What inference gives back for one job. */
export interface InferenceOutput {
  raw: RawImage;
  batchId: string;
  batchSize: number;
  /** Epoch ms when the batch started. */
  batchStartedAt: number;
  inferenceMs: number;
}
