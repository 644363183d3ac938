import pLimit from 'p-limit';
import { BackpressureError, FleetError, parseFailedReason, RedisUnavailableError, SECOND, type EnqueueReceipt, type ErrorCode, type JobData, type Lane } from '../contract/index.js';
import type { LaneQueues } from './lane-queues.js';
import type { Producer } from './producer.js';
import { findByUnique, readReplayMarker, replayMarkerKey, replayUniqueOf, type FleetJob, type ReplayMarker } from './replay-claims.js';

/** How long a replay keeps retrying one job under backpressure unless told otherwise. */
const BACKPRESSURE_WAIT_MS = 60 * SECOND;

export type ReplayState = 'failed' | 'completed';

export interface ReplaySelection {
  lanes: readonly Lane[];
  state: ReplayState;
  /** Only jobs finished at or after this epoch ms. */
  finishedSince?: number;
  /** Only failed jobs with this error code. */
  code?: ErrorCode;
}

/** A selected job and what replay did (or, dry, would do) with it. */
export interface ReplayEntry {
  id: string;
  lane: Lane;
  model: string;
  finishedOn: number | null;
  code?: ErrorCode;
  /** The replay's job id (planned, new or existing). */
  replayId: string;
  /** The replay's lane and model. */
  replayLane?: Lane;
  replayModel?: string;
  outcome: 'replayed' | 'would-replay' | 'already-replayed' | 'failed';
  /** Why it failed or was skipped. */
  reason?: string;
}

/** How `replayJobs` runs (the enqueue of each replay is `Producer.enqueueReplay`). */
export interface ReplayJobsOptions {
  /** Route again through the current policy (the lane and model may change); else the same lane and model. */
  reroute: boolean;
  /** Only say what would happen. */
  dryRun: boolean;
  /** Most new replays; already-replayed jobs do not count. @default unlimited */
  limit?: number;
  /** Longest time to keep retrying one job under backpressure, ms. @default 60000 */
  backpressureWaitMs?: number;
  /** Called after each job with how many were handled so far. */
  onProgress?: (handled: number, total: number) => void;
  now?: () => number;
}

/**
 * The jobs a selection matches, oldest first. Failed and completed sets are ordered by finish time, so the
 * scan pages from the newest and stops at `finishedSince`.
 */
export async function selectJobs(queues: LaneQueues, selection: ReplaySelection, pageSize = 200): Promise<FleetJob[]> {
  const selected: FleetJob[] = [];
  for (const lane of selection.lanes) {
    const queue = queues.queue(lane);
    for (let start = 0; ; start += pageSize) {
      const page = ((await queue.getJobs([selection.state], start, start + pageSize - 1, false)) as Array<FleetJob | undefined>).filter((j): j is FleetJob => Boolean(j));
      if (page.length === 0) break;
      let older = false;
      for (const job of page) {
        if (selection.finishedSince !== undefined && (job.finishedOn ?? 0) < selection.finishedSince) {
          older = true;
          continue;
        }
        if (selection.code !== undefined && parseFailedReason(job.failedReason).code !== selection.code) continue;
        selected.push(job);
      }
      if (older || page.length < pageSize) break;
    }
  }
  return selected.sort((a, b) => (a.finishedOn ?? 0) - (b.finishedOn ?? 0) || String(a.id).localeCompare(String(b.id)));
}

/** Replays the jobs (see `replay-claims.ts` for ids, claims and why a second run adds nothing). */
export async function replayJobs(producer: Producer, queues: LaneQueues, jobs: readonly FleetJob[], options: ReplayJobsOptions): Promise<ReplayEntry[]> {
  const now = options.now ?? Date.now;
  const redis = producer.redis;
  const { completedSeconds, failedSeconds } = producer.retention;
  const markerTtlSeconds = Math.max(completedSeconds, failedSeconds);
  const entries: ReplayEntry[] = [];
  let newReplays = 0;
  let handled = 0;
  const limit = pLimit(options.dryRun ? 32 : 16);

  const replayOne = async (job: FleetJob): Promise<ReplayEntry> => {
    const id = job.id!;
    const unique = replayUniqueOf(id);
    const base: ReplayEntry = {
      id,
      lane: job.data.lane,
      model: job.data.model,
      finishedOn: job.finishedOn ?? null,
      ...(job.failedReason ? { code: parseFailedReason(job.failedReason).code } : {}),
      replayId: `${job.data.lane}.${unique}`,
      outcome: 'failed',
    };
    const markerKey = replayMarkerKey(producer.prefix, id);
    const marker = await readReplayMarker(redis, producer.prefix, id);
    if (marker !== undefined) {
      const existing = await findByUnique(queues, marker.unique);
      if (existing) return { ...base, replayId: existing.id!, replayLane: existing.data.lane, replayModel: existing.data.model, outcome: 'already-replayed' };
      if (now() - marker.at > completedSeconds * 1000) return { ...base, outcome: 'already-replayed', reason: 'its replay ran and has expired' };
    }
    if (options.dryRun) {
      const target = options.reroute ? await producer.route(requestForReroute(job.data)) : { lane: job.data.lane, model: job.data.model };
      return { ...base, replayId: `${target.lane}.${unique}`, replayLane: target.lane, replayModel: target.model, outcome: 'would-replay' };
    }
    let claimed = false;
    if (marker === undefined) {
      claimed = (await redis.set(markerKey, JSON.stringify({ unique, at: now() } satisfies ReplayMarker), 'EX', markerTtlSeconds, 'NX')) === 'OK';
      if (!claimed) return { ...base, outcome: 'already-replayed', reason: 'replayed concurrently by another run' };
    }
    try {
      const receipt = await withBackpressureRetry(() => enqueueReplay(producer, job, unique, options.reroute), options.backpressureWaitMs ?? BACKPRESSURE_WAIT_MS);
      return { ...base, replayId: receipt.id, replayLane: receipt.lane, replayModel: receipt.model, outcome: receipt.duplicate ? 'already-replayed' : 'replayed' };
    } catch (error) {
      if (claimed) await redis.del(markerKey).catch(() => {});
      if (error instanceof RedisUnavailableError) throw error;
      const code = error instanceof FleetError ? error.code : 'E_INTERNAL';
      return { ...base, outcome: 'failed', reason: `[${code}] ${(error as Error).message}` };
    }
  };

  // Chunks no larger than what the limit still allows, so `limit` counts new replays exactly.
  let index = 0;
  while (index < jobs.length && (options.limit === undefined || newReplays < options.limit)) {
    const room = options.limit === undefined ? 64 : Math.min(64, options.limit - newReplays);
    const chunk = jobs.slice(index, index + room);
    index += chunk.length;
    const results = await Promise.all(chunk.map((job) => limit(() => replayOne(job))));
    for (const entry of results) {
      entries.push(entry);
      if (entry.outcome === 'replayed' || entry.outcome === 'would-replay') newReplays += 1;
      handled += 1;
      options.onProgress?.(handled, jobs.length);
    }
  }
  return entries;
}

/** The request as a new client request: an idempotency key would map back to the original job, so it goes. */
function requestForReroute(data: JobData): JobData['request'] {
  const { idempotencyKey: _dropped, ...request } = data.request;
  return request;
}

async function enqueueReplay(producer: Producer, job: FleetJob, unique: string, reroute: boolean): Promise<EnqueueReceipt> {
  if (reroute) return producer.enqueue(requestForReroute(job.data), { replayOf: job.id!, jobId: (lane) => `${lane}.${unique}` });
  return producer.enqueueReplay(job.data, { replayOf: job.id!, jobId: `${job.data.lane}.${unique}` });
}

async function withBackpressureRetry<T>(operation: () => Promise<T>, maxWaitMs: number): Promise<T> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof BackpressureError) || Date.now() >= deadline) throw error;
      await new Promise((r) => setTimeout(r, Math.min(error.retryAfterSeconds * 1000, Math.max(0, deadline - Date.now()))));
    }
  }
}
