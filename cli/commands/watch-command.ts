import { Command, Option } from 'commander';
import { HOUR, LANES, MINUTE, SECOND, type Lane, type RedisClient } from '../../contract/index.js';
import { LaneQueues } from '../../producer/index.js';
import { integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { durationOption } from '../duration.js';
import { backlogOf, readFleetStatus, type FleetStatus } from '../fleet-status.js';
import { parseLaneList } from '../lane-argument.js';
import { withRedis } from '../open-redis.js';
import { colour } from '../table.js';
import { renderWatchFrame, type DepthHistory } from '../watch-screen.js';

interface WatchOptions extends ConnectionOptions {
  lane?: Lane[];
  window: number;
  interval: number;
  count?: number;
  ascii?: boolean;
}

const DEPTH_SPAN_SECONDS = 180;
const HISTORY_MINUTES = 30;

const ALT_SCREEN_ON = '\u001b[?1049h\u001b[?25l';
const ALT_SCREEN_OFF = '\u001b[?25h\u001b[?1049l';

function supportsUnicode(env: NodeJS.ProcessEnv = process.env): boolean {
  return /utf-?8/i.test(env.LC_ALL || env.LC_CTYPE || env.LANG || '');
}

/**
 * `fleet watch`: `fleet status` refreshed every second with sparklines of depth and p95 per lane. On a terminal
 * it draws on the alternate screen (home + redraw, no scrolling) and `q` (or Ctrl-C) quits, restoring the screen;
 * piped, it prints one frame (or with --json one JSON line) per refresh.
 */
export function watchCommand(): Command {
  return withConnectionOptions(new Command('watch'))
    .description('live status every second with charts of depth and p95 per lane; q quits')
    .addOption(new Option('--lane <lane>', `one lane or a comma-separated list (${LANES.join(', ')})`).argParser(parseLaneList))
    .addOption(new Option('--window <duration>', 'latency and throughput window').argParser(durationOption('window', MINUTE, 3 * HOUR)).default(5 * MINUTE, '5m'))
    .addOption(new Option('--interval <duration>', 'refresh interval').argParser(durationOption('interval', 100, MINUTE)).default(SECOND, '1s'))
    .option('--count <n>', 'stop after N refreshes', integerOption('count', 1, Number.MAX_SAFE_INTEGER))
    .option('--ascii', 'ASCII charts (default when the locale is not UTF-8)')
    .action(async (options: WatchOptions) => withRedis(options.redis, (redis) => watch(redis, options)));
}

async function watch(redis: RedisClient, options: WatchOptions): Promise<void> {
  const out = process.stdout;
  const interactive = Boolean(out.isTTY) && !options.json;
  const queues = new LaneQueues(redis, options.prefix);
  const depth: DepthHistory = new Map();
  const maxSamples = Math.ceil((DEPTH_SPAN_SECONDS * SECOND) / options.interval);
  let last: FleetStatus | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopped = true;
    wake?.();
  };

  const restore = () => {
    if (process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
    if (interactive) out.write(ALT_SCREEN_OFF);
  };
  const onKey = (key: Buffer) => {
    const text = key.toString('utf8');
    if (text === 'q' || text === 'Q' || text === '\u0003' || text === '\u001b') stop();
  };
  if (interactive) {
    out.write(ALT_SCREEN_ON);
    process.on('exit', restore);
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      process.stdin.resume();
      process.stdin.on('data', onKey);
    }
  }
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const redraw = () => last && interactive && draw(last);

  function draw(status: FleetStatus, notice?: string): void {
    const lines = renderWatchFrame(status, depth, {
      width: out.columns || 80,
      height: out.rows || 24,
      ascii: options.ascii || !supportsUnicode(),
      colour,
      depthSpanSeconds: DEPTH_SPAN_SECONDS,
      ...(notice ? { notice } : {}),
    });
    if (interactive) out.write(`\u001b[H${lines.map((l) => `${l}\u001b[K`).join('\r\n')}\u001b[J`);
    else out.write(`${lines.join('\n')}\n\n`);
  }
  if (interactive) out.on('resize', redraw);

  try {
    for (let refreshes = 0; !stopped && (options.count === undefined || refreshes < options.count); refreshes++) {
      const started = Date.now();
      try {
        const status = await readFleetStatus(redis, options.prefix, {
          windowMs: options.window,
          historyMinutes: HISTORY_MINUTES,
          queues,
          ...(options.lane ? { lanes: options.lane } : {}),
        });
        for (const lane of status.lanes) {
          const samples = depth.get(lane.lane) ?? [];
          samples.push(backlogOf(lane));
          if (samples.length > maxSamples) samples.splice(0, samples.length - maxSamples);
          depth.set(lane.lane, samples);
        }
        last = status;
        if (options.json) out.write(`${JSON.stringify(status)}\n`);
        else draw(status);
      } catch (error) {
        // Keep the last frame and say why it is stale; the connection reconnects on its own.
        const notice = `Redis: ${(error as Error).message}; retrying`;
        if (options.json) process.stderr.write(`${notice}\n`);
        else if (last) draw(last, notice);
        else process.stderr.write(`${notice}\n`);
      }
      if (options.count !== undefined && refreshes + 1 >= options.count) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(0, options.interval - (Date.now() - started)));
      });
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    out.removeListener('resize', redraw);
    if (process.stdin.isTTY) {
      process.stdin.removeListener('data', onKey);
      process.stdin.pause();
    }
    restore();
    process.removeListener('exit', restore);
    await queues.close();
  }
}
