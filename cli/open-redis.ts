import { createRedisConnection, FleetError, readConfig, redactRedisUrl, RedisUnavailableError, waitForRedis, type RedisClient } from '../contract/index.js';
import { isConnectionError } from '../producer/add-outcome.js';

/**
 * Opens a connection for one CLI command, runs `use`, and closes it. Fails with E_REDIS_UNAVAILABLE naming the Redis
 * (password redacted) and what was being done when Redis does not answer within `timeoutMs` or goes away meanwhile.
 * @param doing what the command does, for the message. @default the command's name (`fleet policy apply`)
 */
export async function withRedis<T>(url: string, use: (redis: RedisClient) => Promise<T>, timeoutMs = 3000, doing = `running ${commandName()}`): Promise<T> {
  const redis = createRedisConnection(url, { role: 'request', connectionName: 'fleet-cli', tls: readConfig().redisTls });
  redis.on('error', () => {});
  const target = redactRedisUrl(url);
  try {
    await waitForRedis(redis, timeoutMs).catch((error) => {
      throw new RedisUnavailableError(error, { target, doing: `connecting (${doing}, waited ${timeoutMs} ms)` });
    });
    try {
      return await use(redis);
    } catch (error) {
      if (!(error instanceof FleetError) && (redis.status !== 'ready' || isConnectionError(error))) throw new RedisUnavailableError(error, { target, doing });
      throw error;
    }
  } finally {
    redis.disconnect();
  }
}

/** `fleet policy apply`: the words of the command line before its first option or argument that is not a subcommand. */
function commandName(): string {
  const words: string[] = [];
  for (const arg of process.argv.slice(2, 4)) {
    if (!/^[a-z]+$/.test(arg)) break;
    words.push(arg);
  }
  return ['fleet', ...words].join(' ');
}
