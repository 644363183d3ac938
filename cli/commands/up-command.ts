import { Command } from 'commander';
import { readConfig } from '../../contract/index.js';
import { integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { ensureRedis } from '../local-redis.js';
import { onShutdown } from '../shutdown.js';
import { WorkerSupervisor } from '../worker-supervisor.js';
import { startIngress } from './ingress-command.js';

interface UpOptions extends ConnectionOptions {
  host: string;
  port: number;
  gpus?: string;
  lanes: string;
  vram?: string;
  allowCpu?: boolean;
  store: string;
  models: string;
  metricsPort: number;
}

/**
 * `fleet up` (what `npm start` runs): a local fleet — the ingress and one worker process per GPU given
 * with --gpus (or one CPU worker) draining every lane. Uses the Redis at --redis, or starts a private
 * redis-server when nothing answers there.
 */
export function upCommand(): Command {
  const config = readConfig();
  return withConnectionOptions(new Command('up'))
    .description('run a local fleet: the ingress and one worker per GPU (or one CPU worker), with a private Redis if none answers')
    .option('--host <addr>', 'ingress bind address (env FLEET_HOST)', config.ingressHost)
    .option('--port <n>', 'ingress port (env FLEET_PORT)', integerOption('port', 0, 65535), config.ingressPort)
    .option('--gpus <list>', 'GPU indexes, e.g. 0,1: one worker process each (default: one CPU worker)')
    .option('--lanes <list>', 'lanes every worker drains', 'all')
    .option('--vram <size>', "VRAM budget per worker (default: on CUDA the device's free memory less a margin, else a nominal 16GiB)")
    .option('--allow-cpu', 'with --gpus: run on the CPU when no CUDA provider is installed')
    .option('--store <url>', 'artifact store file://DIR or s3://bucket/prefix (env FLEET_STORE)', config.storeUrl)
    .option('--models <dir>', 'model repository (env FLEET_MODELS)', config.modelsDir)
    .option('--metrics-port <n>', 'first worker metrics port (one per worker, counting up)', integerOption('metrics-port', 0, 65535), 9464)
    .action(async (options: UpOptions) => {
      const redis = await ensureRedis(options.redis, (message) => console.error(`fleet up: ${message}`), config.redisTls);
      const ingress = await startIngress({ ...options, redis: redis.url });
      const gpus = options.gpus === undefined ? [undefined] : options.gpus.split(',').map((g) => Number(g.trim()));
      const supervisor = new WorkerSupervisor(
        (i) => [
          '--prefix', options.prefix,
          '--lanes', options.lanes,
          ...(options.vram === undefined ? [] : ['--vram', options.vram]),
          ...(options.allowCpu ? ['--allow-cpu'] : []),
          '--store', options.store,
          '--models', options.models,
          '--metrics-port', String(options.metricsPort === 0 ? 0 : options.metricsPort + i),
          ...(gpus[i] === undefined ? [] : ['--gpu', String(gpus[i])]),
        ],
        gpus.length,
        ingress.logger,
        { REDIS_URL: redis.url },
      );
      supervisor.start();
      onShutdown(ingress.logger, [ingress.close, () => supervisor.stop(), redis.stop]);
    });
}
