import type { Queue } from 'bullmq';
import {
  addBuckets,
  emptyBuckets,
  histogramKey,
  laneStatsKey,
  LANES,
  MINUTE,
  minuteOf,
  quantileOf,
  type BucketCounts,
  type Lane,
  type RedisClient,
} from '../contract/index.js';
import { LaneQueues } from '../producer/index.js';
import { PolicyStore } from '../router/index.js';
import { readWorkers, type WorkerInfo } from '../workers/index.js';

export interface FleetStatusOptions {
  /** Lanes to read. @default all four */
  lanes?: readonly Lane[];
  /** Latency and throughput window, ms: the minutes it touches are merged. @default 5 minutes */
  windowMs?: number;
  /** Also return the end-to-end p95 of each of the last N minutes per lane (for charts). @default 0 */
  historyMinutes?: number;
  /** Epoch ms. @default Date.now() */
  now?: number;
  /** Lane queues to reuse (watch keeps one set open); made and closed per call when absent. */
  queues?: LaneQueues;
}

/** Percentiles of one latency metric over the window, ms (null when nothing was observed). */
export interface LatencySummary {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Observations in the window. */
  count: number;
}

export interface LaneStatus {
  lane: Lane;
  /** The lane is paused (`fleet drain`): workers take no new jobs; enqueues still wait in it. */
  paused: boolean;
  /** Jobs by BullMQ state now. `waiting` excludes `prioritized` (jobs with a tier priority wait there). */
  depth: { waiting: number; prioritized: number; active: number; delayed: number; failed: number; completed: number };
  /** Completed and (finally) failed jobs per minute, averaged over the window. */
  perMinute: { completed: number; failed: number };
  /** Sums over the window, from the workers' per-minute counters. */
  totals: { completed: number; failed: number; batches: number; batchItems: number };
  /** batchItems / batches over the window; null with no batch. */
  meanBatchSize: number | null;
  /** From enqueue to completed. */
  endToEndMs: LatencySummary;
  /** From enqueue to a worker taking the job. */
  queueWaitMs: LatencySummary;
  /** End-to-end p95 of each of the last `historyMinutes` minutes, oldest first (the current minute last). */
  p95History?: Array<number | null>;
}

export interface FleetStatus {
  prefix: string;
  /** Epoch ms of the reading. */
  at: number;
  windowMs: number;
  /** The active routing policy version; null when none was ever applied (producers then seed version 1). */
  policyVersion: number | null;
  lanes: LaneStatus[];
  /** Workers seen within the heartbeat TTL. */
  workers: WorkerInfo[];
}

const STAT_FIELDS = ['completed', 'failed', 'batches', 'batchItems'] as const;

/**
 * One reading of the fleet: queue depths from BullMQ, percentiles and rates from the workers' mergeable
 * per-minute histograms and counters (never by scanning jobs), workers from their heartbeats, and the active
 * policy version. `fleet status`, `fleet watch` and the tests share it.
 */
export async function readFleetStatus(redis: RedisClient, prefix: string, options: FleetStatusOptions = {}): Promise<FleetStatus> {
  const lanes = options.lanes ?? LANES;
  const windowMs = options.windowMs ?? 5 * MINUTE;
  const now = options.now ?? Date.now();
  const historyMinutes = options.historyMinutes ?? 0;
  const queues = options.queues ?? new LaneQueues(redis, prefix);
  try {
    const [laneStatuses, workers, policyVersion] = await Promise.all([
      Promise.all(lanes.map((lane) => readLane(redis, prefix, queues.queue(lane), lane, windowMs, historyMinutes, now))),
      readWorkers(redis, prefix, now),
      new PolicyStore(redis, prefix).activeVersion(),
    ]);
    return { prefix, at: now, windowMs, policyVersion, lanes: laneStatuses, workers };
  } finally {
    if (options.queues === undefined) await queues.close();
  }
}

async function readLane(redis: RedisClient, prefix: string, queue: Queue, lane: Lane, windowMs: number, historyMinutes: number, now: number): Promise<LaneStatus> {
  const lastMinute = minuteOf(now);
  const firstWindowMinute = minuteOf(now - windowMs) + 1;
  const windowMinutes = Math.max(1, lastMinute - firstWindowMinute + 1);
  const minutesRead = Math.max(windowMinutes, historyMinutes);
  const minutes = Array.from({ length: minutesRead }, (_, i) => lastMinute - minutesRead + 1 + i);

  // All histogram and counter keys share one hash tag, so one pipeline reads them on a cluster too.
  const pipeline = redis.pipeline();
  for (const minute of minutes) {
    pipeline.hgetall(histogramKey(prefix, lane, 'endToEnd', minute));
    pipeline.hgetall(histogramKey(prefix, lane, 'queueWait', minute));
    pipeline.hgetall(laneStatsKey(prefix, lane, minute));
  }
  const [replies, counts, paused] = await Promise.all([pipeline.exec(), queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'), queue.isPaused()]);
  const hashes = (replies ?? []).map(([error, value]) => {
    if (error) throw error;
    return (value ?? {}) as Record<string, string>;
  });

  const endToEnd = emptyBuckets();
  const queueWait = emptyBuckets();
  const totals = { completed: 0, failed: 0, batches: 0, batchItems: 0 };
  const p95History: Array<number | null> = [];
  minutes.forEach((minute, i) => {
    const [e2e, wait, stats] = [hashes[3 * i]!, hashes[3 * i + 1]!, hashes[3 * i + 2]!];
    if (minute >= firstWindowMinute) {
      addBuckets(endToEnd, e2e);
      addBuckets(queueWait, wait);
      for (const field of STAT_FIELDS) totals[field] += Number(stats[field] ?? 0);
    }
    if (i >= minutes.length - historyMinutes) p95History.push(quantileOf(addBuckets(emptyBuckets(), e2e), 0.95));
  });

  // The current minute is partial: rates divide by the time the window's minutes actually cover.
  const coveredMinutes = Math.max((now - firstWindowMinute * MINUTE) / MINUTE, 1 / 60);
  const rate = (n: number) => Math.round((n / coveredMinutes) * 100) / 100;
  const status: LaneStatus = {
    lane,
    paused,
    depth: {
      waiting: counts.waiting ?? 0,
      prioritized: counts.prioritized ?? 0,
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      completed: counts.completed ?? 0,
    },
    perMinute: { completed: rate(totals.completed), failed: rate(totals.failed) },
    totals,
    meanBatchSize: totals.batches === 0 ? null : Math.round((totals.batchItems / totals.batches) * 100) / 100,
    endToEndMs: summarize(endToEnd),
    queueWaitMs: summarize(queueWait),
  };
  if (historyMinutes > 0) status.p95History = p95History;
  return status;
}

function summarize(buckets: BucketCounts): LatencySummary {
  const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
  return {
    p50: round(quantileOf(buckets, 0.5)),
    p95: round(quantileOf(buckets, 0.95)),
    p99: round(quantileOf(buckets, 0.99)),
    count: buckets.reduce((a, b) => a + b, 0),
  };
}

/** Jobs a lane holds that have not finished: waiting + prioritized + active + delayed. */
export function backlogOf(lane: LaneStatus): number {
  const d = lane.depth;
  return d.waiting + d.prioritized + d.active + d.delayed;
}
