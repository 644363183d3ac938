import { Command } from 'commander';
import { readConfig } from '../../contract/index.js';
import { integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { ensureRedis } from '../local-redis.js';
import { onShutdown } from '../shutdown.js';
import { startIngress } from './ingress-command.js';

interface UpOptions extends ConnectionOptions {
  host: string;
  port: number;
}

/**
 * `fleet up` (what `npm start` runs): a local fleet. Uses the Redis at --redis, or starts a private
 * redis-server when nothing answers there, then runs the ingress.
 */
export function upCommand(): Command {
  const config = readConfig();
  return withConnectionOptions(new Command('up'))
    .description('run a local fleet: ingress (and workers, once they land), with a private Redis if none answers')
    .option('--host <addr>', 'ingress bind address (env FLEET_HOST)', config.ingressHost)
    .option('--port <n>', 'ingress port (env FLEET_PORT)', integerOption('port', 0, 65535), config.ingressPort)
    .action(async (options: UpOptions) => {
      const redis = await ensureRedis(options.redis, (message) => console.error(`fleet up: ${message}`));
      const ingress = await startIngress({ ...options, redis: redis.url });
      onShutdown(ingress.logger, [ingress.close, redis.stop]);
    });
}
