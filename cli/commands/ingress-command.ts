import { Command } from 'commander';
import { ConfigError, createLogger, createMetricsRegistry, readConfig, redactRedisUrl, RedisOutageLog, routeProcessWarnings, type FleetConfig } from '../../contract/index.js';
import { AccessTokens, createIngress, createProducer } from '../../producer/index.js';
import { createArtifactStore, storeSourceImageInspector } from '../../workers/index.js';
import { integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { storeUrlOption } from '../option-parsers.js';
import { onShutdown } from '../shutdown.js';

export interface IngressCommandOptions extends ConnectionOptions {
  host: string;
  port: number;
  /** The workers' store, read for upscale sources' dimensions before enqueue. @default env FLEET_STORE */
  store?: string;
}

/** The ingress's tokens: a scoped tokens file, or the one all-scopes `FLEET_TOKEN`; not both. */
export function ingressTokens(config: FleetConfig): AccessTokens | undefined {
  if (config.tokensFile !== undefined && config.ingressToken !== undefined) {
    throw new ConfigError('set FLEET_TOKENS_FILE or FLEET_TOKEN, not both (put the single token in the file, with readAllJobs)', 'FLEET_TOKEN');
  }
  if (config.tokensFile !== undefined) return AccessTokens.fromFile(config.tokensFile);
  return config.ingressToken === undefined ? undefined : AccessTokens.single(config.ingressToken);
}

/** Starts the ingress; resolves with a `close()` once it listens. */
export async function startIngress(options: IngressCommandOptions) {
  const config = readConfig();
  const tokens = ingressTokens(config);
  const logger = createLogger({ level: config.logLevel, bindings: { role: 'ingress' } });
  routeProcessWarnings(logger);
  const store = createArtifactStore(options.store ?? config.storeUrl, { ...(config.s3Endpoint ? { s3Endpoint: config.s3Endpoint } : {}), s3Region: config.s3Region });
  const producer = createProducer({
    redis: options.redis,
    redisTls: config.redisTls,
    prefix: options.prefix,
    sources: storeSourceImageInspector(store),
    ...(config.idSecret === undefined ? {} : { idSecret: config.idSecret }),
  });
  new RedisOutageLog(logger, redactRedisUrl(options.redis)).watch(producer.redis);
  const registry = createMetricsRegistry({ role: 'ingress' });
  const app = createIngress({ producer, registry, logger, ...(tokens === undefined ? {} : { tokens }) });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info({ host: options.host, port, redis: redactRedisUrl(options.redis), prefix: options.prefix, auth: tokens !== undefined, store: store.description }, 'ingress listening');
  return {
    port,
    logger,
    close: async () => {
      await app.close();
      await producer.close();
      await store.close();
    },
  };
}

export function ingressCommand(): Command {
  const config = readConfig();
  return withConnectionOptions(new Command('ingress'))
    .description('run the HTTP ingress (POST /generate, GET /jobs/:id, /healthz, /metrics)')
    .option('--host <addr>', 'bind address (env FLEET_HOST)', config.ingressHost)
    .option('--port <n>', 'port (env FLEET_PORT)', integerOption('port', 0, 65535), config.ingressPort)
    .option('--store <url>', "the workers' artifact store, read for upscale sources' dimensions (env FLEET_STORE)", storeUrlOption, config.storeUrl)
    .action(async (options: IngressCommandOptions) => {
      const ingress = await startIngress(options);
      onShutdown(ingress.logger, [ingress.close]);
    });
}
