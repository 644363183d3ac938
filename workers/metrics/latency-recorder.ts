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
} from '../../contract/index.js';

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
 * an array increment per observation: keys are built only when flushing. While Redis is away the counts wait
 * in memory (a few hundred numbers per lane and minute) and go out with the next flush that works.
 */
export class LatencyRecorder {
  /** minute → lane → counts */
  private pending = new Map<number, Map<string, LaneMinute>>();
  /** Keys whose EXPIRE failed: set again with the next flush, so no histogram outlives its TTL. */
  private unexpired = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
    private readonly flushIntervalMs = 1000,
    /** Told when a periodic flush fails (its counts are kept for the next one). @default ignore */
    private readonly onFlushError: (error: unknown) => void = () => {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush().catch(this.onFlushError), this.flushIntervalMs);
    this.timer.unref();
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

  /**
   * Sends what was counted since the last flush. A command that fails has its counts put back for the next
   * flush; what Redis applied is not sent again. (If the connection drops after Redis applied some commands
   * but before their replies came, those are sent twice: counts may run high after an outage, never low.)
   */
  async flush(): Promise<void> {
    if (this.pending.size === 0 && this.unexpired.size === 0) return;
    const batch = this.pending;
    const unexpired = this.unexpired;
    this.pending = new Map();
    this.unexpired = new Set();
    const pipeline = this.redis.pipeline();
    // What to redo if each command fails, in pipeline order: put a HINCRBY's counts back, or re-set an EXPIRE.
    const adds: Array<() => void> = [];
    const expire = (key: string) => {
      pipeline.expire(key, HISTOGRAM_TTL_SECONDS);
      adds.push(() => this.unexpired.add(key));
    };
    for (const key of unexpired) expire(key);
    for (const [minute, lanes] of batch) {
      for (const [lane, counts] of lanes) {
        for (const [metric, buckets] of counts.buckets) {
          const key = histogramKey(this.prefix, lane, metric, minute);
          buckets.forEach((n, index) => {
            if (n === 0) return;
            pipeline.hincrby(key, String(index), n);
            adds.push(() => this.addBucket(this.laneMinute(minute, lane), metric, index, n));
          });
          expire(key);
        }
        if (counts.counters.size > 0) {
          const key = laneStatsKey(this.prefix, lane, minute);
          for (const [field, n] of counts.counters) {
            pipeline.hincrby(key, field, n);
            adds.push(() => this.addCounter(this.laneMinute(minute, lane), field, n));
          }
          expire(key);
        }
      }
    }
    // Put back what did not reach Redis, so an outage delays counts rather than losing them; what did is not
    // counted twice.
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      for (const add of adds) add();
      throw error;
    }
    const failed = results === null ? adds.map(() => new Error('pipeline discarded')) : results.map(([error]) => error);
    let firstError: Error | undefined;
    failed.forEach((error, i) => {
      if (error === null) return;
      firstError ??= error;
      adds[i]!();
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
