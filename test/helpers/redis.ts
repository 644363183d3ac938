import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis the integration tests use (.ci/run makes sure one answers). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh prefix per test, so tests share one Redis without touching each other's keys. */
export function testPrefix(): string {
  return `test-${randomUUID().slice(0, 12)}`;
}

/** Deletes every key of a prefix: BullMQ's `{prefix:lane}…` keys and the fleet's `prefix:…` keys. */
export async function cleanupPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    for (const pattern of [`{${prefix}:*`, `${prefix}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

/** Counts of every job state in every lane, to check that refused requests enqueued nothing. */
export async function countAllJobs(queues: Array<{ getJobCounts(...types: string[]): Promise<Record<string, number>> }>): Promise<number[]> {
  const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'paused')));
  return counts.flatMap((c) => Object.values(c));
}
