// Fleet overhead: a no-op lane through the whole fleet against a bare BullMQ Worker with a no-op
// processor, on the same Redis, in the same run. See README "Benchmarks".
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createProducer } from '../../producer/index.js';
import { encodeImage, LANE_BATCHING_DEFAULTS, resizeRaw, type RawImage } from '../../workers/index.js';
import { benchPrefix, deletePrefix, inParallel, LaneCounter, REDIS_URL, startBenchWorker } from './bench-fleet.js';
import { round } from './bench-stats.js';
import { MemoryStore } from './memory-store.js';
import { loadNoopPipeline, NOOP_IMAGE_SIDE_PX } from './noop-pipeline.js';
import { withStubbedFinisher } from './stubbed-finisher.js';

export interface OverheadOptions {
  /** Jobs per measured round of the bare BullMQ path (it is ~20× faster, so it needs more for a stable rate). */
  bareJobs: number;
  /** Jobs per measured round of each fleet path. */
  fleetJobs: number;
  /** Rounds of each path, alternating; the median round is reported. */
  rounds: number;
  /** The bare BullMQ Worker's concurrency. @default 100 */
  bullmqConcurrency?: number;
  /** Enqueue calls in flight at once. @default 200 */
  enqueueConcurrency?: number;
  modelsDir: string;
  log: (line: string) => void;
}

export interface OverheadResult {
  /** The fleet as deployed: lane concurrency follows the batcher's credits. */
  fleetJobsPerSec: number;
  bullmqJobsPerSec: number;
  ratio: number;
  /** The fleet with `fixedConcurrency` = the bare Worker's concurrency (what credits cost here). */
  fleetFixedConcurrencyJobsPerSec: number;
  /** Bare BullMQ with a priority on every job, as the producer sets one per tier. */
  bullmqPrioritizedJobsPerSec: number;
  /**
   * Bare BullMQ (prioritized jobs, concurrency 100) whose processor does the fleet finisher's real work for
   * the same request: resize the 8×8 output to 64×64, PNG encode, WebP thumbnail, two puts to a memory store.
   */
  bullmqWithFinishWorkJobsPerSec: number;
  /** That work alone, no queue, 16 at a time: the ceiling for any path that does it on this machine. */
  finishWorkOnlyJobsPerSec: number;
  /** The fleet with the finisher stubbed out in-process (no resize, encode, store): queue + consumer + batcher. */
  fleetStubbedFinisherJobsPerSec: number;
  /** The same with fixed concurrency 100 instead of credits. */
  fleetStubbedFinisherFixedJobsPerSec: number;
  /** fleet / bare BullMQ doing the same finish work (what the fleet's own machinery costs). */
  ratioVsBareWithFinishWork: number;
  /** fleet stubbed finisher / bare BullMQ no-op (queue + batcher overhead alone). */
  ratioStubbedVsBare: number;
  bareJobsPerRound: number;
  fleetJobsPerRound: number;
  rounds: number;
  /** Enqueue rates (all jobs added before the worker starts). */
  fleetEnqueuePerSec: number;
  bullmqEnqueuePerSec: number;
  /** Every round's completion throughput, jobs/s. */
  fleetRounds: number[];
  bullmqRounds: number[];
  /** Mean jobs per batch the no-op lane ran (credits configuration). */
  fleetMeanBatchSize: number;
  fleetLane: { lane: 'flash'; maxBatchSize: number; maxLatencyMs: number; concurrency: string; requestPx: number };
}

/** The no-op requests: 64×64 previews (the smallest size a request may ask) on the flash lane. */
const REQUEST_SIDE_PX = 64;
const NOOP_BATCHING = { maxBatchSize: 32, maxLatencyMs: 5 } as const;

/** What the fleet's finisher does for one no-op job, done directly: resize 8×8 → 64×64, PNG + WebP thumbnail, two puts. */
async function finishWork(store: MemoryStore, i: number): Promise<void> {
  const raw: RawImage = { pixels: new Uint8Array(NOOP_IMAGE_SIDE_PX * NOOP_IMAGE_SIDE_PX * 3).fill(127), width: NOOP_IMAGE_SIDE_PX, height: NOOP_IMAGE_SIDE_PX, channels: 3 };
  const image = await resizeRaw(raw, REQUEST_SIDE_PX, REQUEST_SIDE_PX);
  const encoded = await encodeImage(image, { format: 'png', thumbnail: true });
  await Promise.all([store.put(`flash/${i}.png`, encoded.data, encoded.contentType), store.put(`flash/${i}.thumb.webp`, encoded.thumbnail!.data, 'image/webp')]);
}

async function finishWorkOnly(jobs: number): Promise<number> {
  const store = new MemoryStore();
  const started = performance.now();
  await inParallel(jobs, 16, (i) => finishWork(store, i));
  await store.close();
  return jobs / ((performance.now() - started) / 1000);
}

async function bareRound(jobs: number, concurrency: number, enqueueConcurrency: number, priority?: number, withFinishWork = false) {
  const prefix = benchPrefix('bare');
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection, prefix: `{${prefix}:noop}` });
  try {
    const enqueueStarted = performance.now();
    await inParallel(jobs, enqueueConcurrency, (i) => queue.add('noop', { i }, priority === undefined ? {} : { priority }));
    const enqueueMs = performance.now() - enqueueStarted;
    const workerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    let completed = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const started = performance.now();
    const store = new MemoryStore();
    const processor = withFinishWork ? async (job: { id?: string }) => finishWork(store, Number(job.id)) : async () => {};
    const worker = new Worker('noop', processor, { connection: workerConnection, prefix: `{${prefix}:noop}`, concurrency });
    worker.on('completed', () => {
      if (++completed === jobs) done();
    });
    await finished;
    const elapsedMs = performance.now() - started;
    await worker.close();
    await store.close();
    workerConnection.disconnect();
    return { jobsPerSec: jobs / (elapsedMs / 1000), enqueuePerSec: jobs / (enqueueMs / 1000) };
  } finally {
    await queue.close();
    connection.disconnect();
    await deletePrefix(prefix);
  }
}

async function fleetRound(jobs: number, enqueueConcurrency: number, modelsDir: string, fixedConcurrency?: number) {
  const prefix = benchPrefix('overhead');
  const producer = createProducer({ redis: REDIS_URL, prefix, maxWaiting: { flash: 2 * jobs + 1000 } });
  const counter = new LaneCounter(prefix, ['flash']);
  const store = new MemoryStore();
  try {
    await producer.ready();
    const enqueueStarted = performance.now();
    await inParallel(jobs, enqueueConcurrency, (i) =>
      producer.enqueue({ prompt: `no-op preview ${i}`, width: REQUEST_SIDE_PX, height: REQUEST_SIDE_PX, seed: i, account: { id: `a${i % 50}`, tier: 'pro' } }),
    );
    const enqueueMs = performance.now() - enqueueStarted;
    const started = performance.now();
    const worker = await startBenchWorker(prefix, store, {
      lanes: ['flash'],
      modelsDir,
      pipelineLoader: loadNoopPipeline,
      batching: { flash: { ...LANE_BATCHING_DEFAULTS.flash, ...NOOP_BATCHING } },
      ...(fixedConcurrency === undefined ? {} : { fixedConcurrency }),
    });
    // Completion seen by counting from Redis; BullMQ's own event is not visible outside the worker.
    const finishedAt = await counter.waitFor(jobs, 300_000, 10);
    const elapsedMs = finishedAt - started;
    const stats = worker.batcherStats();
    await worker.stop();
    return { jobsPerSec: jobs / (elapsedMs / 1000), enqueuePerSec: jobs / (enqueueMs / 1000), meanBatchSize: stats ? stats.itemsResolved / Math.max(1, stats.batchesStarted) : NaN };
  } finally {
    await counter.close();
    await producer.close();
    await store.close();
    await deletePrefix(prefix);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function runOverheadBench(options: OverheadOptions): Promise<OverheadResult> {
  const concurrency = options.bullmqConcurrency ?? 100;
  const enqueueConcurrency = options.enqueueConcurrency ?? 200;
  const bare: Array<{ jobsPerSec: number; enqueuePerSec: number }> = [];
  const barePriority: number[] = [];
  const fleet: Array<{ jobsPerSec: number; enqueuePerSec: number; meanBatchSize: number }> = [];
  const fleetFixed: number[] = [];
  const bareWork: number[] = [];
  const workOnly: number[] = [];
  const stubbed: number[] = [];
  const stubbedFixed: number[] = [];
  // Warm-up: JIT, Lua script loading, sharp, connections.
  await bareRound(2000, concurrency, enqueueConcurrency);
  await fleetRound(300, enqueueConcurrency, options.modelsDir);
  await finishWorkOnly(300);
  for (let round = 0; round < options.rounds; round++) {
    bare.push(await bareRound(options.bareJobs, concurrency, enqueueConcurrency));
    fleet.push(await fleetRound(options.fleetJobs, enqueueConcurrency, options.modelsDir));
    barePriority.push((await bareRound(options.bareJobs, concurrency, enqueueConcurrency, 2)).jobsPerSec);
    fleetFixed.push((await fleetRound(options.fleetJobs, enqueueConcurrency, options.modelsDir, concurrency)).jobsPerSec);
    bareWork.push((await bareRound(options.fleetJobs, concurrency, enqueueConcurrency, 2, true)).jobsPerSec);
    workOnly.push(await finishWorkOnly(options.fleetJobs));
    // The stubbed fleet is ~10× faster than with the finisher, so it gets the bare path's job count.
    stubbed.push((await withStubbedFinisher(() => fleetRound(options.bareJobs, enqueueConcurrency, options.modelsDir))).jobsPerSec);
    stubbedFixed.push((await withStubbedFinisher(() => fleetRound(options.bareJobs, enqueueConcurrency, options.modelsDir, concurrency))).jobsPerSec);
    options.log(
      `overhead round ${round + 1}: bare BullMQ ${bare.at(-1)!.jobsPerSec.toFixed(0)} jobs/s (prioritized ${barePriority.at(-1)!.toFixed(0)}, ` +
        `with finish work ${bareWork.at(-1)!.toFixed(0)}), finish work alone ${workOnly.at(-1)!.toFixed(0)}, ` +
        `fleet ${fleet.at(-1)!.jobsPerSec.toFixed(0)} jobs/s (fixed concurrency ${concurrency}: ${fleetFixed.at(-1)!.toFixed(0)}; ` +
        `finisher stubbed ${stubbed.at(-1)!.toFixed(0)}, fixed ${stubbedFixed.at(-1)!.toFixed(0)})`,
    );
  }
  const fleetJobsPerSec = median(fleet.map((r) => r.jobsPerSec));
  const bullmqJobsPerSec = median(bare.map((r) => r.jobsPerSec));
  return {
    fleetJobsPerSec: round(fleetJobsPerSec, 0),
    bullmqJobsPerSec: round(bullmqJobsPerSec, 0),
    ratio: round(fleetJobsPerSec / bullmqJobsPerSec, 3),
    fleetFixedConcurrencyJobsPerSec: round(median(fleetFixed), 0),
    bullmqPrioritizedJobsPerSec: round(median(barePriority), 0),
    bullmqWithFinishWorkJobsPerSec: round(median(bareWork), 0),
    finishWorkOnlyJobsPerSec: round(median(workOnly), 0),
    fleetStubbedFinisherJobsPerSec: round(median(stubbed), 0),
    fleetStubbedFinisherFixedJobsPerSec: round(median(stubbedFixed), 0),
    ratioVsBareWithFinishWork: round(fleetJobsPerSec / median(bareWork), 3),
    ratioStubbedVsBare: round(median(stubbed) / bullmqJobsPerSec, 3),
    bareJobsPerRound: options.bareJobs,
    fleetJobsPerRound: options.fleetJobs,
    rounds: options.rounds,
    fleetEnqueuePerSec: round(median(fleet.map((r) => r.enqueuePerSec)), 0),
    bullmqEnqueuePerSec: round(median(bare.map((r) => r.enqueuePerSec)), 0),
    fleetRounds: fleet.map((r) => round(r.jobsPerSec, 0)),
    bullmqRounds: bare.map((r) => round(r.jobsPerSec, 0)),
    fleetMeanBatchSize: round(median(fleet.map((r) => r.meanBatchSize)), 1),
    fleetLane: { lane: 'flash', ...NOOP_BATCHING, concurrency: 'credits (production default)', requestPx: REQUEST_SIDE_PX },
  };
}
