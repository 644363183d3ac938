import type { Redis } from 'ioredis';
import { createRedisConnection, RedisUnavailableError, waitForRedis } from '../contract/index.js';

/** Opens a connection for one CLI command, runs `use`, and closes it. Fails with E_REDIS_UNAVAILABLE after `timeoutMs`. */
export async function withRedis<T>(url: string, use: (redis: Redis) => Promise<T>, timeoutMs = 3000): Promise<T> {
  const redis = createRedisConnection(url, { role: 'request', connectionName: 'fleet-cli' });
  redis.on('error', () => {});
  try {
    await waitForRedis(redis, timeoutMs).catch((error) => {
      throw new RedisUnavailableError(error);
    });
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}
