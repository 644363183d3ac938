import { Job, type JobsOptions, type Queue } from 'bullmq';
import type { RedisClient } from '../contract/index.js';
import { AddTransactions } from './add-transactions.js';
import { TickBatch, type BatchOutcome } from './tick-batch.js';

/**
 * Admission into a lane, exact across ingresses: the depth check and a reservation of each job's place are one Lua
 * script, so two ingresses cannot both take the last place. A reservation counts towards the depth until it is
 * given back or expires (an add whose outcome was never known). The adds and the give-backs are one MULTI, so no
 * script ever sees a job both added and still reserved: the depth is counts only, O(log n) in the reservations,
 * however many adds are in flight. All keys share the lane's hash tag `{<prefix>:<lane>}`, so the script and the
 * MULTI run in one slot on a Redis Cluster too.
 *
 * KEYS: wait, paused, prioritized, reservations (zset: job id → expiry ms). ARGV: max waiting, reservation lifetime
 * ms, then the job ids in the order they asked. Returns, per id, -1 when admitted, else the depth it met.
 */
const ADMIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local depth = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4])
local max = tonumber(ARGV[1])
local expiry = now + tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV do
  if depth >= max then
    out[#out + 1] = depth
  else
    redis.call('ZADD', KEYS[4], expiry, ARGV[i])
    depth = depth + 1
    out[#out + 1] = -1
  end
end
redis.call('PEXPIRE', KEYS[4], ARGV[2])
return out
`;

/** The script's name on the connection (ioredis sends EVALSHA, and the body only when Redis does not know it). */
const ADMIT_COMMAND = 'fleetAdmitJobs';

/** An add sent but never answered keeps its place this long: long enough for a frozen Redis to come back. */
export const RESERVATION_LIFETIME_MS = 60_000;

export type AdmissionResult = { admitted: true } | { admitted: false; depth: number };

type AdmitCommand = (wait: string, paused: string, prioritized: string, reservations: string, max: string, lifetimeMs: string, ...jobIds: string[]) => Promise<number[]>;

interface AdmitCall {
  queue: Queue;
  jobId: string;
  maxWaiting: number;
}

interface AddCall {
  queue: Queue;
  name: string;
  data: unknown;
  opts: JobsOptions & { jobId: string };
}

/**
 * A producer's admissions and adds. The calls of one event-loop turn go to Redis together, per lane: one admission
 * script for all the ids asking, one MULTI for all the jobs admitted (see `TickBatch`). Each call keeps its own
 * outcome, so a job refused, or an add Redis refused, fails alone. The admissions go on the producer's connection,
 * the MULTIs on one of their own (see `AddTransactions`).
 */
export class LaneAdmission {
  private readonly admits = new TickBatch<AdmitCall, AdmissionResult>((_key, calls) => this.admitAll(calls));
  private readonly adds = new TickBatch<AddCall, string>((_key, calls) => this.addAll(calls));
  private readonly transactions: AddTransactions;

  /** `connectTimeoutMs`: how long an add waits for its connection to come up before it is refused unsent. */
  constructor(
    private readonly redis: RedisClient,
    private readonly connectTimeoutMs: number,
  ) {
    redis.defineCommand(ADMIT_COMMAND, { numberOfKeys: 4, lua: ADMIT_SCRIPT });
    this.transactions = new AddTransactions(redis);
  }

  /** The connection the adds go on: an add's outcome is confirmed there (Redis answers one connection in order). */
  get addConnection(): RedisClient {
    return this.transactions.connection;
  }

  /** Reserves a place for `jobId` in its lane when the lane's waiting depth (with places reserved) is under `maxWaiting`. */
  admit(queue: Queue, jobId: string, maxWaiting: number): Promise<AdmissionResult> {
    return this.admits.call(`${queue.qualifiedName}\n${maxWaiting}`, { queue, jobId, maxWaiting });
  }

  /**
   * Adds an admitted job and gives its reservation back in the same MULTI: both happen or neither does, so an add
   * whose answer was lost leaves the reservation exactly when it left no job. Resolves with the job's id (an existing
   * job's id when the id was taken: BullMQ adds nothing then).
   */
  add<D>(queue: Queue<D>, name: string, data: D, opts: JobsOptions & { jobId: string }): Promise<string> {
    return this.adds.call(queue.qualifiedName, { queue: queue as Queue, name, data, opts });
  }

  /** Gives a reservation back (the add failed, or is known not to have happened). */
  async release(queue: Queue, jobId: string): Promise<void> {
    await this.redis.zrem(reservationsKey(queue), jobId);
  }

  private async admitAll(calls: AdmitCall[]): Promise<Array<BatchOutcome<AdmissionResult>>> {
    const { queue, maxWaiting } = calls[0]!;
    const admit = (this.redis as unknown as Record<string, AdmitCommand>)[ADMIT_COMMAND]!.bind(this.redis);
    const results = await admit(
      queue.keys.wait!,
      queue.keys.paused!,
      queue.keys.prioritized!,
      reservationsKey(queue),
      String(maxWaiting),
      String(RESERVATION_LIFETIME_MS),
      ...calls.map((c) => c.jobId),
    );
    return results.map((depth) => ({ value: depth === -1 ? { admitted: true } : { admitted: false, depth } }));
  }

  /** Resolves true once the adds' connection is up, false after `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean> {
    return this.transactions.ready(timeoutMs);
  }

  /** Closes the adds' connection (the producer's own is its caller's). */
  close(): void {
    this.transactions.close();
  }

  private async addAll(calls: AddCall[]): Promise<Array<BatchOutcome<string>>> {
    const { queue } = calls[0]!;
    // Without an offline queue a MULTI sent while the connection is still coming up would be refused unsent.
    if (this.transactions.connection.status !== 'ready') await this.transactions.ready(this.connectTimeoutMs);
    const results = await this.transactions.run((transaction) => {
      for (const { name, data, opts } of calls) {
        const job = new Job(queue as never, name, data, { ...queue.jobsOpts, ...opts }, opts.jobId);
        // Queued synchronously; its own promise settles at once and the add's outcome is read from EXEC's results.
        job.addJob(transaction as never).catch(() => {});
      }
      transaction.call('ZREM', reservationsKey(queue), ...calls.map((c) => c.opts.jobId));
    }, calls.length + 1);
    return calls.map(({ opts }, i) => {
      const [error, id] = results[i]!;
      if (error !== null) return { error };
      if (typeof id === 'number' && id < 0) return { error: new Error(`Redis refused the add of job ${opts.jobId} (BullMQ code ${id})`) };
      return { value: String(id) };
    });
  }
}

function reservationsKey(queue: Queue): string {
  return queue.toKey('fleet-admitting');
}
