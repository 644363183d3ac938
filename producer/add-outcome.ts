import { Cluster } from 'ioredis';
import { redactRedisUrl, type RedisClient } from '../contract/index.js';

/** How often a silent Redis is asked again while an add's outcome is being confirmed, ms. */
const CONFIRM_POLL_MS = 100;

/** The Redis a producer talks to, for messages: its URL with the password redacted, or host:port of a given client. */
export function describeRedisTarget(redis: string | RedisClient): string {
  if (typeof redis === 'string') return redactRedisUrl(redis);
  if (redis instanceof Cluster) return 'the Redis Cluster';
  return `redis://${redis.options.host ?? '127.0.0.1'}:${redis.options.port ?? 6379}`;
}

/** One `ready` listener per connection, shared by every caller waiting for it (an outage has many). */
const nextReady = new WeakMap<RedisClient, Promise<void>>();

/** Resolves true once `redis` is ready, false after `timeoutMs` (0: only if it is ready now). */
export async function waitForConnection(redis: RedisClient, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  if (timeoutMs <= 0 || redis.status === 'end') return false;
  let ready = nextReady.get(redis);
  if (ready === undefined) {
    ready = new Promise<void>((resolve) => redis.once('ready', () => resolve())).finally(() => nextReady.delete(redis));
    nextReady.set(redis, ready);
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([ready.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export { isConnectionError } from '../contract/index.js';

/**
 * A command ioredis refused before writing it (the connection was not up and there is no offline queue): Redis
 * never saw it, so nothing it would have done happened.
 */
export function isUnsentCommandError(error: unknown): boolean {
  return error instanceof AddNotSentError || /Stream isn't writeable|Cluster isn't ready and enableOfflineQueue/i.test((error as Error)?.message ?? '');
}

/** An add that failed before any of its commands was written (its script could not be loaded, the connection went). */
export class AddNotSentError extends Error {
  override readonly name = 'AddNotSentError';
}

/**
 * Whether the job key exists, asked as soon as Redis answers, for an add whose reply never came. The question goes
 * on the connection the add went on (the slot's node connection on a cluster), after it, and Redis answers a
 * connection's commands in order, so a "no" means the add never ran and never will. Resolves undefined when Redis
 * stays silent for `timeoutMs`.
 */
export async function confirmAdd(redis: RedisClient, jobKey: string, timeoutMs: number): Promise<boolean | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    if (await waitForConnection(redis, left)) {
      try {
        return (await redis.exists(jobKey)) === 1;
      } catch {
        // Still frozen (a command timeout) or gone again: ask again.
      }
    }
    await new Promise((r) => setTimeout(r, Math.min(CONFIRM_POLL_MS, Math.max(0, deadline - Date.now()))));
  }
}
