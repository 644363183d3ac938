import {
  bucketIndexOf,
  HISTOGRAM_TTL_SECONDS,
  histogramKey,
  LATENCY_BUCKET_BOUNDS_MS,
  laneStatsKey,
  minuteOf,
  type LatencyMetric,
  type RedisClient,
  type StageTimings,
} from '../contract/index.js';

/** Per-lane per-minute counters. */
export type LaneCounterField = 'completed' | 'failed' | 'batches' | 'batchItems';

/** Which job timing feeds which histogram. */
const TIMING_OF: ReadonlyArray<readonly [LatencyMetric, keyof StageTimings]> = [
  ['queueWait', 'queueWaitMs'],
  ['batchWait', 'batchWaitMs'],
  ['inference', 'inferenceMs'],
  ['postProcess', 'postProcessMs'],
  ['upload', 'uploadMs'],
  ['endToEnd', 'endToEndMs'],
];

/** One lane's counts for one minute: bucket counts per metric (index as in LATENCY_BUCKET_BOUNDS_MS), counters. */
interface LaneMinute {
  buckets: Map<LatencyMetric, number[]>;
  counters: Map<LaneCounterField, number>;
}

/**
 * Collects latencies and per-lane counts in memory and adds them to the per-minute Redis histograms
 * every `flushIntervalMs` in one pipeline (a few commands a second, whatever the job rate). Counting costs
 * an array increment per observation: keys are built only when flushing.
 */
export class LatencyRecorder {
  /** minute → lane → counts */
  private pending = new Map<number, Map<string, LaneMinute>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
    private readonly flushIntervalMs = 1000,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush().catch(() => {}), this.flushIntervalMs);
    this.timer.unref();
  }

  observe(lane: string, metric: LatencyMetric, ms: number): void {
    this.addBucket(this.laneMinute(minuteOf(this.now()), lane), metric, bucketIndexOf(ms), 1);
  }

  /** Every timing a finished job has, and one `completed`, counted in the current minute. */
  observeJob(lane: string, timings: StageTimings): void {
    const counts = this.laneMinute(minuteOf(this.now()), lane);
    for (const [metric, field] of TIMING_OF) {
      const ms = timings[field];
      if (ms !== undefined) this.addBucket(counts, metric, bucketIndexOf(ms), 1);
    }
    this.addCounter(counts, 'completed', 1);
  }

  /** Adds to a lane counter: `completed`, `failed`, `batches`, `batchItems`. */
  count(lane: string, field: LaneCounterField, n = 1): void {
    this.addCounter(this.laneMinute(minuteOf(this.now()), lane), field, n);
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const pipeline = this.redis.pipeline();
    // What each HINCRBY adds, in pipeline order (EXPIREs are null), so a failed command's counts can be put back.
    const adds: Array<(() => void) | null> = [];
    for (const [minute, lanes] of batch) {
      for (const [lane, counts] of lanes) {
        for (const [metric, buckets] of counts.buckets) {
          const key = histogramKey(this.prefix, lane, metric, minute);
          buckets.forEach((n, index) => {
            if (n === 0) return;
            pipeline.hincrby(key, String(index), n);
            adds.push(() => this.addBucket(this.laneMinute(minute, lane), metric, index, n));
          });
          pipeline.expire(key, HISTOGRAM_TTL_SECONDS);
          adds.push(null);
        }
        if (counts.counters.size > 0) {
          const key = laneStatsKey(this.prefix, lane, minute);
          for (const [field, n] of counts.counters) {
            pipeline.hincrby(key, field, n);
            adds.push(() => this.addCounter(this.laneMinute(minute, lane), field, n));
          }
          pipeline.expire(key, HISTOGRAM_TTL_SECONDS);
          adds.push(null);
        }
      }
    }
    // Put back what did not reach Redis, so an outage delays counts rather than losing them; what did is not
    // counted twice.
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      for (const add of adds) add?.();
      throw error;
    }
    const failed = results === null ? adds.map(() => new Error('pipeline discarded')) : results.map(([error]) => error);
    let firstError: Error | undefined;
    failed.forEach((error, i) => {
      if (error === null) return;
      firstError ??= error;
      adds[i]?.();
    });
    if (firstError !== undefined) throw firstError;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => {});
  }

  private laneMinute(minute: number, lane: string): LaneMinute {
    let lanes = this.pending.get(minute);
    if (lanes === undefined) this.pending.set(minute, (lanes = new Map()));
    let counts = lanes.get(lane);
    if (counts === undefined) lanes.set(lane, (counts = { buckets: new Map(), counters: new Map() }));
    return counts;
  }

  private addCounter(counts: LaneMinute, field: LaneCounterField, n: number): void {
    counts.counters.set(field, (counts.counters.get(field) ?? 0) + n);
  }

  private addBucket(counts: LaneMinute, metric: LatencyMetric, index: number, n: number): void {
    let buckets = counts.buckets.get(metric);
    if (buckets === undefined) counts.buckets.set(metric, (buckets = new Array<number>(LATENCY_BUCKET_BOUNDS_MS.length + 1).fill(0)));
    buckets[index]! += n;
  }
}
