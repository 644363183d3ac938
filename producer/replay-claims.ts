import type { Job } from 'bullmq';
import { fleetKey, FleetError, laneOfJobId, LANES, type JobData, type JobResult, type RedisClient } from '../contract/index.js';
import type { LaneQueues } from './lane-queues.js';

/**
 * Replays, and why replaying the same selection twice adds nothing.
 *
 * - A replay of job `<lane>.<u>` gets the id `<lane'>.r1-<u>`; a replay of `<lane>.rN-<u>` gets
 *   `<lane'>.r(N+1)-<u>`. `<lane'>` is the original lane, or with `--reroute` the lane the current policy picks.
 * - Before enqueueing, the original is claimed with `SET NX` on `<prefix>:replay:<original id>` (value: the new
 *   id's lane-free part and the time). A claimed original is skipped ("already replayed"), even after its replay
 *   finished and expired, and even when a policy change would now route it to another lane. Only a claim whose
 *   replay job is missing while it should still exist (a crash between claim and enqueue, or `drain
 *   --remove-waiting` removed it) is enqueued again, under the same id.
 * - A replay that failed again is a failed job of its own (`rN`), so the next `fleet replay` over failed jobs
 *   replays it once more as `r(N+1)` while skipping the original: each run adds at most one attempt per chain.
 * - The enqueue itself is idempotent too: an existing job id adds nothing (`duplicate`).
 */

export type FleetJob = Job<JobData, JobResult>;

/** The lane-free part of the replay id of `originalId`: `r1-<u>` for `<lane>.<u>`, `r(N+1)-<u>` for `<lane>.rN-<u>`. */
export function replayUniqueOf(originalId: string): string {
  const lane = laneOfJobId(originalId);
  if (lane === undefined) throw new FleetError('E_VALIDATION', `${originalId} is not a fleet job id (<lane>.<id>)`);
  const rest = originalId.slice(lane.length + 1);
  const match = /^r(\d+)-(.+)$/.exec(rest);
  return match ? `r${Number(match[1]) + 1}-${match[2]}` : `r1-${rest}`;
}

/** Where the claim on replaying `originalId` lives. */
export function replayMarkerKey(prefix: string, originalId: string): string {
  return fleetKey(prefix, 'replay', originalId);
}

export interface ReplayMarker {
  unique: string;
  at: number;
}

/** The replay recorded for a job, if any (`fleet jobs` shows it). */
export async function readReplayMarker(redis: RedisClient, prefix: string, originalId: string): Promise<ReplayMarker | undefined> {
  const raw = await redis.get(replayMarkerKey(prefix, originalId));
  return raw === null ? undefined : (JSON.parse(raw) as ReplayMarker);
}

/** Finds a job by the lane-free part of its id in any lane. */
export async function findByUnique(queues: LaneQueues, unique: string): Promise<FleetJob | undefined> {
  for (const lane of LANES) {
    const job = await queues.queue(lane).getJob(`${lane}.${unique}`);
    if (job) return job as FleetJob;
  }
  return undefined;
}
