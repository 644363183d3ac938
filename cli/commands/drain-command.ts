import { Command, Option } from 'commander';
import { HOUR, SECOND, type Lane } from '../../contract/index.js';
import { LaneQueues } from '../../producer/index.js';
import { CommandFailure, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { durationOption } from '../duration.js';
import { parseLaneList } from '../lane-argument.js';
import { drainLanes, resumeLanes } from '../lane-drain.js';
import { withRedis } from '../open-redis.js';
import { createProgress } from '../progress-reporter.js';
import { createTable } from '../table.js';

interface DrainOptions extends ConnectionOptions {
  timeout: number;
  removeWaiting?: boolean;
}

/** `fleet drain <lane|all>`: stop workers taking new jobs, wait for the active ones, report what remains. */
export function drainCommand(): Command {
  return withConnectionOptions(new Command('drain'))
    .description('pause a lane (workers take no new jobs; enqueues still wait in it), wait for its active jobs, report what remains; deletes nothing unless --remove-waiting')
    .argument('<lane>', 'a lane, a comma-separated list, or all', parseLaneList)
    .addOption(new Option('--timeout <duration>', 'longest wait for active jobs (e.g. 30s, 5m); past it exit 1, the lane stays paused').argParser(durationOption('timeout', 0, 24 * HOUR)).default(5 * 60 * SECOND, '5m'))
    .option('--remove-waiting', 'then remove the waiting and prioritized jobs of the lane (delayed retries stay)')
    .action(async (lanes: Lane[], options: DrainOptions) =>
      withRedis(options.redis, async (redis) => {
        const queues = new LaneQueues(redis, options.prefix);
        const progress = createProgress({ label: `draining ${lanes.join(',')}: active jobs finished` });
        try {
          const result = await drainLanes(queues, lanes, { timeoutMs: options.timeout, removeWaiting: Boolean(options.removeWaiting), onProgress: (done, total) => progress.update(done, total) });
          progress.stop();
          if (options.json) {
            console.log(JSON.stringify(result));
          } else {
            const table = createTable(['lane', 'paused', 'active', 'waiting', 'prioritized', 'delayed', ...(options.removeWaiting ? ['removed'] : [])], { compact: true });
            for (const l of result.lanes) table.push([l.lane, l.paused ? 'yes' : 'no', l.active, l.waiting, l.prioritized, l.delayed, ...(options.removeWaiting ? [l.removed] : [])]);
            console.log(table.toString());
            const removed = result.lanes.reduce((a, l) => a + l.removed, 0);
            if (options.removeWaiting) console.log(`removed ${removed} waiting job${removed === 1 ? '' : 's'}`);
            const left = result.lanes.reduce((a, l) => a + l.waiting + l.prioritized + l.delayed, 0);
            if (!result.timedOut) console.log(`drained: no active jobs; ${left} left in the lane${lanes.length > 1 ? 's' : ''}, they run after \`fleet resume ${lanes.length === 4 ? 'all' : lanes.join(',')}\``);
          }
          if (result.timedOut) {
            const active = result.lanes.reduce((a, l) => a + l.active, 0);
            throw new CommandFailure(`timed out: ${active} job${active === 1 ? '' : 's'} still active; the lane stays paused (run drain again to keep waiting, or fleet resume)`);
          }
        } finally {
          progress.stop();
          await queues.close();
        }
      }),
    );
}

/** `fleet resume <lane|all>`: workers take jobs again. */
export function resumeCommand(): Command {
  return withConnectionOptions(new Command('resume'))
    .description('resume a drained lane: workers take its jobs again')
    .argument('<lane>', 'a lane, a comma-separated list, or all', parseLaneList)
    .action(async (lanes: Lane[], options: ConnectionOptions) =>
      withRedis(options.redis, async (redis) => {
        const queues = new LaneQueues(redis, options.prefix);
        try {
          const resumed = await resumeLanes(queues, lanes);
          if (options.json) console.log(JSON.stringify({ lanes: resumed }));
          else for (const r of resumed) console.log(`resumed ${r.lane}: ${r.waiting} job${r.waiting === 1 ? '' : 's'} waiting for workers`);
        } finally {
          await queues.close();
        }
      }),
    );
}
