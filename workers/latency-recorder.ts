import {
  bucketIndexOf,
  HISTOGRAM_TTL_SECONDS,
  histogramKey,
  laneStatsKey,
  minuteOf,
  type LatencyMetric,
  type RedisClient,
} from '../contract/index.js';

/**
 * Collects latencies and per-lane counts in memory and adds them to the per-minute Redis histograms
 * every `flushIntervalMs` in one pipeline (a few commands a second, whatever the job rate).
 */
export class LatencyRecorder {
  private pending = new Map<string, Map<string, number>>();
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
    this.add(histogramKey(this.prefix, lane, metric, minuteOf(this.now())), String(bucketIndexOf(ms)), 1);
  }

  /** Adds to a lane counter: `completed`, `failed`, `batches`, `batchItems`. */
  count(lane: string, field: 'completed' | 'failed' | 'batches' | 'batchItems', n = 1): void {
    this.add(laneStatsKey(this.prefix, lane, minuteOf(this.now())), field, n);
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const pipeline = this.redis.pipeline();
    for (const [key, fields] of batch) {
      for (const [field, n] of fields) pipeline.hincrby(key, field, n);
      pipeline.expire(key, HISTOGRAM_TTL_SECONDS);
    }
    try {
      await pipeline.exec();
    } catch (error) {
      // Put the counts back so an outage delays them rather than losing them.
      for (const [key, fields] of batch) for (const [field, n] of fields) this.add(key, field, n);
      throw error;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => {});
  }

  private add(key: string, field: string, n: number): void {
    let fields = this.pending.get(key);
    if (fields === undefined) this.pending.set(key, (fields = new Map()));
    fields.set(field, (fields.get(field) ?? 0) + n);
  }
}
