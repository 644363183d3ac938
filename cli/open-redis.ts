import { createRedisConnection, readConfig, RedisUnavailableError, waitForRedis, type RedisClient } from '../contract/index.js';

/** Opens a connection for one CLI command, runs `use`, and closes it. Fails with E_REDIS_UNAVAILABLE after `timeoutMs`. */
export async function withRedis<T>(url: string, use: (redis: RedisClient) => Promise<T>, timeoutMs = 3000): Promise<T> {
  const redis = createRedisConnection(url, { role: 'request', connectionName: 'fleet-cli', tls: readConfig().redisTls });
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
