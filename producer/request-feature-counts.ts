import { groupKey, HOUR, minuteOf, MINUTE, type RedisClient } from '../contract/index.js';
import { DRIFT_FEATURES, emptyDriftCounts, type DriftBins, type DriftCounts, type DriftFeature } from '../router/index.js';

/**
 * Request features per minute in Redis, mergeable like the latency histograms: one hash per minute,
 * `{<prefix>:metrics}:drift:<minute>`, field `<feature>=<bin>` → requests. Every ingress adds into the same
 * hashes, so a window of any length is the sum of its minutes, whatever the number of ingresses.
 */

/** How long a minute's counts stay, seconds: a day and an hour, so `fleet drift baseline save --window 24h` sees a whole day. */
export const DRIFT_COUNTS_TTL_SECONDS = (25 * HOUR) / 1000;

/** Longest window that can be read (what the TTL keeps). */
export const MAX_DRIFT_WINDOW_MS = 24 * HOUR;

export function driftCountsKey(prefix: string, minute: number): string {
  return groupKey(prefix, 'metrics', 'drift', String(minute));
}

/** How long a request's feature counts wait in the process before they are written, ms. */
export const DRIFT_COUNTS_FLUSH_MS = 1000;

/**
 * Counts requests' bins into their minute. The counts are summed in the process and written every `flushMs` in one
 * pipeline of an HINCRBY per (minute, feature, bin) seen since the last write, so Redis's work follows the number of
 * distinct bins, not of requests, and no request waits on it. A write Redis does not take is lost (drift is a
 * distribution: a second of missing requests does not move it) and reported to `onError`; `flush()` writes what is
 * pending now (a producer flushes as it closes).
 */
export class RequestFeatureCounter {
  /** minute → per feature (in `DRIFT_FEATURES` order) bin → requests, not yet written. */
  private pending = new Map<number, Array<Map<string, number>>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly now: () => number,
    private readonly onError: (error: unknown) => void = () => {},
    private readonly flushMs: number = DRIFT_COUNTS_FLUSH_MS,
  ) {}

  count(bins: DriftBins): void {
    const minute = minuteOf(this.now());
    let features = this.pending.get(minute);
    if (features === undefined) this.pending.set(minute, (features = DRIFT_FEATURES.map(() => new Map())));
    // The field names are built once per flush, not per request: this runs on every request the ingress takes.
    for (let i = 0; i < DRIFT_FEATURES.length; i++) {
      const counts = features[i]!;
      const bin = bins[DRIFT_FEATURES[i]!];
      counts.set(bin, (counts.get(bin) ?? 0) + 1);
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes the pending counts; resolves once Redis answered (errors go to `onError`). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const pending = this.pending;
    this.pending = new Map();
    const pipeline = this.redis.pipeline();
    for (const [minute, features] of pending) {
      const key = driftCountsKey(this.prefix, minute);
      features.forEach((counts, i) => {
        for (const [bin, n] of counts) pipeline.hincrby(key, `${DRIFT_FEATURES[i]}=${bin}`, n);
      });
      // Every minute written gets its EXPIRE again (one command a second): no state to keep, and no key left without a TTL.
      pipeline.expire(key, DRIFT_COUNTS_TTL_SECONDS);
    }
    try {
      const failed = (await pipeline.exec())?.find(([error]) => error !== null)?.[0];
      if (failed) throw failed;
    } catch (error) {
      this.onError(error);
    }
  }
}

/** The counts of the `windowMs` before `nowMs` (whole minutes, the current one included), read in one pipeline. */
export async function readDriftCounts(redis: RedisClient, prefix: string, windowMs: number, nowMs: number = Date.now()): Promise<DriftCounts> {
  if (!(windowMs >= MINUTE && windowMs <= MAX_DRIFT_WINDOW_MS)) throw new RangeError(`windowMs must be 1 minute to 24 hours, got ${windowMs}`);
  const last = minuteOf(nowMs);
  const minutes = Math.ceil(windowMs / MINUTE);
  const pipeline = redis.pipeline();
  for (let minute = last - minutes + 1; minute <= last; minute++) pipeline.hgetall(driftCountsKey(prefix, minute));
  const results = (await pipeline.exec()) ?? [];
  const counts = emptyDriftCounts();
  for (const [error, hash] of results) {
    if (error) throw error;
    for (const [field, value] of Object.entries(hash as Record<string, string>)) {
      const at = field.indexOf('=');
      const feature = field.slice(0, at) as DriftFeature;
      if (at < 0 || !Object.hasOwn(counts, feature)) continue;
      const row = counts[feature];
      const bin = field.slice(at + 1);
      row[bin] = (row[bin] ?? 0) + Number(value);
    }
  }
  return counts;
}
