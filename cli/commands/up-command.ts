import { Command } from 'commander';
import { LANES, readConfig, type Lane } from '../../contract/index.js';
import { DEFAULT_METRICS_PORT } from '../../workers/index.js';
import { integerOption, UsageError, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { parseLaneList } from '../lane-argument.js';
import { ensureRedis } from '../local-redis.js';
import { assertModelsDir, assertPortFree, byteSizeOption, parseGpuList, storeUrlOption } from '../option-parsers.js';
import { onShutdown } from '../shutdown.js';
import { WorkerSupervisor } from '../worker-supervisor.js';
import { startIngress } from './ingress-command.js';

interface UpOptions extends ConnectionOptions {
  host: string;
  port: number;
  gpus?: number[];
  lanes: Lane[];
  vram?: string;
  allowCpu?: boolean;
  store: string;
  models: string;
  metricsPort: number;
}

/**
 * `fleet up` (what `npm start` runs): a local fleet — the ingress and one worker process per GPU given
 * with --gpus (or one CPU worker) draining every lane. Uses the Redis at --redis, or starts a private
 * redis-server when nothing answers there. Every option is checked before anything starts; a worker that
 * exits with a configuration error stops the fleet, which exits 2 with the worker's message.
 */
export function upCommand(): Command {
  const config = readConfig();
  return withConnectionOptions(new Command('up'))
    .description('run a local fleet: the ingress and one worker per GPU (or one CPU worker), with a private Redis if none answers')
    .option('--host <addr>', 'ingress bind address (env FLEET_HOST)', config.ingressHost)
    .option('--port <n>', 'ingress port (env FLEET_PORT)', integerOption('port', 0, 65535), config.ingressPort)
    .option('--gpus <list>', 'GPU indexes, e.g. 0,1: one worker process each (default: one CPU worker)', parseGpuList)
    .option('--lanes <list>', 'lanes every worker drains, comma-separated, or all', parseLaneList, [...LANES])
    .option('--vram <size>', "VRAM budget per worker (default: on CUDA the device's free memory less a margin, else a nominal 16GiB)", byteSizeOption('--vram'))
    .option('--allow-cpu', 'with --gpus: run on the CPU when no CUDA provider is installed')
    .option('--store <url>', 'artifact store file://DIR or s3://bucket/prefix (env FLEET_STORE)', storeUrlOption, config.storeUrl)
    .option('--models <dir>', 'model repository (env FLEET_MODELS)', config.modelsDir)
    .option('--metrics-port <n>', 'first worker metrics port (one per worker, counting up)', integerOption('metrics-port', 0, 65535), DEFAULT_METRICS_PORT)
    .action(async (options: UpOptions) => {
      const gpus = options.gpus ?? [undefined];
      const metricsPortOf = (i: number) => (options.metricsPort === 0 ? 0 : options.metricsPort + i);
      if (options.metricsPort !== 0 && options.metricsPort + gpus.length - 1 > 65535) throw new UsageError(`--metrics-port ${options.metricsPort}: ${gpus.length} workers need ports up to ${options.metricsPort + gpus.length - 1}`);
      assertModelsDir(options.models);
      await assertPortFree('--port', options.host, options.port);
      for (let i = 0; i < gpus.length; i++) await assertPortFree('--metrics-port', config.metricsHost, metricsPortOf(i));

      const redis = await ensureRedis(options.redis, (message) => console.error(`fleet up: ${message}`), config.redisTls);
      const ingress = await startIngress({ ...options, redis: redis.url });
      let failed = false;
      const supervisor = new WorkerSupervisor(
        (i) => [
          '--prefix', options.prefix,
          '--lanes', options.lanes.join(','),
          ...(options.vram === undefined ? [] : ['--vram', options.vram]),
          ...(options.allowCpu ? ['--allow-cpu'] : []),
          '--store', options.store,
          '--models', options.models,
          '--metrics-port', String(metricsPortOf(i)),
          ...(gpus[i] === undefined ? [] : ['--gpu', String(gpus[i])]),
        ],
        gpus.length,
        ingress.logger,
        { REDIS_URL: redis.url },
        (index, message) => {
          if (failed) return;
          failed = true;
          console.error(`fleet up: worker ${index} cannot start: ${message}`);
          void (async () => {
            await supervisor.stop().catch(() => {});
            await ingress.close().catch(() => {});
            await redis.stop().catch(() => {});
            process.exit(2);
          })();
        },
      );
      supervisor.start();
      onShutdown(ingress.logger, [ingress.close, () => supervisor.stop(), redis.stop]);
    });
}
