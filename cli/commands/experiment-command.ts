import { join } from 'node:path';
import { Command, Option } from 'commander';
import { readConfig, type Lane } from '../../contract/index.js';
import { createArtifactStore, type ArtifactStore } from '../../workers/index.js';
import { CommandFailure, integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { ExperimentStore, type ExperimentRecord } from '../experiment-record.js';
import { experimentMarkdown, writeExperimentReport } from '../experiment-report.js';
import { runExperiment } from '../experiment-runner.js';
import { parseLane } from '../lane-argument.js';
import { withRedis } from '../open-redis.js';
import { operatorName } from '../operator-name.js';
import { readInput } from '../read-input.js';
import { createTable } from '../table.js';

interface OutputFlags extends ConnectionOptions {
  out?: string;
  store?: string;
  concurrency: number;
}

/** A prompts file: one request per line (or `{ "request": … }`), account and seed left to the experiment. */
export function readPromptsFile(path: string): Array<Record<string, unknown>> {
  return readInput(path)
    .split('\n')
    .map((line, i) => ({ line: line.trim(), number: i + 1 }))
    .filter(({ line }) => line !== '')
    .map(({ line, number }) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new CommandFailure(`${path}:${number}: not valid JSON (${(error as Error).message})`);
      }
      if (value !== null && typeof value === 'object' && 'request' in value) value = (value as { request: unknown }).request;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CommandFailure(`${path}:${number}: a request object is needed`);
      const { account: _account, seed: _seed, ...request } = value as Record<string, unknown>;
      return request;
    });
}

function openStore(url: string | undefined): ArtifactStore {
  const config = readConfig();
  return createArtifactStore(url ?? config.storeUrl, { ...(config.s3Endpoint ? { s3Endpoint: config.s3Endpoint } : {}), s3Region: config.s3Region });
}

async function report(record: ExperimentRecord, store: ArtifactStore, options: OutputFlags): Promise<void> {
  const paths = await writeExperimentReport(record, store, options.out ?? join('experiments', record.id));
  if (options.json) {
    console.log(JSON.stringify({ id: record.id, paths, summary: record.summary, reproduced: record.reproduced }));
    return;
  }
  console.log(experimentMarkdown(record));
  console.log(`written: ${paths.markdown}, ${paths.json}, ${paths.contactSheet}`);
}

async function run(options: OutputFlags & { lane: Lane; models: string[]; prompts: string; seeds: number; name?: string }): Promise<void> {
  const inputs = readPromptsFile(options.prompts);
  if (inputs.length === 0) throw new CommandFailure(`${options.prompts}: no prompt`);
  const store = openStore(options.store);
  try {
    const record = await withRedis(options.redis, (redis) =>
      runExperiment({ redis, prefix: options.prefix, store, lane: options.lane, models: options.models, inputs, seeds: Array.from({ length: options.seeds }, (_, i) => i + 1), concurrency: options.concurrency, by: operatorName(), ...(options.name === undefined ? {} : { name: options.name }) }),
    );
    await report(record, store, options);
  } finally {
    await store.close();
  }
}

async function rerun(id: string, options: OutputFlags): Promise<void> {
  const store = openStore(options.store);
  try {
    const record = await withRedis(options.redis, async (redis) => {
      const original = await new ExperimentStore(redis, options.prefix).get(id);
      if (original === null) throw new CommandFailure(`no experiment ${id} (fleet experiment list)`);
      const { lane, models, inputs, seeds, name } = original;
      return runExperiment({ redis, prefix: options.prefix, store, lane, models, inputs, seeds, name: `${name} (rerun)`, rerunOf: original, concurrency: options.concurrency, by: operatorName() });
    });
    await report(record, store, options);
    if (record.reproduced!.identical !== record.cells.length) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

function withOutputOptions(command: Command): Command {
  return command
    .option('--out <dir>', 'where report.md, report.json and contact-sheet.png go (default: experiments/<id>)')
    .option('--store <url>', "the workers' artifact store, to read the images back (env FLEET_STORE)")
    .addOption(new Option('--concurrency <n>', 'experiment jobs enqueued at once').default(2).argParser(integerOption('--concurrency', 1, 64)));
}

/** `fleet experiment run|list|show|rerun`. */
export function experimentCommand(): Command {
  const experiment = new Command('experiment').description('candidate models side by side on the same prompts and seeds, on the real fleet, behind production traffic');
  experiment.addCommand(
    withOutputOptions(
      withConnectionOptions(
        new Command('run')
          .description('every prompt × seed through every model (lowest priority jobs: production goes first); writes the report and a contact sheet')
          .requiredOption('--lane <lane>', 'the lane', parseLane)
          .requiredOption('--models <list>', 'models, comma-separated', (v: string) => v.split(',').map((m) => m.trim()).filter((m) => m !== ''))
          .requiredOption('--prompts <file.jsonl>', 'one request per line (account and seed are set by the experiment)')
          .option('--seeds <n>', 'seeds 1…n for every prompt', integerOption('--seeds', 1, 100), 1)
          .option('--name <name>', 'a name for people'),
      ),
    ).action(run),
  );
  experiment.addCommand(
    withConnectionOptions(new Command('list').description('experiments, newest first')).action(async (options: ConnectionOptions) => {
      const records = await withRedis(options.redis, (redis) => new ExperimentStore(redis, options.prefix).list());
      if (options.json) {
        console.log(JSON.stringify(records.map(({ id, name, lane, models, createdAt, rerunOf, reproduced, cells }) => ({ id, name, lane, models, createdAt, jobs: cells.length, rerunOf, reproduced }))));
        return;
      }
      const table = createTable(['id', 'name', 'lane', 'models', 'jobs', 'ran at']);
      for (const r of records) table.push([r.id, r.name, r.lane, r.models.join(', '), String(r.cells.length), new Date(r.createdAt).toISOString()]);
      console.log(records.length === 0 ? 'no experiment' : table.toString());
    }),
  );
  experiment.addCommand(
    withConnectionOptions(new Command('show').description('one experiment: its report (Markdown), or the whole record with --json').argument('<id>')).action(async (id: string, options: ConnectionOptions) => {
      const record = await withRedis(options.redis, (redis) => new ExperimentStore(redis, options.prefix).get(id));
      if (record === null) throw new CommandFailure(`no experiment ${id} (fleet experiment list)`);
      console.log(options.json ? JSON.stringify(record) : experimentMarkdown(record));
    }),
  );
  experiment.addCommand(
    withOutputOptions(withConnectionOptions(new Command('rerun').description('run an experiment again exactly (same inputs, seeds, models); exits 1 unless every image is identical byte for byte').argument('<id>'))).action(rerun),
  );
  return experiment;
}
