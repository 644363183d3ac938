import { Command, Option } from 'commander';
import { createLogger, createMetricsRegistry, createRedisConnection, LANES, readConfig, readModelCatalogue, SECOND, HOUR, type Lane, type RedisClient } from '../../contract/index.js';
import { CANARY_CONTROLLER_DEFAULTS, CANARY_PLAN_DEFAULTS, CanaryController, CanaryStore, FINISHED_STATUSES, startCanary, type CanaryCommand, type CanaryState } from '../../router/index.js';
import { startMetricsServer } from '../../workers/index.js';
import { CanaryMetrics } from '../canary-metrics.js';
import { formatCanaryStatus } from '../canary-report.js';
import { CommandFailure, integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { durationOption, formatDuration } from '../duration.js';
import { parseLane, parseLaneList } from '../lane-argument.js';
import { withRedis } from '../open-redis.js';
import { operatorName } from '../operator-name.js';
import { onShutdown } from '../shutdown.js';

interface ControllerFlags {
  poll: number;
  lease: number;
  metricsPort?: number;
}

function withControllerOptions(command: Command): Command {
  return command
    .addOption(new Option('--poll <duration>', 'how often the gates are read and commands taken').default(CANARY_CONTROLLER_DEFAULTS.pollIntervalMs, formatDuration(CANARY_CONTROLLER_DEFAULTS.pollIntervalMs)).argParser(durationOption('--poll', 50, HOUR)))
    .addOption(new Option('--lease <duration>', "how long the lane's lock outlives a controller that died (more than --poll)").default(CANARY_CONTROLLER_DEFAULTS.leaseMs, formatDuration(CANARY_CONTROLLER_DEFAULTS.leaseMs)).argParser(durationOption('--lease', 100, HOUR)))
    .option('--metrics-port <port>', 'serve Prometheus metrics (rollbacks, share) on this port', integerOption('--metrics-port', 0, 65535));
}

/**
 * Runs one controller per lane until SIGTERM (or, with `untilFinished`, until every lane's canary finished): the
 * process an operator keeps under systemd (`fleet canary run`), or the foreground of `fleet canary start`.
 */
async function runControllers(options: ConnectionOptions & ControllerFlags, lanes: readonly Lane[], untilFinished: boolean): Promise<Array<CanaryState | null>> {
  const config = readConfig();
  const logger = createLogger({ level: config.logLevel, bindings: { role: 'canary' } });
  const redis = createRedisConnection(options.redis, { role: 'worker', connectionName: 'fleet-canary', tls: config.redisTls });
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  const registry = createMetricsRegistry({ role: 'canary' });
  const metrics = new CanaryMetrics(registry);
  const server = options.metricsPort === undefined ? undefined : await startMetricsServer(registry, options.metricsPort);
  const stop = new AbortController();
  onShutdown(logger, [async () => stop.abort()]);
  const controllers = lanes.map(
    (lane) =>
      new CanaryController({
        redis,
        prefix: options.prefix,
        lane,
        pollIntervalMs: options.poll,
        leaseMs: options.lease,
        onDecision: (decision, state) => {
          metrics.record(decision, state);
          logger[decision.action === 'rollback' ? 'warn' : 'info']({ lane, model: state.plan.model, canary: state.id, action: decision.action, sharePercent: decision.sharePercent, policyVersion: decision.policyVersion, evidence: decision.evidence }, `canary ${decision.action}: ${decision.reason}`);
        },
      }),
  );
  const store = new CanaryStore(redis, options.prefix);
  for (const state of await store.all()) if (lanes.includes(state.plan.lane)) metrics.watch(state);
  logger.info({ lanes, pollMs: options.poll, leaseMs: options.lease, metricsPort: server?.port }, 'canary controller running');
  try {
    return await Promise.all(controllers.map((c) => c.run({ signal: stop.signal, untilFinished })));
  } finally {
    await server?.close();
    redis.disconnect();
  }
}

interface StartFlags extends ConnectionOptions, ControllerFlags {
  lane: Lane;
  model: string;
  fromModel?: string;
  steps: number[];
  interval: number;
  gate: string;
  minSamples: number;
  detach?: boolean;
  force?: boolean;
}

async function start(options: StartFlags): Promise<void> {
  const state = await withRedis(options.redis, async (redis) => {
    const catalogue = await readModelCatalogue(redis, options.prefix);
    const served = catalogue.models[options.model];
    if (!options.force && (served === undefined || !served.lanes.includes(options.lane))) {
      throw new CommandFailure(`model ${options.model} is not served on lane ${options.lane} by any worker (served: ${Object.keys(catalogue.models).sort().join(', ') || 'none'}); --force to start anyway`);
    }
    return startCanary(redis, options.prefix, { lane: options.lane, model: options.model, ...(options.fromModel === undefined ? {} : { fromModel: options.fromModel }), steps: options.steps, intervalMs: options.interval, gates: options.gate, minSamples: options.minSamples }, operatorName());
  });
  if (options.json && options.detach) console.log(JSON.stringify(state));
  else console.error(`fleet canary: ${state.id} recorded: ${state.plan.model} replacing ${state.plan.fromModel} on ${state.plan.lane} (rules ${state.ruleIds.join(', ')}), steps ${state.plan.steps.join(' → ')} %`);
  if (options.detach) {
    if (!options.json) console.log(`detached: a \`fleet canary run\` process moves it (none running? start one)`);
    return;
  }
  const [final] = await runControllers(options, [options.lane], true);
  if (options.json) console.log(JSON.stringify(final));
  else if (final) console.log(formatCanaryStatus(final));
}

async function status(options: ConnectionOptions & { lane?: Lane[] }): Promise<void> {
  const states = await withRedis(options.redis, async (redis) => (await new CanaryStore(redis, options.prefix).all()).filter((s) => options.lane === undefined || options.lane.includes(s.plan.lane)));
  if (options.json) {
    console.log(JSON.stringify(states));
    return;
  }
  console.log(states.length === 0 ? 'no canary' : states.map((s) => formatCanaryStatus(s)).join('\n\n'));
}

/** Queues a person's command; when no controller holds the lane, runs the tick here so it takes effect now. */
async function command(name: CanaryCommand, options: ConnectionOptions & ControllerFlags & { lane: Lane }): Promise<void> {
  const state = await withRedis(options.redis, async (redis: RedisClient) => {
    const store = new CanaryStore(redis, options.prefix);
    const current = await store.get(options.lane);
    if (current === null || FINISHED_STATUSES.includes(current.status)) throw new CommandFailure(`lane ${options.lane} has no canary running or paused${current === null ? '' : ` (the last, ${current.plan.model}, ${current.status})`}`);
    await store.pushCommand(options.lane, name, operatorName());
    const controller = new CanaryController({ redis, prefix: options.prefix, lane: options.lane, pollIntervalMs: options.poll, leaseMs: options.lease });
    const { ran, state } = await controller.tickIfFree();
    if (!ran) console.error(`fleet canary: a controller holds lane ${options.lane}: it takes the ${name} at its next reading (every ${formatDuration(options.poll)} or as it was started)`);
    return state;
  }, 10 * SECOND);
  if (options.json) console.log(JSON.stringify(state));
  else if (state) console.log(formatCanaryStatus(state));
}

function parseSteps(value: string): number[] {
  return value.split(',').map((s) => Number(s.trim().replace(/%$/, '')));
}

/** `fleet canary start|run|status|pause|resume|abort|promote`. */
export function canaryCommand(): Command {
  const canary = new Command('canary').description('bring a new model onto a lane step by step, promoted or rolled back by gates on its figures');
  canary.addCommand(
    withControllerOptions(
      withConnectionOptions(
        new Command('start')
          .description('record a canary and (unless --detach) run its controller in the foreground until it is promoted, rolled back or aborted')
          .requiredOption('--lane <lane>', 'the lane', parseLane)
          .requiredOption('--model <name>', 'the new model')
          .option('--from-model <name>', 'the model it replaces (default: the one the policy sends the lane to)')
          .addOption(new Option('--steps <list>', 'shares, %, ascending, ending at 100').default(CANARY_PLAN_DEFAULTS.steps, CANARY_PLAN_DEFAULTS.steps.join(',')).argParser(parseSteps))
          .addOption(new Option('--interval <duration>', 'least time at each step').default(CANARY_PLAN_DEFAULTS.intervalMs, formatDuration(CANARY_PLAN_DEFAULTS.intervalMs)).argParser(durationOption('--interval', 100, 2 * HOUR)))
          .option('--gate <gates>', 'gates each step must pass: x = times the baseline, % = a share, ms = absolute', CANARY_PLAN_DEFAULTS.gates)
          .option('--min-samples <n>', 'finished canary (and baseline) jobs a step needs before its gates decide', integerOption('--min-samples', 1, 1_000_000), CANARY_PLAN_DEFAULTS.minSamples)
          .option('--detach', 'only record it: a `fleet canary run` process moves it')
          .option('--force', 'start even when no worker serves the model on the lane yet'),
      ),
    ).action(start),
  );
  canary.addCommand(
    withControllerOptions(
      withConnectionOptions(
        new Command('run')
          .description('the controller process (one per lane holds a lease): moves every canary of its lanes; runs until SIGTERM')
          .addOption(new Option('--lane <lanes>', 'lanes to control, comma-separated, or all').default([...LANES], 'all').argParser(parseLaneList))
          .option('--until-finished', 'exit once every canary of these lanes has finished'),
      ),
    ).action(async (options: ConnectionOptions & ControllerFlags & { lane: Lane[]; untilFinished?: boolean }) => {
      await runControllers(options, options.lane, options.untilFinished === true);
    }),
  );
  canary.addCommand(
    withConnectionOptions(new Command('status').description('where each canary is: share, last reading, decisions').option('--lane <lanes>', 'only these lanes', parseLaneList)).action(status),
  );
  const people: Array<[CanaryCommand, string]> = [
    ['pause', 'hold the canary at its share; gates are not read until resume'],
    ['resume', "carry on from the paused step (its window starts again)"],
    ['abort', 'back to the baseline model at once'],
    ['promote', 'skip the remaining steps: 100 % now'],
  ];
  for (const [name, description] of people) {
    canary.addCommand(
      withControllerOptions(withConnectionOptions(new Command(name).description(description).requiredOption('--lane <lane>', 'the lane', parseLane))).action((options: ConnectionOptions & ControllerFlags & { lane: Lane }) => command(name, options)),
    );
  }
  return canary;
}
