import { Command, Option } from 'commander';
import { ConfigError, createLogger, createMetricsRegistry, LANES, readConfig, redactRedisUrl, routeProcessWarnings, SECOND, type Lane } from '../../contract/index.js';
import { createArtifactStore, DEFAULT_METRICS_PORT, FLEET_WORKER_DEFAULTS, FleetWorker, parseByteSize, startMetricsServer, type ArtifactStore } from '../../workers/index.js';
import { integerOption, UsageError, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { parseLaneList } from '../lane-argument.js';
import { assertModelsDir, byteSizeOption, storeUrlOption } from '../option-parsers.js';
import { onShutdown } from '../shutdown.js';

export interface WorkerCommandOptions extends ConnectionOptions {
  gpu?: number;
  allowCpu?: boolean;
  lanes: Lane[];
  overflowLanes?: Lane[];
  overflowBacklog: number;
  overflowAfterMs: number;
  vram?: string;
  store: string;
  models: string;
  metricsPort: number;
  metricsHost: string;
  shutdownTimeoutS: number;
  lockDurationMs: number;
}

/** The spellings before units were in the flag names: still taken, not shown in `--help`. */
interface DeprecatedWorkerFlags {
  overflowAfter?: number;
  shutdownTimeout?: number;
  lockDuration?: number;
}

/**
 * What makes a worker refuse to start for good: its configuration, not a passing fault. `fleet worker` exits 2 for
 * these, and `fleet up`'s supervisor does not restart a worker that did (a Redis away at start is retried instead).
 */
export function isConfigurationError(error: unknown): boolean {
  if (error instanceof RangeError || error instanceof UsageError) return true;
  const code = (error as { code?: unknown })?.code;
  return code === 'E_CONFIG' || code === 'E_DEVICE_UNAVAILABLE' || code === 'E_STORE' || code === 'E_MODEL_LOAD' || code === 'E_FONT';
}

/**
 * Starts a worker with its metrics endpoint; resolves once it runs. Every option is checked first (the models
 * folder, the metrics port, the store's bucket), and a worker that cannot run as configured fails with
 * `ConfigError` (E_CONFIG) carrying the reason.
 */
export async function startWorker(options: WorkerCommandOptions) {
  const config = readConfig();
  const opened: Array<() => Promise<void>> = [];
  try {
    assertModelsDir(options.models);
    const registry = createMetricsRegistry({ role: 'worker', gpu: options.gpu === undefined ? 'cpu' : String(options.gpu) });
    const logger = createLogger({ level: config.logLevel, bindings: { role: 'worker' } });
    const unrouteWarnings = routeProcessWarnings(logger);
    opened.push(async () => unrouteWarnings());
    const metrics = await startMetricsServer(registry, options.metricsPort, options.metricsHost).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`--metrics-port ${options.metricsPort} on ${options.metricsHost}: ${error.code === 'EADDRINUSE' ? 'already in use' : (error.code ?? error.message)}`);
    });
    opened.push(metrics.close);
    const store = createArtifactStore(options.store, { ...(config.s3Endpoint ? { s3Endpoint: config.s3Endpoint } : {}), s3Region: config.s3Region });
    opened.push(() => store.close());
    await store.check?.();
    const worker = await runWorker(options, config, store, registry, logger);
    worker.options.logger.info({ metricsPort: metrics.port, redis: redactRedisUrl(options.redis), prefix: options.prefix }, 'worker metrics on /metrics');
    return {
      worker,
      logger: worker.options.logger,
      metricsPort: metrics.port,
      close: async () => {
        await worker.stop();
        await metrics.close();
        await store.close();
      },
    };
  } catch (error) {
    for (const close of opened.reverse()) await close().catch(() => {});
    if (isConfigurationError(error)) {
      const code = (error as { code?: unknown }).code;
      throw new ConfigError(`the worker cannot start: ${typeof code === 'string' && code !== 'E_CONFIG' && /^E_/.test(code) ? `[${code}] ` : ''}${(error as Error).message}`, undefined, { cause: error });
    }
    throw error;
  }
}

async function runWorker(options: WorkerCommandOptions, config: ReturnType<typeof readConfig>, store: ArtifactStore, registry: ReturnType<typeof createMetricsRegistry>, logger: ReturnType<typeof createLogger>): Promise<FleetWorker> {
  const worker = new FleetWorker({
    redisUrl: options.redis,
    redisTls: config.redisTls,
    prefix: options.prefix,
    lanes: options.lanes,
    ...(options.overflowLanes === undefined ? {} : { overflowLanes: options.overflowLanes, overflowBacklog: options.overflowBacklog, overflowAfterMs: options.overflowAfterMs }),
    ...(options.gpu === undefined ? {} : { gpu: options.gpu, allowCpu: options.allowCpu ?? false }),
    ...(options.vram === undefined ? {} : { vramBytes: parseByteSize(options.vram) }),
    store,
    modelsDir: options.models,
    logger,
    registry,
    shutdownTimeoutMs: options.shutdownTimeoutS * SECOND,
    lockDurationMs: options.lockDurationMs,
    ...(config.testHookCrashOnPrompt === undefined ? {} : { testHookCrashOnPrompt: config.testHookCrashOnPrompt }),
  });
  await worker.start();
  return worker;
}

export function workerCommand(): Command {
  const config = readConfig();
  return withConnectionOptions(new Command('worker'))
    .description('run one worker (one process per GPU) draining lanes in micro-batches under a VRAM budget')
    .option('--gpu <n>', 'GPU index: sessions on CUDA device n (an error at start without a CUDA provider); without it a CPU worker', integerOption('gpu', 0, 63))
    .option('--allow-cpu', 'with --gpu: run on the CPU when no CUDA provider is installed, and let a model CUDA cannot load run on the CPU')
    .option('--lanes <list>', 'lanes to drain, comma-separated, or all', parseLaneList, [...LANES])
    .option('--overflow-lanes <list>', "lanes to drain only while backed up and this worker's own lanes are idle, one job at a time", parseLaneList)
    .option('--overflow-backlog <n>', 'jobs waiting in an overflow lane before this worker helps', integerOption('overflow-backlog', 1, 1_000_000), FLEET_WORKER_DEFAULTS.overflowBacklog)
    .option('--overflow-after-ms <ms>', 'how long that backlog must last before this worker helps', integerOption('overflow-after-ms', 0, 3_600_000), FLEET_WORKER_DEFAULTS.overflowAfterMs)
    .option('--vram <size>', "VRAM budget, e.g. 8GiB (default: on CUDA the device's free memory at start less a margin, else a nominal 16GiB)", byteSizeOption('--vram'))
    .option('--store <url>', 'artifact store file://DIR or s3://bucket/prefix (env FLEET_STORE)', storeUrlOption, config.storeUrl)
    .option('--models <dir>', 'model repository (env FLEET_MODELS)', config.modelsDir)
    .option('--metrics-port <n>', 'Prometheus /metrics port (0: any free port)', integerOption('metrics-port', 0, 65535), DEFAULT_METRICS_PORT)
    .option('--metrics-host <addr>', 'metrics bind address (env FLEET_METRICS_HOST)', config.metricsHost)
    .option('--shutdown-timeout-s <s>', 'seconds to finish batches in flight on SIGTERM', integerOption('shutdown-timeout-s', 1, 3600), FLEET_WORKER_DEFAULTS.shutdownTimeoutMs / SECOND)
    .option('--lock-duration-ms <ms>', "job lock, renewed while a batch runs; a dead worker's jobs return after about twice this", integerOption('lock-duration-ms', 1000, 600_000), FLEET_WORKER_DEFAULTS.lockDurationMs)
    .addOption(new Option('--overflow-after <ms>').argParser(integerOption('overflow-after', 0, 3_600_000)).hideHelp())
    .addOption(new Option('--shutdown-timeout <s>').argParser(integerOption('shutdown-timeout', 1, 3600)).hideHelp())
    .addOption(new Option('--lock-duration <ms>').argParser(integerOption('lock-duration', 1000, 600_000)).hideHelp())
    .action(async (given: WorkerCommandOptions & DeprecatedWorkerFlags) => {
      const { overflowAfter, shutdownTimeout, lockDuration, ...options } = given;
      const worker = await startWorker({
        ...options,
        overflowAfterMs: overflowAfter ?? options.overflowAfterMs,
        shutdownTimeoutS: shutdownTimeout ?? options.shutdownTimeoutS,
        lockDurationMs: lockDuration ?? options.lockDurationMs,
      });
      onShutdown(worker.logger, [worker.close]);
    });
}
