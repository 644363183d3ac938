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

/**
 * Counts one request's bins into the current minute: one pipeline of an HINCRBY per feature (and the minute's
 * EXPIRE the first time this process writes it), not awaited by the request. A count Redis does not take is lost
 * (drift is a distribution: a few missing requests do not move it) and reported to `onError`.
 */
export class RequestFeatureCounter {
  private expiredMinute = -1;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly now: () => number,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  count(bins: DriftBins): void {
    const minute = minuteOf(this.now());
    const key = driftCountsKey(this.prefix, minute);
    const pipeline = this.redis.pipeline();
    for (const feature of DRIFT_FEATURES) pipeline.hincrby(key, `${feature}=${bins[feature]}`, 1);
    const expire = minute !== this.expiredMinute;
    if (expire) pipeline.expire(key, DRIFT_COUNTS_TTL_SECONDS);
    this.expiredMinute = minute;
    pipeline.exec().then(
      (results) => {
        const failed = results?.find(([error]) => error !== null)?.[0];
        if (failed) {
          if (expire) this.expiredMinute = -1;
          this.onError(failed);
        }
      },
      (error: unknown) => {
        if (expire) this.expiredMinute = -1;
        this.onError(error);
      },
    );
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
