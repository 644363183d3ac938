import { groupKey } from './queue-names.js';

/**
 * Mergeable latency histograms. Workers count observations into fixed buckets per lane, metric and
 * minute in Redis (`{<prefix>:metrics}:hist:<lane>:<metric>:<minute>`, a hash of bucket index → count; the
 * hash tag keeps every histogram and counter in one Redis Cluster slot, so one pipeline can write or read
 * them all on a cluster too); readers
 * (the `fleet` CLI) add the minutes of a window and read percentiles, without scanning jobs.
 * All processes share this bucket layout, so their counts add up.
 */

/** Upper bounds of the buckets, ms; the last bucket is everything above the last bound. */
export const LATENCY_BUCKET_BOUNDS_MS = [
  1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500, 600, 800, 1000, 1200, 1500,
  2000, 2500, 3000, 4000, 5000, 6000, 8000, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000,
] as const;

/** What the histograms time. */
export const LATENCY_METRICS = ['endToEnd', 'queueWait', 'batchWait', 'inference', 'postProcess', 'upload'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];

/** How long per-minute histograms and counters are kept in Redis, seconds. */
export const HISTOGRAM_TTL_SECONDS = 3 * 3600;

export function bucketIndexOf(ms: number): number {
  let lo = 0;
  let hi: number = LATENCY_BUCKET_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms <= LATENCY_BUCKET_BOUNDS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The minute an epoch-ms instant falls in (epoch minutes). */
export function minuteOf(epochMs: number): number {
  return Math.floor(epochMs / 60_000);
}

export function histogramKey(prefix: string, lane: string, metric: LatencyMetric, minute: number): string {
  return groupKey(prefix, 'metrics', 'hist', lane, metric, String(minute));
}

/** Per-lane per-minute counters: completed, failed, batches, batchItems. */
export function laneStatsKey(prefix: string, lane: string, minute: number): string {
  return groupKey(prefix, 'metrics', 'stats', lane, String(minute));
}

/** Bucket counts, index → count (index LATENCY_BUCKET_BOUNDS_MS.length is the overflow bucket). */
export type BucketCounts = number[];

export function emptyBuckets(): BucketCounts {
  return new Array<number>(LATENCY_BUCKET_BOUNDS_MS.length + 1).fill(0);
}

/** Adds a Redis hash (`{ "3": "12", … }`) into `into`. */
export function addBuckets(into: BucketCounts, hash: Record<string, string>): BucketCounts {
  for (const [field, value] of Object.entries(hash)) {
    const index = Number(field);
    if (Number.isInteger(index) && index >= 0 && index < into.length) into[index]! += Number(value);
  }
  return into;
}

/**
 * The q-quantile (0–1) of bucketed counts, interpolated linearly inside its bucket; null when empty.
 * The true value lies in the same bucket, so the error is at most one bucket's width.
 */
export function quantileOf(buckets: BucketCounts, q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i]!;
    if (count === 0) continue;
    if (seen + count >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BUCKET_BOUNDS_MS[i - 1]!;
      const upper = i < LATENCY_BUCKET_BOUNDS_MS.length ? LATENCY_BUCKET_BOUNDS_MS[i]! : lower * 2;
      return lower + ((upper - lower) * Math.max(0, rank - seen)) / count;
    }
    seen += count;
  }
  return LATENCY_BUCKET_BOUNDS_MS[LATENCY_BUCKET_BOUNDS_MS.length - 1]!;
}

/** The bucket [lower, upper] an exact value falls in (for checks "within one bucket"). */
export function bucketRangeOf(ms: number): [number, number] {
  const i = bucketIndexOf(ms);
  const lower = i === 0 ? 0 : LATENCY_BUCKET_BOUNDS_MS[i - 1]!;
  const upper = i < LATENCY_BUCKET_BOUNDS_MS.length ? LATENCY_BUCKET_BOUNDS_MS[i]! : Number.POSITIVE_INFINITY;
  return [lower, upper];
}
