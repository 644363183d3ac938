import {
  bucketIndexOf,
  HISTOGRAM_TTL_SECONDS,
  histogramKey,
  LATENCY_BUCKET_BOUNDS_MS,
  laneStatsKey,
  minuteOf,
  modelHistogramKey,
  modelStatsKey,
  countsInModelSeries,
  failedByCodeField,
  MODEL_METRICS,
  type ErrorCode,
  type JobData,
  type JobResult,
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

/** One series' counts for one minute: bucket counts per metric (index as in LATENCY_BUCKET_BOUNDS_MS), counters. */
interface LaneMinute {
  buckets: Map<LatencyMetric, number[]>;
  counters: Map<string, number>;
  /** Where this series' histograms and counters live (a lane's, or a model's on a lane). */
  histogramKey: (metric: LatencyMetric, minute: number) => string;
  statsKey: (minute: number) => string;
}

/** A series' id in `pending` and where its keys are. */
interface SeriesKeys extends Pick<LaneMinute, 'histogramKey' | 'statsKey'> {
  id: string;
}

/**
 * Collects latencies and per-lane (and per-model: `observeModelJob`) counts in memory and adds them to the per-minute Redis histograms
 * every `flushIntervalMs` in one pipeline (a few commands a second, whatever the job rate). Counting costs
 * an array increment per observation: keys are built only when flushing. While Redis is away the counts wait
 * in memory (a few hundred numbers per lane and minute) and go out with the next flush that works.
 */
export class LatencyRecorder {
  /** minute → series (a lane, or lane NUL model) → counts */
  private pending = new Map<number, Map<string, LaneMinute>>();
  /** Keys whose EXPIRE failed: set again with the next flush, so no histogram outlives its TTL. */
  private unexpired = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /**
   * Each series' id and key builders, made on its first job: building them per observation cost more than the
   * counting itself. Per lane, and per lane and model.
   */
  private readonly laneKeys = new Map<string, SeriesKeys>();
  private readonly modelKeys = new Map<string, Map<string, SeriesKeys>>();

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
   * A completed job in its model's series (see contract/model-stats.ts): end-to-end and inference latency, cost
   * units, the OCR check. Experiment jobs are left out (`countsInModelSeries`).
   */
  observeModelJob(data: Pick<JobData, 'lane' | 'model' | 'policy'>, result: Pick<JobResult, 'timings' | 'costUnits' | 'text'>): void {
    if (!countsInModelSeries(data)) return;
    const counts = this.modelMinute(minuteOf(this.now()), data.lane, data.model);
    for (const metric of MODEL_METRICS) {
      const ms = result.timings[`${metric}Ms`];
      if (ms !== undefined) this.addBucket(counts, metric, bucketIndexOf(ms), 1);
    }
    this.addCounter(counts, 'completed', 1);
    if (result.costUnits !== undefined) this.addCounter(counts, 'costMilliUnits', Math.round(result.costUnits * 1000));
    if (result.text !== undefined && 'cer' in result.text) {
      this.addCounter(counts, 'textChecked', 1);
      if (result.text.passed) this.addCounter(counts, 'textPassed', 1);
      this.addCounter(counts, 'textCerMilli', Math.round(result.text.cer * 1000));
    }
  }

  /** A job that failed for good, in its model's series, by code. */
  countModelFailure(data: Pick<JobData, 'lane' | 'model' | 'policy'>, code: ErrorCode): void {
    if (!countsInModelSeries(data)) return;
    const counts = this.modelMinute(minuteOf(this.now()), data.lane, data.model);
    this.addCounter(counts, 'failed', 1);
    this.addCounter(counts, failedByCodeField(code), 1);
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
    for (const [minute, series] of batch) {
      for (const [id, counts] of series) {
        const again = () => this.seriesMinute(minute, id, counts);
        for (const [metric, buckets] of counts.buckets) {
          const key = counts.histogramKey(metric, minute);
          buckets.forEach((n, index) => {
            if (n === 0) return;
            pipeline.hincrby(key, String(index), n);
            adds.push(() => this.addBucket(again(), metric, index, n));
          });
          expire(key);
        }
        if (counts.counters.size > 0) {
          const key = counts.statsKey(minute);
          for (const [field, n] of counts.counters) {
            pipeline.hincrby(key, field, n);
            adds.push(() => this.addCounter(again(), field, n));
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
    let keys = this.laneKeys.get(lane);
    if (keys === undefined) {
      this.laneKeys.set(
        lane,
        (keys = {
          id: lane,
          histogramKey: (metric, m) => histogramKey(this.prefix, lane, metric, m),
          statsKey: (m) => laneStatsKey(this.prefix, lane, m),
        }),
      );
    }
    return this.seriesMinute(minute, keys.id, keys);
  }

  private modelMinute(minute: number, lane: string, model: string): LaneMinute {
    let models = this.modelKeys.get(lane);
    if (models === undefined) this.modelKeys.set(lane, (models = new Map()));
    let keys = models.get(model);
    if (keys === undefined) {
      models.set(
        model,
        (keys = {
          id: `${lane}\u0000${model}`,
          histogramKey: (metric, m) => modelHistogramKey(this.prefix, lane, model, metric as (typeof MODEL_METRICS)[number], m),
          statsKey: (m) => modelStatsKey(this.prefix, lane, model, m),
        }),
      );
    }
    return this.seriesMinute(minute, keys.id, keys);
  }

  /** The pending counts of one series (`id`: a lane, or lane NUL model) in one minute. */
  private seriesMinute(minute: number, id: string, keys: Pick<LaneMinute, 'histogramKey' | 'statsKey'>): LaneMinute {
    let series = this.pending.get(minute);
    if (series === undefined) this.pending.set(minute, (series = new Map()));
    let counts = series.get(id);
    if (counts === undefined) series.set(id, (counts = { buckets: new Map(), counters: new Map(), histogramKey: keys.histogramKey, statsKey: keys.statsKey }));
    return counts;
  }

  private addCounter(counts: LaneMinute, field: string, n: number): void {
    counts.counters.set(field, (counts.counters.get(field) ?? 0) + n);
  }

  private addBucket(counts: LaneMinute, metric: LatencyMetric, index: number, n: number): void {
    let buckets = counts.buckets.get(metric);
    if (buckets === undefined) counts.buckets.set(metric, (buckets = new Array<number>(LATENCY_BUCKET_BOUNDS_MS.length + 1).fill(0)));
    buckets[index]! += n;
  }
}
