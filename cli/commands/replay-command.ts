import { Command, Option } from 'commander';
import { DAY, ERROR_CODES, isErrorCode, type ErrorCode, type Lane } from '../../contract/index.js';
import { createProducer, LaneQueues, replayJobs, selectJobs, type ReplayEntry, type ReplayState } from '../../producer/index.js';
import { CommandFailure, integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { durationOption } from '../duration.js';

import { parseLaneList } from '../lane-argument.js';
import { createProgress } from '../progress-reporter.js';
import { createTable } from '../table.js';

interface ReplayCommandOptions extends ConnectionOptions {
  lane: Lane[];
  state: ReplayState;
  since?: number;
  code?: ErrorCode;
  limit?: number;
  reroute?: boolean;
  dryRun?: boolean;
}

const SHOWN_ROWS = 20;

/** `fleet replay`: re-enqueue failed (or completed) jobs, once each, whatever the number of runs. */
export function replayCommand(): Command {
  return withConnectionOptions(new Command('replay'))
    .description('re-enqueue matching jobs (each at most once: a second run over the same jobs adds none); --dry-run lists them')
    .requiredOption('--lane <lane>', 'a lane, a comma-separated list, or all', parseLaneList)
    .addOption(new Option('--state <state>', 'which finished jobs').choices(['failed', 'completed']).default('failed'))
    .addOption(new Option('--since <duration>', 'only jobs finished within this long (e.g. 30m, 1h, 2d)').argParser(durationOption('since', 1000, 30 * DAY)))
    .addOption(
      new Option('--code <code>', 'only failed jobs with this error code (e.g. E_SOURCE)').argParser((value) => {
        if (!isErrorCode(value)) throw new Error(`unknown error code ${value} (codes: ${Object.keys(ERROR_CODES).join(', ')})`);
        return value;
      }),
    )
    .option('--limit <n>', 'at most N new replays (already replayed jobs do not count)', integerOption('limit', 1, Number.MAX_SAFE_INTEGER))
    .option('--reroute', 'route each job again through the current policy (its lane and model may change); default: its own lane and model')
    .option('--dry-run', 'list what would be replayed; change nothing')
    .action(async (options: ReplayCommandOptions, command: Command) => {
      if (options.code !== undefined && options.state !== 'failed') command.error('error: --code selects failed jobs; it cannot be used with --state completed', { exitCode: 2 });
      const producer = createProducer({ redis: options.redis, prefix: options.prefix });
      const queues = new LaneQueues(producer.redis, options.prefix);
      const progress = createProgress({ label: options.dryRun ? 'checking' : 'replaying' });
      try {
        await producer.ready();
        const jobs = await selectJobs(queues, {
          lanes: options.lane,
          state: options.state,
          ...(options.since === undefined ? {} : { finishedSince: Date.now() - options.since }),
          ...(options.code === undefined ? {} : { code: options.code }),
        });
        const entries = await replayJobs(producer, queues, jobs, {
          reroute: Boolean(options.reroute),
          dryRun: Boolean(options.dryRun),
          ...(options.limit === undefined ? {} : { limit: options.limit }),
          onProgress: (done, total) => progress.update(done, total),
        });
        progress.stop();
        const count = (outcome: ReplayEntry['outcome']) => entries.filter((e) => e.outcome === outcome).length;
        const summary = {
          dryRun: Boolean(options.dryRun),
          selected: jobs.length,
          replayed: count('replayed'),
          wouldReplay: count('would-replay'),
          alreadyReplayed: count('already-replayed'),
          failed: count('failed'),
        };
        if (options.json) {
          console.log(JSON.stringify({ ...summary, jobs: entries }));
        } else {
          printEntries(entries);
          console.log(
            options.dryRun
              ? `dry run: ${summary.selected} selected, ${summary.wouldReplay} would be replayed, ${summary.alreadyReplayed} already replayed`
              : `${summary.selected} selected: ${summary.replayed} replayed, ${summary.alreadyReplayed} already replayed, ${summary.failed} failed to enqueue`,
          );
        }
        if (summary.failed > 0) throw new CommandFailure(`${summary.failed} job${summary.failed === 1 ? '' : 's'} could not be replayed (see the reasons above)`);
      } finally {
        progress.stop();
        await queues.close();
        await producer.close();
      }
    });
}

function printEntries(entries: ReplayEntry[]): void {
  if (entries.length === 0) return;
  const table = createTable(['job', 'code', 'finished', 'replay', 'lane/model', 'outcome'], { compact: true });
  for (const e of entries.slice(0, SHOWN_ROWS)) {
    table.push([
      e.id,
      e.code ?? '',
      e.finishedOn === null ? '' : new Date(e.finishedOn).toISOString().slice(0, 19).replace('T', ' '),
      e.replayId,
      e.replayLane ? `${e.replayLane}/${e.replayModel}` : '',
      e.reason ? `${e.outcome}: ${e.reason}` : e.outcome,
    ]);
  }
  console.log(table.toString());
  if (entries.length > SHOWN_ROWS) console.log(`… and ${entries.length - SHOWN_ROWS} more (--json lists all)`);
}
