import { Command, Option } from 'commander';
import { HOUR, MINUTE, type RedisClient } from '../../contract/index.js';
import { DriftBaselineStore, MAX_DRIFT_WINDOW_MS, readDriftCounts, type DriftBaseline } from '../../producer/index.js';
import { addDriftBins, compareDrift, driftBinsOf, driftTotal, emptyDriftCounts, PolicyStore, PSI_EMPTY_BIN_SHARE, PSI_THRESHOLDS, type DriftCounts } from '../../router/index.js';
import { CommandFailure, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { durationOption, formatDuration } from '../duration.js';
import { renderDrift } from '../drift-view.js';
import { withRedis } from '../open-redis.js';
import { readRecordedRequests } from '../recorded-requests.js';

interface DriftOptions extends ConnectionOptions {
  window: number;
  baseline?: string;
}

interface SaveOptions extends ConnectionOptions {
  window: number;
  name: string;
  from?: string;
}

const windowOption = (fallback: number, label: string) =>
  new Option('--window <duration>', 'traffic counted by the ingresses over this window (1m–24h)').argParser(durationOption('window', MINUTE, MAX_DRIFT_WINDOW_MS)).default(fallback, label);

/**
 * `fleet drift`: how far the traffic of a recent window has moved from a baseline, per request feature (PSI and
 * the bars that moved); `fleet drift baseline save|list` keeps the baselines.
 */
export function driftCommand(): Command {
  // `fleet drift [options]` runs `show`, its default subcommand: were the options on `drift` itself, commander would
  // hand it the `--prefix` and `--json` of `fleet drift baseline save … --prefix P` too.
  const drift = new Command('drift').description('how far recent traffic has moved from a baseline, per request feature (`show`, the default); baselines');
  const show = withConnectionOptions(new Command('show'))
    .description('per request feature, the population stability index of recent traffic against a baseline, and the bars that moved')
    .addOption(windowOption(HOUR, '1h'))
    .option('--baseline <name>', 'baseline to compare against (default: the active one, the last saved)')
    .action(async (options: DriftOptions) =>
      withRedis(options.redis, async (redis) => {
        const store = new DriftBaselineStore(redis, options.prefix);
        const baseline = options.baseline === undefined ? await store.active() : await store.get(options.baseline);
        if (baseline === undefined) throw new CommandFailure('no drift baseline yet: save one with `fleet drift baseline save [--window 24h | --from REQUESTS.jsonl]`');
        const now = await readDriftCounts(redis, options.prefix, options.window);
        const features = compareDrift(baseline.counts, now);
        const view = { windowMs: options.window, windowRequests: driftTotal(now), baseline, features };
        if (!options.json) return console.log(renderDrift(view));
        const { counts: _counts, ...about } = baseline;
        console.log(JSON.stringify({ window: { ms: options.window, requests: view.windowRequests }, baseline: about, thresholds: PSI_THRESHOLDS, emptyBinShare: PSI_EMPTY_BIN_SHARE, features }));
      }),
    );

  const baseline = new Command('baseline').description('save and list the distributions drift is measured against');
  baseline.addCommand(
    withConnectionOptions(new Command('save'))
      .description("snapshot the request features of the last --window of traffic (or of a file of requests, routed by the active policy) and make it the active baseline")
      .addOption(windowOption(24 * HOUR, '24h'))
      .option('--name <name>', 'baseline name, 1–64 of [A-Za-z0-9._-]', 'default')
      .option('--from <file>', 'requests, one JSON per line (bare or { request } lines, as a policy test set), instead of recorded traffic')
      .action(async (options: SaveOptions) =>
        withRedis(options.redis, async (redis) => {
          const counts = options.from === undefined ? await readDriftCounts(redis, options.prefix, options.window) : await countFile(redis, options.prefix, options.from);
          const saved: DriftBaseline = {
            name: options.name,
            savedAt: Date.now(),
            source: options.from === undefined ? { kind: 'window', windowMs: options.window } : { kind: 'file', path: options.from },
            requests: driftTotal(counts),
            counts,
          };
          if (saved.requests === 0) throw new CommandFailure(`no requests were counted over the last ${formatDuration(options.window)}: nothing to save (or use --from FILE)`);
          await new DriftBaselineStore(redis, options.prefix).save(saved);
          if (options.json) return console.log(JSON.stringify(saved));
          const from = options.from === undefined ? `the last ${formatDuration(options.window)} of traffic` : options.from;
          console.log(`saved drift baseline ${saved.name}: ${saved.requests} requests from ${from}; it is now the active baseline`);
        }),
      ),
  );
  baseline.addCommand(
    withConnectionOptions(new Command('list'))
      .description('the saved baselines, the active one marked')
      .action(async (options: ConnectionOptions) =>
        withRedis(options.redis, async (redis) => {
          const { baselines, active } = await new DriftBaselineStore(redis, options.prefix).list();
          if (options.json) return console.log(JSON.stringify({ active, baselines: baselines.map(({ counts: _c, ...about }) => about) }));
          if (baselines.length === 0) return console.log('no drift baselines');
          for (const b of baselines) {
            const from = b.source.kind === 'file' ? b.source.path : `${formatDuration(b.source.windowMs)} of traffic`;
            console.log(`${b.name === active ? '*' : ' '} ${b.name.padEnd(24)} ${String(b.requests).padStart(8)} requests  ${new Date(b.savedAt).toISOString()}  ${from}`);
          }
        }),
      ),
  );
  drift.addCommand(show, { isDefault: true });
  drift.addCommand(baseline);
  // The program sets exitOverride two levels down; `drift baseline save` is three.
  for (const command of baseline.commands) command.exitOverride();
  return drift;
}

/** The features of a file's requests as the active policy routes them now. */
async function countFile(redis: RedisClient, prefix: string, path: string): Promise<DriftCounts> {
  const requests = readRecordedRequests(path);
  const store = new PolicyStore(redis, prefix);
  const policy = await store.compiled((await store.active()).version);
  const counts = emptyDriftCounts();
  for (const request of requests) addDriftBins(counts, driftBinsOf(policy.evaluate(request)));
  return counts;
}
