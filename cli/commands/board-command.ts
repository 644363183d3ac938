import { Command } from 'commander';
import { createLogger, createRedisConnection, readConfig, redactRedisUrl } from '../../contract/index.js';
import { integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { createQueueBoard } from '../queue-board.js';
import { onShutdown } from '../shutdown.js';

interface BoardOptions extends ConnectionOptions {
  host: string;
  port: number;
}

/** `fleet board`: bull-board over the fleet's lanes, on loopback by default and behind FLEET_TOKEN when it is set. */
export function boardCommand(): Command {
  return withConnectionOptions(new Command('board'))
    .description("bull-board (the BullMQ queue UI) over the fleet's lanes; behind FLEET_TOKEN when set")
    .option('--host <addr>', 'bind address: loopback unless you mean to expose it', '127.0.0.1')
    .option('--port <n>', 'port', integerOption('port', 0, 65535), 3000)
    .action(async (options: BoardOptions) => {
      const config = readConfig();
      const logger = createLogger({ level: config.logLevel, bindings: { role: 'board' } });
      // BullMQ's Queue wants a connection that may block (maxRetriesPerRequest: null), as workers have.
      const connection = createRedisConnection(options.redis, { role: 'worker', connectionName: 'fleet-board', tls: config.redisTls });
      connection.on('error', (error) => logger.warn({ err: error }, 'board: redis connection error'));
      const board = await createQueueBoard({ connection, prefix: options.prefix, ...(config.ingressToken === undefined ? {} : { token: config.ingressToken }) });
      await board.app.listen({ host: options.host, port: options.port });
      const address = board.app.server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      logger.info({ url: `http://${options.host}:${port}/`, redis: redactRedisUrl(options.redis), prefix: options.prefix, auth: config.ingressToken !== undefined }, 'fleet board listening');
      onShutdown(logger, [board.close, async () => connection.disconnect()]);
    });
}
