import { Command, Option } from 'commander';
import { HOUR, LANES, MINUTE, type Lane } from '../../contract/index.js';
import { withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { durationOption } from '../duration.js';
import { readFleetStatus } from '../fleet-status.js';
import { parseLaneList } from '../lane-argument.js';
import { withRedis } from '../open-redis.js';
import { renderStatus } from '../status-report.js';

interface StatusOptions extends ConnectionOptions {
  lane?: Lane[];
  window: number;
}

/** `fleet status`: depth, throughput, tail latency, batch size, workers and policy, once. */
export function statusCommand(): Command {
  return withConnectionOptions(new Command('status'))
    .description('per lane: depth, completed/failed per minute, p50/p95/p99 of end-to-end and queue wait, batch size; workers; policy version')
    .addOption(new Option('--lane <lane>', `one lane or a comma-separated list (${LANES.join(', ')})`).argParser(parseLaneList))
    .addOption(new Option('--window <duration>', 'latency and throughput window (e.g. 1m, 5m, 1h)').argParser(durationOption('window', MINUTE, 3 * HOUR)).default(5 * MINUTE, '5m'))
    .action(async (options: StatusOptions) =>
      withRedis(options.redis, async (redis) => {
        const status = await readFleetStatus(redis, options.prefix, { windowMs: options.window, ...(options.lane ? { lanes: options.lane } : {}) });
        console.log(options.json ? JSON.stringify(status) : renderStatus(status));
      }),
    );
}
