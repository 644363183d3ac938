// Inference through the fleet against a raw onnxruntime loop, on the real ONNX flash model (CPU here).
// See README "Benchmarks".
import { mkdtempSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LaneOptions } from '../../batching/index.js';
import { createProducer, type Producer } from '../../producer/index.js';
import { FileStore, LANE_BATCHING_DEFAULTS, ModelRepository } from '../../workers/index.js';
import { loadPipeline, OnnxSessionFactory, type GenerateItem } from '../../workers/pipelines/index.js';
import type { Histogram } from 'prom-client';
import { benchPrefix, deletePrefix, REDIS_URL, startBenchWorker } from './bench-fleet.js';
import { mean, percentile, round } from './bench-stats.js';

export interface InferenceOptions {
  modelsDir: string;
  /** Images each fleet configuration completes in its measured window. */
  fleetImages: number;
  /** Timed raw batches per batch size. */
  rawRounds: number;
  /** Clients each holding one request at a time (enqueue, wait, repeat). @default 8 */
  clients?: number;
  log: (line: string) => void;
}

export interface FleetInferenceFigures {
  imagesPerSec: number;
  p50Ms: number;
  p95Ms: number;
  meanBatchSize: number;
  /** Mean per job, ms: inference (the batch's run), post-processing (resize + sharp encode), store. */
  inferenceMs: number;
  postProcessMs: number;
  uploadMs: number;
  /**
   * Images per second of the worker's own model time in the measured window: Σ batch items (fleet_batch_size)
   * ÷ Σ batch run time (fleet_inference_seconds). What the batching path sustains back to back, leaving out
   * the encode and queue work that share the CPU with it here (but not their slowing of inference).
   */
  inferenceOnlyImagesPerSec: number;
  /** p99 of this process's event-loop delay over the measured window (monitorEventLoopDelay), ms. */
  eventLoopDelayP99Ms: number;
}

/** The event-loop delay monitor the figures use: `p99Ms()` once the window is over. */
function loopDelayWindow(): { p99Ms: () => number } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return {
    p99Ms: () => {
      histogram.disable();
      return round(histogram.percentile(99) / 1e6, 1);
    },
  };
}

export interface InferenceResult {
  model: string;
  sizePx: number;
  provider: string;
  /** Raw pipeline at batch 4, images/s (the same batch size the fleet's flash lane runs): mean of the runs before and after the fleet's. */
  rawImagesPerSec: number;
  rawBatch1ImagesPerSec: number;
  /** The event-loop delay p99 of the raw loop, which runs on this thread (what a worker's loop suffered before the engine thread), ms. */
  rawEventLoopDelayP99Ms: { batch1: number; batch4: number };
  /** The raw runs before and after the fleet's, images/s: how much the machine drifted meanwhile. */
  rawSpread: { before: { batch1: number; batch4: number }; after: { batch1: number; batch4: number } };
  /** The fleet as deployed: flash lane 4 items / 80 ms, adaptive batch size. */
  fleetImagesPerSec: number;
  /** The fleet with maxBatchSize 1. */
  batch1ImagesPerSec: number;
  ratioVsRaw: number;
  ratioVsBatch1: number;
  /**
   * What batching gains the fleet (as deployed ÷ fleet batch 1) over what it gains the model itself (raw batch 4 ÷
   * raw batch 1), in the same run: 1 means the fleet keeps all of the model's own batch gain.
   */
  batchGainVsRawGain: number;
  /**
   * The raw loop with onnxruntime's default session settings (idle intra-op threads spin), images/s at batch 1
   * and 4: what the fleet's session settings gain on this machine. Not a goal figure.
   */
  rawOrtDefaults: { batch1ImagesPerSec: number; batch4ImagesPerSec: number };
  /** The as-deployed configuration's inference-only rate ÷ raw batch 4 (not a goal: the batching path alone). */
  inferenceOnlyRatioVsRaw: number;
  p50Ms: number;
  p95Ms: number;
  configurations: Record<'batch1' | 'fixed4x80' | 'adaptive', FleetInferenceFigures>;
  clients: number;
  imagesPerConfiguration: number;
}

const MODEL = 'flash-v1';
const SIZE_PX = 512;

/** `intraOpSpinning` true is onnxruntime's own default; the fleet's factory turns it off (see OnnxSessionFactoryOptions). */
async function rawImagesPerSec(
  modelsDir: string,
  rounds: number,
  intraOpSpinning = false,
): Promise<{ batch1: number; batch4: number; provider: string; loopDelayP99Ms: { batch1: number; batch4: number } }> {
  let provider = 'cpu';
  const factory = new OnnxSessionFactory({ executionProvider: 'cpu', intraOpSpinning, onProvider: (p) => (provider = p) });
  const pipeline = await loadPipeline(await new ModelRepository(modelsDir).describe(MODEL), { sessionFactory: factory });
  if (pipeline.kind !== 'diffusion') throw new Error(`${MODEL} is not a diffusion model`);
  const items = (count: number, r: number): GenerateItem[] =>
    Array.from({ length: count }, (_, i) => ({ prompt: `a red fox number ${i}`, seed: r * 100 + i, width: SIZE_PX, height: SIZE_PX }));
  const loopDelayP99Ms = { batch1: 0, batch4: 0 };
  const rate = async (batch: 1 | 4): Promise<number> => {
    await pipeline.run(items(batch, 999));
    const loopDelay = loopDelayWindow();
    const started = performance.now();
    for (let r = 0; r < rounds; r++) await pipeline.run(items(batch, r));
    const perSec = (batch * rounds) / ((performance.now() - started) / 1000);
    loopDelayP99Ms[`batch${batch}`] = loopDelay.p99Ms();
    return perSec;
  };
  const batch1 = await rate(1);
  const batch4 = await rate(4);
  await pipeline.release();
  return { batch1, batch4, provider, loopDelayP99Ms };
}

/** A histogram's sum over every label set. */
async function histogramSum(histogram: Histogram<string>): Promise<number> {
  const { values } = await histogram.get();
  return values.filter((v) => v.metricName?.endsWith('_sum')).reduce((sum, v) => sum + v.value, 0);
}

async function fleetRun(modelsDir: string, flash: LaneOptions, adaptiveBatching: boolean, images: number, clients: number): Promise<FleetInferenceFigures> {
  const prefix = benchPrefix('inference');
  const dir = mkdtempSync(join(tmpdir(), 'bench-renders-'));
  const store = new FileStore(dir);
  const producer: Producer = createProducer({ redis: REDIS_URL, prefix });
  const worker = await startBenchWorker(prefix, store, { lanes: ['flash'], modelsDir, batching: { flash }, adaptiveBatching, depthPollMs: 100 });
  try {
    await producer.ready();
    let issued = 0;
    const render = async (i: number) => {
      const receipt = await producer.enqueue({ prompt: `a red fox number ${i}`, seed: i, width: SIZE_PX, height: SIZE_PX, account: { id: `a${i % 7}`, tier: 'pro' } });
      const view = await producer.waitForResult(receipt.id, { timeoutMs: 120_000 });
      if (view.state !== 'completed') throw new Error(`inference job ${receipt.id} ${view.state}: ${JSON.stringify(view.error)}`);
      return view.result!;
    };
    // Warm-up: the model loads on the first batch; allocator arenas fill on the first few.
    await Promise.all(Array.from({ length: clients }, (_, i) => render(1_000_000 + i)));
    const before = worker.batcherStats()!;
    const modelSecondsBefore = await histogramSum(worker.metrics.inference);
    const batchItemsBefore = await histogramSum(worker.metrics.batchSize);
    const results: Array<NonNullable<Awaited<ReturnType<typeof render>>>> = [];
    const loopDelay = loopDelayWindow();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (issued < images) results.push(await render(issued++));
      }),
    );
    const elapsedS = (performance.now() - started) / 1000;
    const eventLoopDelayP99Ms = loopDelay.p99Ms();
    const after = worker.batcherStats()!;
    const modelSeconds = (await histogramSum(worker.metrics.inference)) - modelSecondsBefore;
    const batchItems = (await histogramSum(worker.metrics.batchSize)) - batchItemsBefore;
    const e2e = results.map((r) => r.timings.endToEndMs ?? NaN);
    return {
      imagesPerSec: round(results.length / elapsedS, 2),
      p50Ms: round(percentile(e2e, 0.5), 0),
      p95Ms: round(percentile(e2e, 0.95), 0),
      meanBatchSize: round((after.itemsResolved - before.itemsResolved) / Math.max(1, after.batchesStarted - before.batchesStarted), 2),
      inferenceMs: round(mean(results.map((r) => r.timings.inferenceMs ?? NaN)), 1),
      postProcessMs: round(mean(results.map((r) => r.timings.postProcessMs ?? NaN)), 1),
      uploadMs: round(mean(results.map((r) => r.timings.uploadMs ?? NaN)), 1),
      inferenceOnlyImagesPerSec: round(batchItems / modelSeconds, 2),
      eventLoopDelayP99Ms,
    };
  } finally {
    await producer.close();
    await worker.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(prefix);
  }
}

export async function runInferenceBench(options: InferenceOptions): Promise<InferenceResult> {
  const clients = options.clients ?? 8;
  const rawBefore = await rawImagesPerSec(options.modelsDir, options.rawRounds);
  options.log(`inference raw ${MODEL} ${SIZE_PX}²: batch 1 ${rawBefore.batch1.toFixed(2)} images/s, batch 4 ${rawBefore.batch4.toFixed(2)} images/s (${rawBefore.provider})`);
  const rawDefaults = await rawImagesPerSec(options.modelsDir, options.rawRounds, true);
  options.log(`inference raw, onnxruntime defaults (spinning): batch 1 ${rawDefaults.batch1.toFixed(2)}, batch 4 ${rawDefaults.batch4.toFixed(2)} images/s`);
  const flash = LANE_BATCHING_DEFAULTS.flash;
  const batch1 = await fleetRun(options.modelsDir, { ...flash, maxBatchSize: 1, maxLatencyMs: 0 }, false, options.fleetImages, clients);
  options.log(`inference fleet batch 1: ${batch1.imagesPerSec} images/s`);
  const fixed = await fleetRun(options.modelsDir, { ...flash, maxBatchSize: 4, maxLatencyMs: 80 }, false, options.fleetImages, clients);
  options.log(`inference fleet 4/80 ms: ${fixed.imagesPerSec} images/s`);
  const adaptive = await fleetRun(options.modelsDir, { ...flash, maxBatchSize: 4, maxLatencyMs: 80 }, true, options.fleetImages, clients);
  options.log(`inference fleet adaptive: ${adaptive.imagesPerSec} images/s (inference only ${adaptive.inferenceOnlyImagesPerSec})`);
  // The raw loop once more, after the fleet runs: the machine's speed drifts by tens of percent over minutes, so
  // the fleet is compared with the mean of the raw runs before and after it.
  const rawAfter = await rawImagesPerSec(options.modelsDir, options.rawRounds);
  options.log(`inference raw again: batch 1 ${rawAfter.batch1.toFixed(2)}, batch 4 ${rawAfter.batch4.toFixed(2)} images/s`);
  const raw = { batch1: (rawBefore.batch1 + rawAfter.batch1) / 2, batch4: (rawBefore.batch4 + rawAfter.batch4) / 2, provider: rawBefore.provider };
  return {
    model: MODEL,
    sizePx: SIZE_PX,
    provider: raw.provider,
    rawImagesPerSec: round(raw.batch4, 2),
    rawBatch1ImagesPerSec: round(raw.batch1, 2),
    rawEventLoopDelayP99Ms: rawBefore.loopDelayP99Ms,
    rawSpread: { before: { batch1: round(rawBefore.batch1, 2), batch4: round(rawBefore.batch4, 2) }, after: { batch1: round(rawAfter.batch1, 2), batch4: round(rawAfter.batch4, 2) } },
    fleetImagesPerSec: adaptive.imagesPerSec,
    batch1ImagesPerSec: batch1.imagesPerSec,
    ratioVsRaw: round(adaptive.imagesPerSec / raw.batch4, 3),
    ratioVsBatch1: round(adaptive.imagesPerSec / batch1.imagesPerSec, 3),
    batchGainVsRawGain: round(adaptive.imagesPerSec / batch1.imagesPerSec / (raw.batch4 / raw.batch1), 3),
    rawOrtDefaults: { batch1ImagesPerSec: round(rawDefaults.batch1, 2), batch4ImagesPerSec: round(rawDefaults.batch4, 2) },
    inferenceOnlyRatioVsRaw: round(adaptive.inferenceOnlyImagesPerSec / raw.batch4, 3),
    p50Ms: adaptive.p50Ms,
    p95Ms: adaptive.p95Ms,
    configurations: { batch1, fixed4x80: fixed, adaptive },
    clients,
    imagesPerConfiguration: options.fleetImages,
  };
}
