// Fleet overhead: a no-op lane through the whole fleet against a bare BullMQ Worker with a no-op
// processor, on the same Redis, in the same run. See README "Benchmarks".
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { laneQueueName, laneQueuePrefix } from '../../contract/index.js';
import { createProducer } from '../../producer/index.js';
import { encodeImage, LANE_BATCHING_DEFAULTS, resizeRaw, type FleetWorkerOptions } from '../../workers/index.js';
import { benchPrefix, deletePrefix, inParallel, LaneCounter, REDIS_URL, startBenchWorker } from './bench-fleet.js';
import { round } from './bench-stats.js';
import { MemoryStore } from './memory-store.js';
import { noopFinisher } from './noop-finisher.js';
import { loadNoopPipeline, tinyImage } from './noop-pipeline.js';

export interface OverheadOptions {
  /** Jobs per measured round of the no-op paths (bare BullMQ and the fleet's no-op lane). */
  noopJobs: number;
  /** Jobs per measured round of the paths that encode images (~30× slower). */
  finishWorkJobs: number;
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
  /** The fleet's no-op lane as deployed (lane concurrency follows what the batcher holds and wants), in the median round. */
  fleetJobsPerSec: number;
  /** Bare BullMQ, no-op processor, draining the same jobs (the producer's data and options), in the median round. */
  bullmqJobsPerSec: number;
  /** The median over rounds of fleet / bare on the same jobs, each round's pair run back to back (the goal's figure). */
  ratio: number;
  /** Bare BullMQ on plain `{ i }` jobs without options (the cheapest job BullMQ has). */
  bullmqPlainJobsPerSec: number;
  /** Median over rounds of fleet / bare on plain jobs: also counts what the fleet's job contract costs BullMQ and Redis. */
  ratioVsPlainJobs: number;
  /** The no-op lane with `fixedConcurrency` = the bare Worker's concurrency instead of the batcher's demand. */
  fleetFixedConcurrencyJobsPerSec: number;
  /** The fleet with its real finisher (resize 8×8 → 64×64, PNG + WebP thumbnail, two puts to a memory store). */
  fleetWithFinishWorkJobsPerSec: number;
  /** Bare BullMQ (the same jobs) whose processor does that finish work for the same request. */
  bullmqWithFinishWorkJobsPerSec: number;
  /** That work alone, no queue, 16 at a time: the ceiling for any path that does it on this machine. */
  finishWorkOnlyJobsPerSec: number;
  /** fleet with finish work / bare BullMQ doing the same work (what the fleet's machinery costs beside it). */
  ratioVsBareWithFinishWork: number;
  noopJobsPerRound: number;
  finishWorkJobsPerRound: number;
  rounds: number;
  /** Enqueue rates (all jobs added before the workers start): the producer (validation, routing, backpressure) and a plain Queue.add. */
  fleetEnqueuePerSec: number;
  bullmqEnqueuePerSec: number;
  /** Every round's completion throughput, jobs/s, and the per-round ratios. */
  fleetRounds: number[];
  bullmqRounds: number[];
  roundRatios: number[];
  /** Mean jobs per batch the no-op lane ran (the deployed configuration). */
  fleetMeanBatchSize: number;
  fleetLane: { lane: 'flash'; maxBatchSize: number; maxLatencyMs: number; prefetchBatches: number; concurrency: string; requestPx: number };
  /** How throughput is timed: completions per second between the first and the last job's `finishedOn`. */
  timing: string;
}

/** The no-op requests: 64×64 previews (the smallest size a request may ask) on the flash lane. */
const REQUEST_SIDE_PX = 64;
/**
 * The no-op lane's batching: no-op batches take microseconds, so batches are large (32 items, 5 ms) and the lane
 * asks for two batches ahead: with one running it holds up to 96 jobs, as many as the bare Worker's 100.
 */
const NOOP_BATCHING = { maxBatchSize: 32, maxLatencyMs: 5, prefetchBatches: 2 } as const;

/** What the fleet's finisher does for one no-op job, done directly: resize 8×8 → 64×64, PNG + WebP thumbnail, two puts. */
async function finishWork(store: MemoryStore, key: string): Promise<void> {
  const image = await resizeRaw(tinyImage(), REQUEST_SIDE_PX, REQUEST_SIDE_PX);
  const encoded = await encodeImage(image, { format: 'png', thumbnail: true });
  await Promise.all([store.put(`flash/${key}.png`, encoded.data, encoded.contentType), store.put(`flash/${key}.thumb.webp`, encoded.thumbnail!.data, 'image/webp')]);
}

async function finishWorkOnly(jobs: number): Promise<number> {
  const store = new MemoryStore();
  const started = performance.now();
  await inParallel(jobs, 16, (i) => finishWork(store, String(i)));
  await store.close();
  return jobs / ((performance.now() - started) / 1000);
}

/**
 * Completion throughput from BullMQ's own records, read the same way for every path: jobs completed between the
 * first and the last `finishedOn` (the completed set's scores), so neither worker start-up nor how a path
 * notices the end is timed.
 */
async function completionRate(client: Redis, queue: Queue, jobs: number): Promise<number> {
  const key = queue.keys.completed!;
  const [first, last] = await Promise.all([client.zrange(key, '0', '0', 'WITHSCORES'), client.zrange(key, '-1', '-1', 'WITHSCORES')]);
  const spanMs = Number(last[1]) - Number(first[1]);
  return (jobs - 1) / (Math.max(1, spanMs) / 1000);
}

/** The data and options of one job as the producer enqueues a no-op preview (read back from Redis). */
async function fleetJobShape(): Promise<{ name: string; data: Record<string, unknown>; opts: Record<string, unknown> }> {
  const prefix = benchPrefix('shape');
  const producer = createProducer({ redis: REDIS_URL, prefix });
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(laneQueueName('flash'), { connection, prefix: laneQueuePrefix(prefix, 'flash') });
  try {
    await producer.ready();
    const { id } = await producer.enqueue({ prompt: 'no-op preview 0', width: REQUEST_SIDE_PX, height: REQUEST_SIDE_PX, seed: 0, account: { id: 'a0', tier: 'pro' } });
    const job = (await queue.getJob(id))!;
    return { name: job.name, data: job.data as Record<string, unknown>, opts: { ...job.opts } as Record<string, unknown> };
  } finally {
    await producer.close();
    await queue.close();
    connection.disconnect();
    await deletePrefix(prefix);
  }
}

interface BareRound {
  concurrency: number;
  enqueueConcurrency: number;
  /** Enqueue jobs of this shape instead of plain `{ i }` ones; `i` goes into the prompt and the job id. */
  shape?: Awaited<ReturnType<typeof fleetJobShape>>;
  withFinishWork?: boolean;
}

async function bareRound(jobs: number, options: BareRound) {
  const prefix = benchPrefix('bare');
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection, prefix: `{${prefix}:noop}` });
  const { shape } = options;
  try {
    const enqueueStarted = performance.now();
    await inParallel(jobs, options.enqueueConcurrency, (i) =>
      shape === undefined
        ? queue.add('noop', { i })
        : queue.add(
            shape.name,
            { ...shape.data, request: { ...(shape.data.request as object), prompt: `no-op preview ${i}`, seed: i }, enqueuedAt: Date.now() },
            { ...shape.opts, jobId: `flash.bare-${i}` },
          ),
    );
    const enqueueMs = performance.now() - enqueueStarted;
    const workerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    let completed = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const store = new MemoryStore();
    const processor = options.withFinishWork ? async (job: { id?: string }) => finishWork(store, job.id!) : async () => {};
    const worker = new Worker('noop', processor, { connection: workerConnection, prefix: `{${prefix}:noop}`, concurrency: options.concurrency });
    worker.on('completed', () => {
      if (++completed === jobs) done();
    });
    await finished;
    await worker.close();
    await store.close();
    workerConnection.disconnect();
    return { jobsPerSec: await completionRate(connection, queue, jobs), enqueuePerSec: jobs / (enqueueMs / 1000) };
  } finally {
    await queue.close();
    connection.disconnect();
    await deletePrefix(prefix);
  }
}

async function fleetRound(jobs: number, enqueueConcurrency: number, modelsDir: string, worker: Partial<FleetWorkerOptions>) {
  const prefix = benchPrefix('overhead');
  const producer = createProducer({ redis: REDIS_URL, prefix, maxWaiting: { flash: 2 * jobs + 1000 } });
  const counter = new LaneCounter(prefix, ['flash']);
  const store = new MemoryStore();
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  try {
    await producer.ready();
    const enqueueStarted = performance.now();
    await inParallel(jobs, enqueueConcurrency, (i) =>
      producer.enqueue({ prompt: `no-op preview ${i}`, width: REQUEST_SIDE_PX, height: REQUEST_SIDE_PX, seed: i, account: { id: `a${i % 50}`, tier: 'pro' } }),
    );
    const enqueueMs = performance.now() - enqueueStarted;
    const fleetWorker = await startBenchWorker(prefix, store, {
      lanes: ['flash'],
      modelsDir,
      batching: { flash: { ...LANE_BATCHING_DEFAULTS.flash, ...NOOP_BATCHING } },
      ...worker,
    });
    await counter.waitFor(jobs, 300_000, 50);
    const stats = fleetWorker.batcherStats();
    await fleetWorker.stop();
    return {
      jobsPerSec: await completionRate(redis, counter.queue(), jobs),
      enqueuePerSec: jobs / (enqueueMs / 1000),
      meanBatchSize: stats ? stats.itemsResolved / Math.max(1, stats.batchesStarted) : NaN,
    };
  } finally {
    redis.disconnect();
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
  const noopLane: Partial<FleetWorkerOptions> = { pipelineLoader: (entry) => loadNoopPipeline(entry, true), finisher: noopFinisher };
  const finishLane: Partial<FleetWorkerOptions> = { pipelineLoader: (entry) => loadNoopPipeline(entry) };
  const shape = await fleetJobShape();
  const bare: Array<{ jobsPerSec: number; enqueuePerSec: number }> = [];
  const fleet: Array<{ jobsPerSec: number; enqueuePerSec: number; meanBatchSize: number }> = [];
  const barePlain: number[] = [];
  const fleetFixed: number[] = [];
  const fleetWork: number[] = [];
  const bareWork: number[] = [];
  const workOnly: number[] = [];
  // Warm-up until both paths are compiled (the first rounds of either run ~30 % slower): JIT, Lua scripts, sharp.
  for (let i = 0; i < 2; i++) {
    await bareRound(options.noopJobs / 2, { concurrency, enqueueConcurrency, shape });
    await bareRound(options.noopJobs / 2, { concurrency, enqueueConcurrency });
    await fleetRound(options.noopJobs / 2, enqueueConcurrency, options.modelsDir, noopLane);
  }
  for (let r = 0; r < options.rounds; r++) {
    // Each pair runs back to back, so a round's ratio compares like with like on a noisy machine; which goes first
    // alternates, so neither always gets the warmer (or the colder) slot.
    const pairBare = () => bareRound(options.noopJobs, { concurrency, enqueueConcurrency, shape });
    const pairFleet = () => fleetRound(options.noopJobs, enqueueConcurrency, options.modelsDir, noopLane);
    if (r % 2 === 0) {
      bare.push(await pairBare());
      fleet.push(await pairFleet());
    } else {
      fleet.push(await pairFleet());
      bare.push(await pairBare());
    }
    barePlain.push((await bareRound(options.noopJobs, { concurrency, enqueueConcurrency })).jobsPerSec);
    fleetFixed.push((await fleetRound(options.noopJobs, enqueueConcurrency, options.modelsDir, { ...noopLane, fixedConcurrency: concurrency })).jobsPerSec);
    options.log(
      `overhead round ${r + 1}: bare BullMQ ${bare.at(-1)!.jobsPerSec.toFixed(0)} jobs/s, fleet no-op lane ${fleet.at(-1)!.jobsPerSec.toFixed(0)} ` +
        `(ratio ${(fleet.at(-1)!.jobsPerSec / bare.at(-1)!.jobsPerSec).toFixed(3)}); bare on plain jobs ${barePlain.at(-1)!.toFixed(0)}, ` +
        `fleet fixed concurrency ${concurrency} ${fleetFixed.at(-1)!.toFixed(0)}`,
    );
  }
  // The image-work rows after all no-op rounds: sharp's threads and buffers would otherwise sit between the pairs.
  await finishWorkOnly(300);
  for (let r = 0; r < options.rounds; r++) {
    bareWork.push((await bareRound(options.finishWorkJobs, { concurrency, enqueueConcurrency, shape, withFinishWork: true })).jobsPerSec);
    fleetWork.push((await fleetRound(options.finishWorkJobs, enqueueConcurrency, options.modelsDir, finishLane)).jobsPerSec);
    workOnly.push(await finishWorkOnly(options.finishWorkJobs));
    options.log(`overhead with image work, round ${r + 1}: bare ${bareWork.at(-1)!.toFixed(0)}, fleet ${fleetWork.at(-1)!.toFixed(0)}, the work alone ${workOnly.at(-1)!.toFixed(0)}`);
  }
  const roundRatios = fleet.map((f, i) => f.jobsPerSec / bare[i]!.jobsPerSec);
  // The headline pair is the round with the median ratio, so its two rates and the ratio agree.
  const medianRound = roundRatios.indexOf(median(roundRatios));
  return {
    fleetJobsPerSec: round(fleet[medianRound]!.jobsPerSec, 0),
    bullmqJobsPerSec: round(bare[medianRound]!.jobsPerSec, 0),
    ratio: round(roundRatios[medianRound]!, 3),
    bullmqPlainJobsPerSec: round(median(barePlain), 0),
    ratioVsPlainJobs: round(median(fleet.map((f, i) => f.jobsPerSec / barePlain[i]!)), 3),
    fleetFixedConcurrencyJobsPerSec: round(median(fleetFixed), 0),
    fleetWithFinishWorkJobsPerSec: round(median(fleetWork), 0),
    bullmqWithFinishWorkJobsPerSec: round(median(bareWork), 0),
    finishWorkOnlyJobsPerSec: round(median(workOnly), 0),
    ratioVsBareWithFinishWork: round(median(fleetWork.map((f, i) => f / bareWork[i]!)), 3),
    noopJobsPerRound: options.noopJobs,
    finishWorkJobsPerRound: options.finishWorkJobs,
    rounds: options.rounds,
    fleetEnqueuePerSec: round(median(fleet.map((f) => f.enqueuePerSec)), 0),
    bullmqEnqueuePerSec: round(median(bare.map((b) => b.enqueuePerSec)), 0),
    fleetRounds: fleet.map((f) => round(f.jobsPerSec, 0)),
    bullmqRounds: bare.map((b) => round(b.jobsPerSec, 0)),
    roundRatios: roundRatios.map((r) => round(r, 3)),
    fleetMeanBatchSize: round(median(fleet.map((f) => f.meanBatchSize)), 1),
    fleetLane: { lane: 'flash', ...NOOP_BATCHING, concurrency: 'held + wanted items (production default)', requestPx: REQUEST_SIDE_PX },
    timing: 'completions between the first and the last finishedOn',
  };
}
