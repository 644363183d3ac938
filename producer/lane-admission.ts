import type { Queue } from 'bullmq';
import type { RedisClient } from '../contract/index.js';

/**
 * Admission into a lane, exact across ingresses: the depth check and a reservation of the job's place are one Lua
 * script, so two ingresses cannot both take the last place. A reservation counts towards the depth until its job
 * exists (the script drops reservations whose job was added, so a job is never counted twice) or it expires (an
 * add whose outcome was never known). All keys share the lane's hash tag `{<prefix>:<lane>}`, so the script runs
 * in one slot on a Redis Cluster too.
 *
 * KEYS: wait, paused, prioritized, reservations (zset: job id → expiry ms). ARGV: max waiting, job id, reservation
 * lifetime ms, the job-key prefix (`{<prefix>:<lane>}:<lane>:`). Returns -1 when admitted, else the depth.
 */
const ADMIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local pending = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  if redis.call('EXISTS', ARGV[4] .. id) == 1 then redis.call('ZREM', KEYS[4], id) else pending = pending + 1 end
end
local depth = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + redis.call('ZCARD', KEYS[3]) + pending
if depth >= tonumber(ARGV[1]) then return depth end
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return -1
`;

/** An add sent but never answered keeps its place this long: long enough for a frozen Redis to come back. */
export const RESERVATION_LIFETIME_MS = 60_000;

export type AdmissionResult = { admitted: true } | { admitted: false; depth: number };

/** Reserves a place for `jobId` in its lane when the lane's waiting depth (with places reserved) is under `maxWaiting`. */
export async function admitJob(redis: RedisClient, queue: Queue, jobId: string, maxWaiting: number): Promise<AdmissionResult> {
  const result = (await redis.eval(
    ADMIT_SCRIPT,
    4,
    queue.keys.wait!,
    queue.keys.paused!,
    queue.keys.prioritized!,
    reservationsKey(queue),
    String(maxWaiting),
    jobId,
    String(RESERVATION_LIFETIME_MS),
    queue.toKey(''),
  )) as number;
  return result === -1 ? { admitted: true } : { admitted: false, depth: result };
}

/** Gives a reservation back (the job was added, or is known not to be). */
export async function releaseReservation(redis: RedisClient, queue: Queue, jobId: string): Promise<void> {
  await redis.zrem(reservationsKey(queue), jobId);
}

function reservationsKey(queue: Queue): string {
  return queue.toKey('fleet-admitting');
}
