import type { JobResult } from '../../contract/index.js';
import { roundTimingMs, type Finisher } from '../../workers/index.js';

/**
 * The no-op lane's finisher, injected through `FleetWorkerOptions.finisher`: it builds the job's result from
 * the batch output without touching an image (no resize, encode or store), so the overhead benchmark measures
 * what the fleet itself costs per job: queue, lane consumer, micro-batcher, metrics, logs and the result.
 */
export const noopFinisher: Finisher = {
  async finish(renderJob, output, manifest) {
    const { job, takenAt } = renderJob;
    const data = job.data;
    const format = data.request.format;
    const key = `${data.lane}/${job.id}.${format}`;
    const result: JobResult = {
      image: { url: `memory://bench/${key}`, key, bytes: 0, width: output.raw.width, height: output.raw.height, format },
      model: data.model,
      lane: data.lane,
      seed: data.request.seed,
      batch: { id: output.batchId, size: output.batchSize },
      costUnits: manifest.costUnitsPerImage,
      timings: {
        queueWaitMs: Math.max(0, takenAt - data.enqueuedAt),
        batchWaitMs: Math.max(0, output.batchStartedAt - takenAt),
        inferenceMs: roundTimingMs(output.inferenceMs),
        postProcessMs: 0,
        uploadMs: 0,
        endToEndMs: Math.max(0, Date.now() - data.enqueuedAt),
      },
    };
    return { result, timings: { postProcessMs: 0, uploadMs: 0 } };
  },
};
