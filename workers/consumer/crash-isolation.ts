import type { Job } from 'bullmq';
import { DAY, fleetKey, FleetError, type JobData, type JobResult, type Logger, type RedisClient } from '../../contract/index.js';
import { RunAloneGate } from './run-alone-gate.js';

/** What a run alone leaves in Redis while it runs: if its process dies, the next worker finds it. */
interface AloneRunMark {
  workerId: string;
  /** The job's stall count when it started alone: a higher count later means it stalled during that run. */
  stalledCounter: number;
  startedAt: number;
}

/** `<prefix>:alone-run:<job id>`: present while a job runs alone (and after, if its process died during it). */
export function aloneRunKey(prefix: string, jobId: string): string {
  return fleetKey(prefix, 'alone-run', jobId);
}

/** `<prefix>:batch-holders`: job id → the worker whose batch holds it, while it runs. */
export function batchHoldersKey(prefix: string): string {
  return fleetKey(prefix, 'batch-holders');
}

/** `<prefix>:alive:<worker id>`: present while that worker process lives. */
export function workerAliveKey(prefix: string, workerId: string): string {
  return fleetKey(prefix, 'alive', workerId);
}

export interface CrashIsolationOptions {
  /** A non-blocking connection (the worker's main one). */
  redis: RedisClient;
  prefix: string;
  workerId: string;
  logger: Logger;
  /**
   * How long this worker's liveness key lasts, ms; refreshed at a third of it. Half the job lock duration: a dead
   * worker's key is gone by the time BullMQ finds its jobs' locks gone, so those jobs are known to have lost their
   * process.
   */
  aliveTtlMs: number;
  now?: () => number;
}

/**
 * Finds the job that kills its worker process (a native crash or an OOM kill in onnxruntime or sharp), without
 * failing the jobs that shared its batch. Each batch records its jobs' worker in Redis, and each worker keeps a
 * liveness key. A job that BullMQ moved back to the queue as stalled (`job.stalledCounter` > 0) whose batch's
 * worker is no longer alive lost its process while it ran; a stall whose worker lives (a Redis outage let its locks
 * lapse) is not a crash. Such a job is a suspect: it runs alone, with nothing else of this process running
 * beside it (see {@link RunAloneGate}), its batch of one, and a mark in Redis while it runs. A suspect whose mark
 * is still there when it comes back, from a run that its stall count shows it stalled in, killed its process while
 * it ran alone: it fails `E_WORKER_CRASH` at once instead of killing more workers. Its batch-mates stalled once
 * too; they run alone once each and complete.
 */
export class CrashIsolation {
  readonly gate = new RunAloneGate();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** Jobs given back since the last HDEL (see `release`). */
  private released: string[] = [];
  private readonly flushReleased = (): void => {
    const ids = this.released;
    this.released = [];
    void this.options.redis.hdel(batchHoldersKey(this.options.prefix), ...ids).catch(() => {});
  };
  private readonly beat = (): void => {
    const { redis, prefix, workerId, aliveTtlMs } = this.options;
    void redis.set(workerAliveKey(prefix, workerId), String(this.now()), 'PX', aliveTtlMs).catch(() => {});
  };

  constructor(private readonly options: CrashIsolationOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Keeps this worker's liveness key, refreshed at a third of its TTL and as soon as Redis is back after an outage. */
  start(): void {
    this.beat();
    this.timer = setInterval(this.beat, this.options.aliveTtlMs / 3);
    this.timer.unref();
    this.options.redis.on('ready', this.beat);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.options.redis.off('ready', this.beat);
    await this.options.redis.del(workerAliveKey(this.options.prefix, this.options.workerId)).catch(() => {});
  }

  /** Records that this worker's batch now runs `jobIds` (before the batch runs; not awaited). */
  holdBatch(jobIds: readonly string[]): void {
    if (jobIds.length === 0) return;
    const { redis, prefix, workerId } = this.options;
    // Field/value pairs as one flat argument list: an object would be built, then flattened again by ioredis.
    const fields = new Array<string>(2 * jobIds.length);
    for (let i = 0; i < jobIds.length; i++) {
      fields[2 * i] = jobIds[i]!;
      fields[2 * i + 1] = workerId;
    }
    void redis.hset(batchHoldersKey(prefix), ...fields).catch(() => {});
  }

  /**
   * The job ended here (completed, failed or returned to the queue): no batch of this worker holds it. The jobs of
   * one event-loop turn (a batch ends at once) are given back in one HDEL.
   */
  release(jobId: string): void {
    this.released.push(jobId);
    if (this.released.length === 1) setImmediate(this.flushReleased);
  }


  /**
   * Runs `render` shared, or alone for a suspect (`render(true)`: it must make a batch of its own).
   * @throws FleetError E_WORKER_CRASH for a suspect that killed its process while it ran alone.
   */
  async run<T>(job: Job<JobData, JobResult>, render: (alone: boolean) => Promise<T>): Promise<T> {
    if (job.stalledCounter === 0 || !(await this.lostItsProcess(job.id!))) return this.gate.runShared(() => render(false));
    const { redis, prefix, workerId, logger } = this.options;
    const key = aloneRunKey(prefix, job.id!);
    const mark = await this.readMark(key);
    if (mark !== undefined && job.stalledCounter > mark.stalledCounter) {
      await redis.del(key).catch(() => {});
      throw new FleetError(
        'E_WORKER_CRASH',
        `the worker process ${mark.workerId} died while it ran this job alone (a native crash or an out-of-memory kill); ` +
          'the job was re-run alone after a worker holding it had died before, so it is the one that kills its worker, and it is not retried',
        { details: { workerId: mark.workerId, stalledCounter: job.stalledCounter } },
      );
    }
    return this.gate.runAlone(async () => {
      logger.warn({ jobId: job.id, lane: job.data.lane, model: job.data.model, stalledCounter: job.stalledCounter }, 'a worker holding this job died: running it alone');
      const written: AloneRunMark = { workerId, stalledCounter: job.stalledCounter, startedAt: this.now() };
      // Without the mark a second death is not blamed on the job (BullMQ's stall limit still ends it).
      await redis.set(key, JSON.stringify(written), 'PX', DAY).catch((error) => logger.warn({ jobId: job.id, err: error }, 'run-alone mark not written'));
      try {
        return await render(true);
      } finally {
        await redis.del(key).catch(() => {});
      }
    });
  }

  /** Whether a batch held the job in a worker that is not alive now. Unknown (Redis away) counts as no. */
  private async lostItsProcess(jobId: string): Promise<boolean> {
    const { redis, prefix } = this.options;
    try {
      const holder = await redis.hget(batchHoldersKey(prefix), jobId);
      if (holder === null) return (await redis.exists(aloneRunKey(prefix, jobId))) === 1;
      return (await redis.exists(workerAliveKey(prefix, holder))) === 0;
    } catch {
      return false;
    }
  }

  private async readMark(key: string): Promise<AloneRunMark | undefined> {
    const raw = await this.options.redis.get(key).catch(() => null);
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as AloneRunMark;
    } catch {
      return undefined;
    }
  }
}
