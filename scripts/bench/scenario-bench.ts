// The incident scenario: blended editor traffic on N simulated 8 GiB GPUs (one FleetWorker per GPU, as
// deployed), before (every worker serves the one large model for everything, batch 1, bursting concurrency,
// no admission) and after (default policy, lanes placed per GPU, micro-batching, VRAM admission, fetching what the batcher wants).
// Only the GPUs are simulated; see simulated-gpu.ts and README "Benchmarks".
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { LANE_DEFAULT_SIZE, LANES, type GenerateRequestInput, type JobView, type Lane } from '../../contract/index.js';
import { createProducer, type Producer } from '../../producer/index.js';
import { CompiledPolicy, parsePolicy, staticPolicySource } from '../../router/index.js';
import { LANE_BATCHING_DEFAULTS, planRenderSize, type FleetWorker, type FleetWorkerOptions } from '../../workers/index.js';
import { benchPrefix, deletePrefix, LaneCounter, REDIS_URL, startBenchWorker } from './bench-fleet.js';
import { mean, percentile, round, seededRandom, sleep } from './bench-stats.js';
import { MemoryStore } from './memory-store.js';
import { GiB, SimulatedDevice } from './simulated-gpu.js';
import { SIMULATED_MODELS, simulatedPipelineLoader, writeSimulatedModelRepository } from './simulated-models.js';
import { EDIT_MASK_KEY, nextRequest, TRAFFIC_MIX, UPSCALE_SOURCE_KEYS, UPSCALE_SOURCE_SIDE_PX, type TrafficClass } from './traffic-mix.js';

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
  /** Offered load as a share of the before configuration's nominal capacity (all GPUs). @default 0.8 */
  loadFactor?: number;
  /**
   * The high-load phase: the after configuration alone, open loop, at this share of the before configuration's
   * nominal capacity (where the before configuration's queue only grows), to show batches forming and p95 holding.
   * 0 skips it. @default 2.5
   */
  highLoadFactor?: number;
  /** Real-time-equivalent seconds of arrivals in the high-load phase. @default half of `sustainedSeconds` */
  highLoadSeconds?: number;
  /** Simulated GPUs, each an 8 GiB device with its own FleetWorker, in both configurations. @default 2 */
  gpus?: number;
  /**
   * The after configuration's lanes per GPU (index = GPU), each worker started with its `lanes` and
   * `overflowLanes`. Every lane must be some GPU's own. @default {@link defaultPlacement}(gpus)
   */
  placement?: readonly GpuPlacement[];
  seed: number;
  shippedModelsDir: string;
  log: (line: string) => void;
}

/** One request kind's figures; times real-time equivalent, means over completed jobs. */
export interface KindFigures {
  count: number;
  p50Ms: number;
  p95Ms: number;
  meanBatchSize: number;
  queueWaitMs: number;
  batchWaitMs: number;
  inferenceMs: number;
  /** Resize, encode and store: CPU work that the time scale does not shrink (see README). */
  finishMs: number;
}

/** One simulated GPU's figures within a configuration. */
export interface GpuFigures {
  gpu: number;
  lanes: readonly Lane[];
  overflowLanes: readonly Lane[];
  gpuBusy: number;
  gpuBusySaturated: number;
  vramPeakBytes: number;
  vramDemandPeakBytes: number;
  oom: number;
  modelLoads: number;
}

/** One configuration's figures; every time is real-time equivalent (wall time ÷ timeScale). */
export interface ScenarioFigures {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  oom: number;
  retries: number;
  /** Share of the sustained phase the devices had at least one batch running (mean over the GPUs). */
  gpuBusy: number;
  /** The same while a backlog keeps the fleet saturated. */
  gpuBusySaturated: number;
  /**
   * Requests per second (real-time equivalent) the configuration could take with every GPU busy all the time, read
   * off the sustained phase: offered rate ÷ mean GPU busy share. An estimate at that phase's batch sizes (a busier
   * fleet batches more) that ignores placement (a lane's own GPU saturates first); a completion count while a
   * backlog drains would count the quick kinds first and overstate it.
   */
  capacityPerSec: number;
  costPerRender: number;
  /** Highest device memory in use on any one GPU (what did not fit was refused with an OOM). */
  vramPeakBytes: number;
  /** Highest device memory asked for at once on any one GPU, refused allocations included. */
  vramDemandPeakBytes: number;
  /** Each worker's VRAM budget. */
  vramBudgetBytes: number;
  /** Per GPU: its lanes, busy share, VRAM peak, OOMs, model loads. */
  gpus: GpuFigures[];
  completed: number;
  failed: number;
  /** Jobs still unfinished when the drain deadline passed (left out of the percentiles). */
  unfinished: number;
  meanBatchSize: number;
  modelLoads: number;
  /** Per request kind: latency percentiles, the mean batch its jobs ran in, and where the mean time went. */
  byKind: Record<string, KindFigures>;
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
  gpus: number;
  /** The after configuration's lanes per GPU. */
  placement: GpuPlacement[];
  /** The after configuration at `highLoadFactor` × the before configuration's capacity (absent when skipped). */
  highLoad?: HighLoadFigures;
}

export interface HighLoadFigures {
  loadFactor: number;
  offeredLoadPerSec: number;
  seconds: number;
  requests: number;
  after: ScenarioFigures;
  /** High-load p95 over the after configuration's p95 at the normal load. */
  p95VsNormalLoad: number;
  /** High-load p95 over the before configuration's p95 at the normal load (below 1: still ahead of the incident's fleet). */
  p95VsBeforeAtNormalLoad: number;
}

/** Every request to the large lane and model: the incident's configuration, as a policy document. */
export const ALL_LARGE_POLICY = {
  name: 'incident-one-large-model',
  rules: [{ id: 'everything-large', lane: 'large', model: 'large-v1' }],
};

/** One GPU's worker in the after configuration: the lanes it drains, and those it drains only as overflow. */
export interface GpuPlacement {
  lanes: Lane[];
  /** `FleetWorkerOptions.overflowLanes`: taken one job at a time while backed up and this GPU's own lanes are idle. */
  overflow: Lane[];
}

/**
 * Lanes per GPU for the after configuration: one GPU serves everything; with more, the first ⌊n/2⌋ serve flash,
 * typography and upscale (5.6 GB resident together) and take `large` as overflow, the rest `large` (5.3 GB of
 * weights plus 1.3 GB per 1024² image: it cannot share 8 GiB with flash and typography, so overflow swaps them
 * out). In this mix the large lane is about 60 % of the after configuration's GPU time, so it gets the larger half.
 */
export function defaultPlacement(gpus: number): GpuPlacement[] {
  if (!Number.isInteger(gpus) || gpus < 1) throw new RangeError(`gpus must be an integer >= 1, got ${gpus}`);
  if (gpus === 1) return [{ lanes: [...LANES], overflow: [] }];
  const mixed = Math.floor(gpus / 2);
  return Array.from({ length: gpus }, (_, i) => (i < mixed ? { lanes: ['flash', 'typography', 'upscale'], overflow: ['large'] } : { lanes: ['large'], overflow: [] }));
}

/** Parses `flash,typography,upscale,~large;large` (GPUs separated by `;`, lanes by `,`, `~` before an overflow lane). */
export function parsePlacement(text: string): GpuPlacement[] {
  const placement = text.split(';').map((gpu) => {
    const names = gpu.split(',').map((lane) => lane.trim()).filter((lane) => lane !== '');
    for (const name of names) {
      const lane = name.replace(/^~/, '');
      if (!(LANES as readonly string[]).includes(lane)) throw new RangeError(`placement names unknown lane ${JSON.stringify(lane)}; lanes are ${LANES.join(', ')}`);
    }
    const lanes = names.filter((name) => !name.startsWith('~')) as Lane[];
    const overflow = names.filter((name) => name.startsWith('~')).map((name) => name.slice(1)) as Lane[];
    if (lanes.length === 0) throw new RangeError(`placement must give every GPU at least one lane of its own, got ${JSON.stringify(text)}`);
    return { lanes, overflow };
  });
  for (const lane of LANES) if (!placement.some((gpu) => gpu.lanes.includes(lane))) throw new RangeError(`placement must place lane ${lane} on some GPU, got ${JSON.stringify(text)}`);
  return placement;
}

/** `flash+typography+upscale (+large as overflow)` */
export function describePlacement(gpu: GpuPlacement): string {
  return `${gpu.lanes.join('+')}${gpu.overflow.length > 0 ? ` (overflow ${gpu.overflow.join('+')})` : ''}`;
}

/** Solo device time of one image of a request on the large model at batch 1, real ms (the before's service time). */
function beforeServiceMs(request: GenerateRequestInput): number {
  const model = SIMULATED_MODELS['large-v1']!;
  // An edit comes out at its source's size.
  const asked =
    request.intent === 'edit'
      ? { width: UPSCALE_SOURCE_SIDE_PX, height: UPSCALE_SOURCE_SIDE_PX }
      : request.width !== undefined && request.height !== undefined
        ? { width: request.width, height: request.height }
        : LANE_DEFAULT_SIZE.large;
  const render = planRenderSize({ min: 256, max: 1024, multipleOf: 64 }, asked.width, asked.height);
  return (model.fixedMs + model.perItemMs) * ((render.width * render.height) / 1e6 / model.refMegapixels);
}

function workerOptions(config: 'before' | 'after', timeScale: number): Partial<FleetWorkerOptions> {
  const scaled = (ms: number) => Math.max(1, Math.round(ms * timeScale));
  if (config === 'before') {
    const batch1 = Object.fromEntries(LANES.map((lane) => [lane, { ...LANE_BATCHING_DEFAULTS[lane], maxBatchSize: 1, maxLatencyMs: 0, maxBatchesInFlight: BURST_CONCURRENCY, sloMs: scaled(LANE_BATCHING_DEFAULTS[lane].sloMs) }]));
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
  return { batching, adaptiveBatching: true, vramBytes: DEVICE_BYTES, overflowAfterMs: scaled(500), concurrencyHoldMs: scaled(100), batcherOverrides: { maxBypassMs: scaled(500) } };
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
  placement: readonly GpuPlacement[],
): Promise<ScenarioFigures> {
  const ts = options.timeScale;
  const prefix = benchPrefix(`scenario-${config}`);
  const store = new MemoryStore();
  const source = await sharp({ create: { width: UPSCALE_SOURCE_SIDE_PX, height: UPSCALE_SOURCE_SIDE_PX, channels: 3, background: { r: 90, g: 120, b: 160 } } }).png().toBuffer();
  for (const key of UPSCALE_SOURCE_KEYS) await store.put(key, source, 'image/png');
  const side = UPSCALE_SOURCE_SIDE_PX;
  const mask = await sharp({ create: { width: side, height: side, channels: 3, background: 'black' } })
    .composite([{ input: { create: { width: side / 2, height: side / 2, channels: 3, background: 'white' } }, left: side / 4, top: side / 4 }])
    .png()
    .toBuffer();
  await store.put(EDIT_MASK_KEY, mask, 'image/png');
  // Before: every worker serves every lane (only `large` gets traffic). After: each GPU's worker drains its placed lanes.
  const lanesPerGpu: GpuPlacement[] = config === 'before' ? placement.map(() => ({ lanes: [...LANES], overflow: [] })) : [...placement];
  const devices = lanesPerGpu.map((_, gpu) => new SimulatedDevice({ capacityBytes: DEVICE_BYTES, deviceIndex: gpu }));
  const producer = createProducer({
    redis: REDIS_URL,
    prefix,
    backoffMs: Math.max(1, Math.round(1000 * ts)),
    maxWaiting: { flash: 100_000, large: 100_000, typography: 100_000, upscale: 100_000 },
    ...(config === 'before' ? { policy: staticPolicySource(new CompiledPolicy(parsePolicy(ALL_LARGE_POLICY), 1)) } : {}),
  });
  const counter = new LaneCounter(prefix, LANES);
  const workers: FleetWorker[] = [];
  const sumStats = (field: 'itemsResolved' | 'itemsRejected' | 'batchesStarted' | 'modelLoads') => workers.reduce((sum, w) => sum + w.batcherStats()![field], 0);
  try {
    for (const [gpu, { lanes, overflow }] of lanesPerGpu.entries()) {
      workers.push(
        await startBenchWorker(prefix, store, {
          ...workerOptions(config, ts),
          lanes,
          overflowLanes: overflow,
          gpu,
          // The GPUs are simulated (pipelineLoader): no CUDA provider is needed, and none opens a session.
          allowCpu: true,
          workerId: `bench-${config}-gpu${gpu}`,
          modelsDir,
          pipelineLoader: simulatedPipelineLoader(devices[gpu]!, ts),
          depthPollMs: Math.max(20, Math.round(500 * ts)),
        }),
      );
    }
    await producer.ready();
    // Sustained phase: open-loop arrivals at the offered rate (the traffic does not slow down when the fleet does).
    const issued: Issued[] = [];
    const enqueueErrors: unknown[] = [];
    for (const device of devices) device.resetWindow();
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
    const sustained = devices.map((d) => d.stats());
    const batch0 = { items: sumStats('itemsResolved') + sumStats('itemsRejected'), batches: sumStats('batchesStarted') };
    // Drain: what arrived finishes (or is reported unfinished after the deadline).
    await counter.waitFor(issued.length, Math.max(20_000, options.sustainedSeconds * 1000 * ts), 50).catch(() => undefined);
    const drained = devices.map((d) => d.stats());
    const views = await collect(producer, issued);

    // Saturation phase: a backlog of the same mix, busy fraction while 80 % of it completes.
    const finishedBefore = await counter.finished();
    const saturationIssued: Issued[] = [];
    await Promise.all(saturation.map(async (s) => saturationIssued.push({ id: (await producer.enqueue(s.request)).id, kind: s.kind })));
    for (const device of devices) device.resetWindow();
    const target = Math.floor(saturation.length * 0.8);
    await counter.waitFor(finishedBefore + target, Math.max(30_000, options.sustainedSeconds * 1000 * ts), 20).catch(() => undefined);
    const saturated = devices.map((d) => d.stats());

    const completed = views.filter((v) => v.view?.state === 'completed');
    const failed = views.filter((v) => v.view?.state === 'failed');
    const all = completed.map((v) => (v.view!.result!.timings.endToEndMs ?? NaN) / ts);
    const byKind: ScenarioFigures['byKind'] = {};
    for (const c of TRAFFIC_MIX) {
      const jobs = completed.filter((v) => v.kind === c.name).map((v) => v.view!.result!);
      const ms = jobs.map((r) => (r.timings.endToEndMs ?? NaN) / ts);
      const meanOf = (f: (r: (typeof jobs)[number]) => number | undefined) => round(mean(jobs.map((r) => (f(r) ?? NaN) / ts)), 0);
      byKind[c.name] = {
        count: ms.length,
        p50Ms: round(percentile(ms, 0.5), 0),
        p95Ms: round(percentile(ms, 0.95), 0),
        meanBatchSize: round(mean(jobs.map((r) => r.batch?.size ?? NaN)), 2),
        queueWaitMs: meanOf((r) => r.timings.queueWaitMs),
        batchWaitMs: meanOf((r) => r.timings.batchWaitMs),
        inferenceMs: meanOf((r) => r.timings.inferenceMs),
        finishMs: meanOf((r) => (r.timings.postProcessMs ?? 0) + (r.timings.uploadMs ?? 0)),
      };
    }
    // BullMQ counts the finishing attempt in attemptsMade, so a job that never failed shows 1.
    const retries = views.reduce((sum, v) => sum + Math.max(0, (v.view?.attempts ?? 1) - 1), 0);
    if (enqueueErrors.length > 0) options.log(`scenario ${config}: ${enqueueErrors.length} enqueue errors, first: ${String(enqueueErrors[0])}`);
    const gpus: GpuFigures[] = devices.map((_, gpu) => ({
      gpu,
      lanes: lanesPerGpu[gpu]!.lanes,
      overflowLanes: lanesPerGpu[gpu]!.overflow,
      gpuBusy: round(sustained[gpu]!.busyFraction, 3),
      gpuBusySaturated: round(saturated[gpu]!.busyFraction, 3),
      vramPeakBytes: Math.max(sustained[gpu]!.peakBytes, drained[gpu]!.peakBytes),
      vramDemandPeakBytes: Math.max(sustained[gpu]!.demandPeakBytes, drained[gpu]!.demandPeakBytes),
      oom: drained[gpu]!.oom,
      modelLoads: workers[gpu]!.batcherStats()!.modelLoads,
    }));
    return {
      p50Ms: round(percentile(all, 0.5), 0),
      p95Ms: round(percentile(all, 0.95), 0),
      p99Ms: round(percentile(all, 0.99), 0),
      oom: gpus.reduce((sum, g) => sum + g.oom, 0),
      retries,
      gpuBusy: round(mean(sustained.map((s) => s.busyFraction)), 3),
      gpuBusySaturated: round(mean(saturated.map((s) => s.busyFraction)), 3),
      // Busy time per request at the phase's batch sizes, over all GPUs: what the configuration could take at 100 % busy.
      capacityPerSec: round(arrivals.length / options.sustainedSeconds / Math.max(1e-9, mean(sustained.map((s) => s.busyFraction))), 3),
      costPerRender: round(mean(completed.map((v) => v.view!.result!.costUnits ?? NaN)), 3),
      vramPeakBytes: Math.max(...gpus.map((g) => g.vramPeakBytes)),
      vramDemandPeakBytes: Math.max(...gpus.map((g) => g.vramDemandPeakBytes)),
      vramBudgetBytes: workers[0]!.batcherStats()!.budgetBytes,
      gpus,
      completed: completed.length,
      failed: failed.length,
      unfinished: views.length - completed.length - failed.length,
      // Items per started batch (a batch refused by an OOM counts with its items), sustained phase.
      meanBatchSize: round(batch0.items / Math.max(1, batch0.batches), 2),
      modelLoads: sumStats('modelLoads'),
      byKind,
    };
  } finally {
    await producer.close();
    await counter.close();
    await Promise.all(workers.map((w) => w.stop()));
    await store.close();
    await deletePrefix(prefix);
  }
}

export async function runScenarioBench(options: ScenarioOptions): Promise<ScenarioResult> {
  const random = seededRandom(options.seed);
  const loadFactor = options.loadFactor ?? 0.8;
  const gpus = options.gpus ?? 2;
  const placement = (options.placement ?? defaultPlacement(gpus)).map((gpu) => ({ lanes: [...gpu.lanes], overflow: [...gpu.overflow] }));
  if (placement.length !== gpus) throw new RangeError(`placement must list lanes for each of the ${gpus} GPUs, got ${placement.length}`);
  // Offered load: loadFactor × the before configuration's nominal capacity (batch 1 on the large model, no OOM, every GPU).
  const probe = seededRandom(options.seed + 1);
  const meanServiceMs = mean(Array.from({ length: 20_000 }, () => beforeServiceMs(nextRequest(probe).request)));
  const ratePerSec = (gpus * loadFactor) / (meanServiceMs / 1000);
  const arrivals = poissonArrivals(random, ratePerSec, options.sustainedSeconds);
  const saturation = Array.from({ length: options.saturationJobs }, () => nextRequest(random));
  const highLoadFactor = options.highLoadFactor ?? 2.5;
  const highLoadSeconds = options.highLoadSeconds ?? options.sustainedSeconds / 2;
  const highRatePerSec = (gpus * highLoadFactor) / (meanServiceMs / 1000);
  // Drawn from a generator of its own, so adding the phase leaves the normal-load traffic as it was for a seed.
  const highArrivals = highLoadFactor > 0 ? poissonArrivals(seededRandom(options.seed + 2), highRatePerSec, highLoadSeconds) : [];
  const modelsDir = mkdtempSync(join(tmpdir(), 'bench-sim-models-'));
  try {
    writeSimulatedModelRepository(options.shippedModelsDir, modelsDir);
    options.log(
      `scenario: ${gpus} simulated GPU(s), after placement ${placement.map((p, gpu) => `GPU${gpu}: ${describePlacement(p)}`).join(', ')}; ` +
        `${arrivals.length} requests over ${options.sustainedSeconds} s (real-time equivalent) at ${ratePerSec.toFixed(2)}/s, time scale ${options.timeScale}`,
    );
    const before = await runConfiguration('before', arrivals, saturation, options, modelsDir, placement);
    options.log(`scenario before: p50 ${before.p50Ms} ms, p95 ${before.p95Ms} ms, ${before.oom} OOM, busy ${before.gpus.map((g) => g.gpuBusy).join('/')}, loads ${before.modelLoads}`);
    const after = await runConfiguration('after', arrivals, saturation, options, modelsDir, placement);
    options.log(`scenario after: p50 ${after.p50Ms} ms, p95 ${after.p95Ms} ms, ${after.oom} OOM, busy ${after.gpus.map((g) => g.gpuBusy).join('/')}, loads ${after.modelLoads}`);
    let highLoad: HighLoadFigures | undefined;
    if (highArrivals.length > 0) {
      options.log(`scenario high load: after only, ${highArrivals.length} requests over ${highLoadSeconds} s at ${highRatePerSec.toFixed(2)}/s (${highLoadFactor}× the before capacity)`);
      const high = await runConfiguration('after', highArrivals, [], { ...options, sustainedSeconds: highLoadSeconds }, modelsDir, placement);
      options.log(`scenario high load: p50 ${high.p50Ms} ms, p95 ${high.p95Ms} ms, mean batch ${high.meanBatchSize}, busy ${high.gpus.map((g) => g.gpuBusy).join('/')}, ${high.oom} OOM`);
      highLoad = {
        loadFactor: highLoadFactor,
        offeredLoadPerSec: round(highRatePerSec, 3),
        seconds: highLoadSeconds,
        requests: highArrivals.length,
        after: high,
        p95VsNormalLoad: round(high.p95Ms / after.p95Ms, 3),
        p95VsBeforeAtNormalLoad: round(high.p95Ms / before.p95Ms, 3),
      };
    }
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
      gpus,
      placement,
      ...(highLoad === undefined ? {} : { highLoad }),
    };
  } finally {
    rmSync(modelsDir, { recursive: true, force: true });
  }
}

/** Open-loop arrivals: exponential gaps at `ratePerSec` over `seconds`, each a request drawn from the traffic mix. */
function poissonArrivals(random: () => number, ratePerSec: number, seconds: number): Array<{ atMs: number; kind: TrafficClass['name']; request: GenerateRequestInput }> {
  const arrivals: Array<{ atMs: number; kind: TrafficClass['name']; request: GenerateRequestInput }> = [];
  for (let atMs = (-Math.log(1 - random()) * 1000) / ratePerSec; atMs < seconds * 1000; atMs += (-Math.log(1 - random()) * 1000) / ratePerSec) {
    arrivals.push({ atMs, ...nextRequest(random) });
  }
  return arrivals;
}
