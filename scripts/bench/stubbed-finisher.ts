// For one overhead row only: the worker's finisher (resize, sharp encode, store) replaced, in this process, by
// one that builds the same result without touching the image. It isolates what the queue, the lane consumer
// and the micro-batcher cost per job. Nothing in workers/ changes: the bench patches the prototype for the
// duration of one call and restores it, so no production option exists for skipping the real work.
import type { JobResult } from '../../contract/index.js';
import { JobFinisher } from '../../workers/job-finisher.js';

type Finish = JobFinisher['finish'];

const stubFinish: Finish = async (renderJob, output, manifest) => {
  const { job, takenAt } = renderJob;
  const data = job.data;
  const target = data.size ?? { width: output.raw.width, height: output.raw.height };
  const format = data.request.format;
  const key = `${data.lane}/${job.id}.${format}`;
  const now = Date.now();
  const result: JobResult = {
    image: { url: `memory://bench/${key}`, key, bytes: 0, width: target.width, height: target.height, format },
    model: data.model,
    lane: data.lane,
    seed: data.request.seed,
    batch: { id: output.batchId, size: output.batchSize },
    costUnits: manifest.costUnitsPerImage,
    timings: {
      queueWaitMs: Math.max(0, takenAt - data.enqueuedAt),
      batchWaitMs: Math.max(0, output.batchStartedAt - takenAt),
      inferenceMs: output.inferenceMs,
      postProcessMs: 0,
      uploadMs: 0,
      endToEndMs: Math.max(0, now - data.enqueuedAt),
    },
  };
  return { result, timings: { postProcessMs: 0, uploadMs: 0 } };
};

/** Runs `fn` with every JobFinisher in this process skipping resize, encode and store. */
export async function withStubbedFinisher<T>(fn: () => Promise<T>): Promise<T> {
  const original = JobFinisher.prototype.finish;
  JobFinisher.prototype.finish = stubFinish;
  try {
    return await fn();
  } finally {
    JobFinisher.prototype.finish = original;
  }
}
