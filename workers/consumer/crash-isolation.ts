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

export interface CrashIsolationOptions {
  /** A non-blocking connection (the worker's main one). */
  redis: RedisClient;
  prefix: string;
  workerId: string;
  logger: Logger;
  now?: () => number;
}

/**
 * Finds the job that kills its worker process (a native crash or an OOM kill in onnxruntime or sharp), without
 * failing the jobs that shared its batch. A job that BullMQ moved back to the queue as stalled (its process died
 * holding it: `job.stalledCounter` > 0) is a suspect: it runs alone, with nothing else of this process running
 * beside it (see {@link RunAloneGate}), its batch of one, and a mark in Redis while it runs. A suspect whose mark
 * is still there when it comes back, from a run that its stall count shows it stalled in, killed its process while
 * it ran alone: it fails `E_WORKER_CRASH` at once instead of killing more workers. Its batch-mates stalled once
 * too; they run alone once each and complete.
 */
export class CrashIsolation {
  readonly gate = new RunAloneGate();
  private readonly now: () => number;

  constructor(private readonly options: CrashIsolationOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Runs `render` shared, or alone for a suspect (`render(true)`: it must make a batch of its own).
   * @throws FleetError E_WORKER_CRASH for a suspect that killed its process while it ran alone.
   */
  async run<T>(job: Job<JobData, JobResult>, render: (alone: boolean) => Promise<T>): Promise<T> {
    if (job.stalledCounter === 0) return this.gate.runShared(() => render(false));
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
