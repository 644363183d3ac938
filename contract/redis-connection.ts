import { Redis, type RedisOptions } from 'ioredis';

/**
 * How a connection behaves while Redis is away.
 * - `request`: fail fast (no offline queue), so the ingress answers 503 at once instead of hanging;
 *   ioredis keeps reconnecting in the background and the next request goes through.
 * - `worker`: wait and retry forever (BullMQ workers and blocking reads need `maxRetriesPerRequest: null`).
 */
export type RedisConnectionRole = 'request' | 'worker';

export interface RedisConnectionOptions {
  /** @default 'request' */
  role?: RedisConnectionRole;
  /** Name shown in `CLIENT LIST`. @default 'image-fleet' */
  connectionName?: string;
  /** Longest pause between reconnect attempts, ms. @default 2000 */
  maxReconnectDelayMs?: number;
}

/**
 * Opens an ioredis connection from a URL: `redis://[:password@]host:port[/db]` or `rediss://` for TLS.
 * The password stays inside ioredis; use `redactRedisUrl()` before logging a URL.
 */
export function createRedisConnection(url: string, options: RedisConnectionOptions = {}): Redis {
  const role = options.role ?? 'request';
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  const shared: RedisOptions = {
    connectionName: options.connectionName ?? 'image-fleet',
    lazyConnect: false,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
  };
  const byRole: RedisOptions =
    role === 'request'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 }
      : { enableOfflineQueue: true, maxRetriesPerRequest: null };
  return new Redis(url, { ...shared, ...byRole });
}

/** The URL with any password replaced by `***`, fit for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.username && parsed.password === '') parsed.username = '***';
    return parsed.toString();
  } catch {
    return '<unparseable redis url>';
  }
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${redis.status})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
