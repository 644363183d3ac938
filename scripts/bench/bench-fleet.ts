import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createLogger, laneQueueName, laneQueuePrefix, type Lane, type Logger } from '../../contract/index.js';
import { FleetWorker, type ArtifactStore, type FleetWorkerOptions } from '../../workers/index.js';
import { sleep } from './bench-stats.js';
import { cleanupPrefix } from '../../test/helpers/redis.js';

/** The Redis the benchmarks use. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix per benchmark run, deleted afterwards with {@link deletePrefix}. */
export function benchPrefix(name: string): string {
  return `bench-${name}-${randomUUID().slice(0, 8)}`;
}

/** Deletes every key of a prefix (the tests' clean-up: BullMQ's `{prefix:lane}` keys and the fleet's keys). */
export const deletePrefix = cleanupPrefix;

/** A logger that formats every line (the cost is real) and throws it away; `BENCH_LOG=1` sends it to stderr. */
export function benchLogger(level = 'info'): Logger {
  const destination = process.env.BENCH_LOG
    ? process.stderr
    : new Writable({
        write(_chunk, _encoding, done) {
          done();
        },
      });
  return createLogger({ level: process.env.BENCH_LOG ? process.env.BENCH_LOG_LEVEL ?? level : level, destination });
}

/** A FleetWorker on `prefix` with a silent logger and its own metrics registry. */
export async function startBenchWorker(prefix: string, store: ArtifactStore, options: Partial<FleetWorkerOptions>): Promise<FleetWorker> {
  const worker = new FleetWorker({
    redisUrl: REDIS_URL,
    prefix,
    logger: benchLogger(),
    // A registry without Node's default metrics: those start an event-loop monitor and a GC observer that are
    // never stopped, so a bench process creating a worker per round would slow down round after round.
    registry: new Registry(),
    shutdownTimeoutMs: 10_000,
    ...options,
    store,
  });
  await worker.start();
  return worker;
}

/**
 * Completed (and failed) counts of the given lanes, read with one Queue per lane. Polling costs one round trip
 * per lane per poll, the same for every path measured.
 */
export class LaneCounter {
  private readonly queues: Queue[];
  private readonly redis: Redis;

  constructor(prefix: string, lanes: readonly Lane[], url = REDIS_URL) {
    this.redis = new Redis(url, { maxRetriesPerRequest: null });
    this.queues = lanes.map((lane) => new Queue(laneQueueName(lane), { connection: this.redis, prefix: laneQueuePrefix(prefix, lane) }));
  }

  async finished(): Promise<number> {
    const counts = await Promise.all(this.queues.map((q) => q.getJobCounts('completed', 'failed')));
    return counts.reduce((sum, c) => sum + (c.completed ?? 0) + (c.failed ?? 0), 0);
  }

  /** Polls every `pollMs` until `target` jobs finished; resolves with the time (performance.now) it saw them. */
  async waitFor(target: number, timeoutMs: number, pollMs = 20): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if ((await this.finished()) >= target) return performance.now();
      if (performance.now() > deadline) throw new Error(`only ${await this.finished()} of ${target} jobs finished within ${timeoutMs} ms`);
      await sleep(pollMs);
    }
  }

  queue(index = 0): Queue {
    return this.queues[index]!;
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close()));
    this.redis.disconnect();
  }
}

/** Runs `count` calls of `fn` with at most `concurrency` in flight. */
export async function inParallel(count: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}
