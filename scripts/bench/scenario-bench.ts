// The incident scenario: blended editor traffic on a simulated 8 GiB GPU, before (one large model for
// everything, batch 1, bursting concurrency, no admission) and after (default policy, micro-batching, VRAM
// admission, credits). Only the GPU is simulated; see simulated-gpu.ts and README "Benchmarks".
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { LANE_DEFAULT_SIZE, LANES, type GenerateRequestInput, type JobView } from '../../contract/index.js';
import { createProducer, type Producer } from '../../producer/index.js';
import { CompiledPolicy, loadDefaultPolicy, parsePolicy, staticPolicySource } from '../../router/index.js';
import { LANE_BATCHING_DEFAULTS, planRenderSize, type FleetWorkerOptions } from '../../workers/index.js';
import { benchPrefix, deletePrefix, LaneCounter, REDIS_URL, startBenchWorker } from './bench-fleet.js';
import { mean, percentile, round, seededRandom, sleep } from './bench-stats.js';
import { MemoryStore } from './memory-store.js';
import { GiB, SimulatedDevice } from './simulated-gpu.js';
import { SIMULATED_MODELS, simulatedPipelineLoader, writeSimulatedModelRepository } from './simulated-models.js';
import { nextRequest, TRAFFIC_MIX, UPSCALE_SOURCE_KEYS, UPSCALE_SOURCE_SIDE_PX, type TrafficClass } from './traffic-mix.js';

export const DEVICE_BYTES = 8 * GiB;
/** "Admission effectively off": a budget far above any device. */
const UNLIMITED_BUDGET_BYTES = 1024 * GiB;
/** Jobs each lane holds at once in the bursting configuration, and batches the batcher runs at once. */
const BURST_CONCURRENCY = 16;

export interface ScenarioOptions {
  /** Multiplies every simulated duration and every timing knob (0.1: ten times faster than real time). */
  timeScale: number;
  /** Real-time-equivalent seconds of arrivals in the sustained phase. */
  sustainedSeconds: number;
  /** Jobs enqueued at once for the saturation phase. */
  saturationJobs: number;
  /** Offered load as a share of the before configuration's nominal capacity. @default 0.8 */
  loadFactor?: number;
  seed: number;
  shippedModelsDir: string;
  log: (line: string) => void;
}

/** One configuration's figures; every time is real-time equivalent (wall time ÷ timeScale). */
export interface ScenarioFigures {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  oom: number;
  retries: number;
  /** Share of the sustained phase the device had at least one batch running. */
  gpuBusy: number;
  /** The same while a backlog keeps the fleet saturated. */
  gpuBusySaturated: number;
  costPerRender: number;
  /** Highest device memory in use (what did not fit was refused with an OOM). */
  vramPeakBytes: number;
  /** Highest device memory asked for at once, refused allocations included. */
  vramDemandPeakBytes: number;
  vramBudgetBytes: number;
  completed: number;
  failed: number;
  /** Jobs still unfinished when the drain deadline passed (left out of the percentiles). */
  unfinished: number;
  meanBatchSize: number;
  modelLoads: number;
  byKind: Record<string, { count: number; p50Ms: number; p95Ms: number }>;
}

export interface ScenarioResult {
  before: ScenarioFigures;
  after: ScenarioFigures;
  ratios: { p50: number; p95: number; p99: number; costPerRender: number; oomBefore: number; oomAfter: number };
  incident: { p50Ratio: number; p95Ratio: number; costRatio: number };
  offeredLoadPerSec: number;
  timeScale: number;
  sustainedSeconds: number;
  requests: number;
  deviceBytes: number;
}

/** Every request to the large lane and model: the incident's configuration, as a policy document. */
export const ALL_LARGE_POLICY = {
  name: 'incident-one-large-model',
  models: loadDefaultPolicy().models,
  rules: [{ id: 'everything-large', lane: 'large', model: 'large-v1' }],
};

/** Solo device time of one image of a request on the large model at batch 1, real ms (the before's service time). */
function beforeServiceMs(request: GenerateRequestInput): number {
  const model = SIMULATED_MODELS['large-v1']!;
  const asked = request.width !== undefined && request.height !== undefined ? { width: request.width, height: request.height } : LANE_DEFAULT_SIZE.large;
  const render = planRenderSize({ min: 256, max: 1024, multipleOf: 64 }, asked.width, asked.height);
  return (model.fixedMs + model.perItemMs) * ((render.width * render.height) / 1e6 / model.refMegapixels);
}

function workerOptions(config: 'before' | 'after', timeScale: number): Partial<FleetWorkerOptions> {
  const scaled = (ms: number) => Math.max(1, Math.round(ms * timeScale));
  if (config === 'before') {
    const batch1 = Object.fromEntries(LANES.map((lane) => [lane, { ...LANE_BATCHING_DEFAULTS[lane], maxBatchSize: 1, maxLatencyMs: 0, sloMs: scaled(LANE_BATCHING_DEFAULTS[lane].sloMs) }]));
    return {
      batching: batch1,
      adaptiveBatching: false,
      fixedConcurrency: BURST_CONCURRENCY,
      vramBytes: UNLIMITED_BUDGET_BYTES,
      batcherOverrides: { isOutOfMemory: () => false, maxBatchesInFlight: BURST_CONCURRENCY, maxBypassMs: scaled(500) },
    };
  }
  const batching = Object.fromEntries(
    LANES.map((lane) => [lane, { ...LANE_BATCHING_DEFAULTS[lane], maxLatencyMs: scaled(LANE_BATCHING_DEFAULTS[lane].maxLatencyMs), sloMs: scaled(LANE_BATCHING_DEFAULTS[lane].sloMs) }]),
  );
  return { batching, adaptiveBatching: true, vramBytes: DEVICE_BYTES, batcherOverrides: { maxBypassMs: scaled(500) } };
}

interface Issued {
  id: string;
  kind: TrafficClass['name'];
}

async function collect(producer: Producer, issued: readonly Issued[]): Promise<Array<{ kind: string; view: JobView | undefined }>> {
  const out: Array<{ kind: string; view: JobView | undefined }> = [];
  for (let i = 0; i < issued.length; i += 50) {
    const chunk = issued.slice(i, i + 50);
    out.push(...(await Promise.all(chunk.map(async (j) => ({ kind: j.kind, view: await producer.getJob(j.id).catch(() => undefined) })))));
  }
  return out;
}

async function runConfiguration(
  config: 'before' | 'after',
  arrivals: ReadonlyArray<{ atMs: number; kind: TrafficClass['name']; request: GenerateRequestInput }>,
  saturation: ReadonlyArray<{ kind: TrafficClass['name']; request: GenerateRequestInput }>,
  options: ScenarioOptions,
  modelsDir: string,
): Promise<ScenarioFigures> {
  const ts = options.timeScale;
  const prefix = benchPrefix(`scenario-${config}`);
  const store = new MemoryStore();
  const source = await sharp({ create: { width: UPSCALE_SOURCE_SIDE_PX, height: UPSCALE_SOURCE_SIDE_PX, channels: 3, background: { r: 90, g: 120, b: 160 } } }).png().toBuffer();
  for (const key of UPSCALE_SOURCE_KEYS) await store.put(key, source, 'image/png');
  const device = new SimulatedDevice({ capacityBytes: DEVICE_BYTES });
  const producer = createProducer({
    redis: REDIS_URL,
    prefix,
    backoffMs: Math.max(1, Math.round(1000 * ts)),
    maxWaiting: { flash: 100_000, large: 100_000, typography: 100_000, upscale: 100_000 },
    ...(config === 'before' ? { policy: staticPolicySource(new CompiledPolicy(parsePolicy(ALL_LARGE_POLICY), 1)) } : {}),
  });
  const counter = new LaneCounter(prefix, LANES);
  const options_ = workerOptions(config, ts);
  const worker = await startBenchWorker(prefix, store, {
    ...options_,
    modelsDir,
    pipelineLoader: simulatedPipelineLoader(device, ts),
    depthPollMs: Math.max(20, Math.round(500 * ts)),
  });
  try {
    await producer.ready();
    // Sustained phase: open-loop arrivals at the offered rate (the traffic does not slow down when the fleet does).
    const issued: Issued[] = [];
    const enqueueErrors: unknown[] = [];
    device.resetWindow();
    const startedAt = performance.now();
    const pending: Promise<void>[] = [];
    for (const arrival of arrivals) {
      const dueMs = arrival.atMs * ts - (performance.now() - startedAt);
      if (dueMs > 1) await sleep(dueMs);
      pending.push(
        producer.enqueue(arrival.request).then(
          (receipt) => void issued.push({ id: receipt.id, kind: arrival.kind }),
          (error) => void enqueueErrors.push(error),
        ),
      );
    }
    await Promise.all(pending);
    const remainingMs = options.sustainedSeconds * 1000 * ts - (performance.now() - startedAt);
    if (remainingMs > 0) await sleep(remainingMs);
    const sustained = device.stats();
    const stats0 = worker.batcherStats()!;
    // Drain: what arrived finishes (or is reported unfinished after the deadline).
    await counter.waitFor(issued.length, Math.max(20_000, options.sustainedSeconds * 1000 * ts), 50).catch(() => undefined);
    const drained = device.stats();
    const views = await collect(producer, issued);

    // Saturation phase: a backlog of the same mix, busy fraction while 80 % of it completes.
    const finishedBefore = await counter.finished();
    const saturationIssued: Issued[] = [];
    await Promise.all(saturation.map(async (s) => saturationIssued.push({ id: (await producer.enqueue(s.request)).id, kind: s.kind })));
    device.resetWindow();
    const target = Math.floor(saturation.length * 0.8);
    await counter.waitFor(finishedBefore + target, Math.max(30_000, options.sustainedSeconds * 1000 * ts), 20).catch(() => undefined);
    const saturated = device.stats();
    const stats1 = worker.batcherStats()!;

    const completed = views.filter((v) => v.view?.state === 'completed');
    const failed = views.filter((v) => v.view?.state === 'failed');
    const e2e = (list: typeof views) => list.map((v) => (v.view!.result!.timings.endToEndMs ?? NaN) / ts);
    const all = e2e(completed);
    const byKind: ScenarioFigures['byKind'] = {};
    for (const c of TRAFFIC_MIX) {
      const ms = e2e(completed.filter((v) => v.kind === c.name));
      byKind[c.name] = { count: ms.length, p50Ms: round(percentile(ms, 0.5), 0), p95Ms: round(percentile(ms, 0.95), 0) };
    }
    // BullMQ counts the finishing attempt in attemptsMade, so a job that never failed shows 1.
    const retries = views.reduce((sum, v) => sum + Math.max(0, (v.view?.attempts ?? 1) - 1), 0);
    if (enqueueErrors.length > 0) options.log(`scenario ${config}: ${enqueueErrors.length} enqueue errors, first: ${String(enqueueErrors[0])}`);
    return {
      p50Ms: round(percentile(all, 0.5), 0),
      p95Ms: round(percentile(all, 0.95), 0),
      p99Ms: round(percentile(all, 0.99), 0),
      oom: drained.oom,
      retries,
      gpuBusy: round(sustained.busyFraction, 3),
      gpuBusySaturated: round(saturated.busyFraction, 3),
      costPerRender: round(mean(completed.map((v) => v.view!.result!.costUnits ?? NaN)), 3),
      vramPeakBytes: Math.max(sustained.peakBytes, drained.peakBytes),
      vramDemandPeakBytes: Math.max(sustained.demandPeakBytes, drained.demandPeakBytes),
      vramBudgetBytes: worker.options.vramBytes,
      completed: completed.length,
      failed: failed.length,
      unfinished: views.length - completed.length - failed.length,
      // Items per started batch (a batch refused by an OOM counts with its items).
      meanBatchSize: round((stats0.itemsResolved + stats0.itemsRejected) / Math.max(1, stats0.batchesStarted), 2),
      modelLoads: stats1.modelLoads,
      byKind,
    };
  } finally {
    await producer.close();
    await counter.close();
    await worker.stop();
    await store.close();
    await deletePrefix(prefix);
  }
}

export async function runScenarioBench(options: ScenarioOptions): Promise<ScenarioResult> {
  const random = seededRandom(options.seed);
  const loadFactor = options.loadFactor ?? 0.8;
  // Offered load: loadFactor × the before configuration's nominal capacity (batch 1 on the large model, no OOM).
  const probe = seededRandom(options.seed + 1);
  const meanServiceMs = mean(Array.from({ length: 20_000 }, () => beforeServiceMs(nextRequest(probe).request)));
  const ratePerSec = loadFactor / (meanServiceMs / 1000);
  const arrivals: Array<{ atMs: number; kind: TrafficClass['name']; request: GenerateRequestInput }> = [];
  for (let atMs = (-Math.log(1 - random()) * 1000) / ratePerSec; atMs < options.sustainedSeconds * 1000; atMs += (-Math.log(1 - random()) * 1000) / ratePerSec) {
    arrivals.push({ atMs, ...nextRequest(random) });
  }
  const saturation = Array.from({ length: options.saturationJobs }, () => nextRequest(random));
  const modelsDir = mkdtempSync(join(tmpdir(), 'bench-sim-models-'));
  try {
    writeSimulatedModelRepository(options.shippedModelsDir, modelsDir);
    options.log(`scenario: ${arrivals.length} requests over ${options.sustainedSeconds} s (real-time equivalent) at ${ratePerSec.toFixed(2)}/s, time scale ${options.timeScale}`);
    const before = await runConfiguration('before', arrivals, saturation, options, modelsDir);
    options.log(`scenario before: p50 ${before.p50Ms} ms, p95 ${before.p95Ms} ms, ${before.oom} OOM, busy ${before.gpuBusy}`);
    const after = await runConfiguration('after', arrivals, saturation, options, modelsDir);
    options.log(`scenario after: p50 ${after.p50Ms} ms, p95 ${after.p95Ms} ms, ${after.oom} OOM, busy ${after.gpuBusy}`);
    return {
      before,
      after,
      ratios: {
        p50: round(after.p50Ms / before.p50Ms, 3),
        p95: round(after.p95Ms / before.p95Ms, 3),
        p99: round(after.p99Ms / before.p99Ms, 3),
        costPerRender: round(after.costPerRender / before.costPerRender, 3),
        oomBefore: before.oom,
        oomAfter: after.oom,
      },
      incident: { p50Ratio: round(0.6 / 1.8, 3), p95Ratio: 0.4, costRatio: 0.55 },
      offeredLoadPerSec: round(ratePerSec, 3),
      timeScale: options.timeScale,
      sustainedSeconds: options.sustainedSeconds,
      requests: arrivals.length,
      deviceBytes: DEVICE_BYTES,
    };
  } finally {
    rmSync(modelsDir, { recursive: true, force: true });
  }
}
