import { Command } from 'commander';
import { createLogger, createMetricsRegistry, readConfig, redactRedisUrl } from '../../contract/index.js';
import { createIngress, createProducer } from '../../producer/index.js';
import { integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { onShutdown } from '../shutdown.js';

export interface IngressCommandOptions extends ConnectionOptions {
  host: string;
  port: number;
}

/** Starts the ingress; resolves with a `close()` once it listens. */
export async function startIngress(options: IngressCommandOptions) {
  const config = readConfig();
  const logger = createLogger({ level: config.logLevel, bindings: { role: 'ingress' } });
  const producer = createProducer({ redis: options.redis, redisTls: config.redisTls, prefix: options.prefix });
  const registry = createMetricsRegistry({ role: 'ingress' });
  const app = createIngress({ producer, registry, logger, ...(config.ingressToken ? { token: config.ingressToken } : {}) });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info({ host: options.host, port, redis: redactRedisUrl(options.redis), prefix: options.prefix, auth: config.ingressToken !== undefined }, 'ingress listening');
  return {
    port,
    logger,
    close: async () => {
      await app.close();
      await producer.close();
    },
  };
}

export function ingressCommand(): Command {
  const config = readConfig();
  return withConnectionOptions(new Command('ingress'))
    .description('run the HTTP ingress (POST /generate, GET /jobs/:id, /healthz, /metrics)')
    .option('--host <addr>', 'bind address (env FLEET_HOST)', config.ingressHost)
    .option('--port <n>', 'port (env FLEET_PORT)', integerOption('port', 0, 65535), config.ingressPort)
    .action(async (options: IngressCommandOptions) => {
      const ingress = await startIngress(options);
      onShutdown(ingress.logger, [ingress.close]);
    });
}
