import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger, createMetricsRegistry, type Lane } from '../../contract/index.js';
import { FileStore, FleetWorker, type ArtifactStore, type FleetWorkerOptions } from '../../workers/index.js';
import { REDIS_URL } from './redis.js';

/** The models scripts/test-setup.ts builds before the suite. */
export const MODELS_DIR = fileURLToPath(new URL('../../models', import.meta.url));

/** An in-process worker on `prefix` with a temporary file store (or the given store); logs kept in memory. */
export async function startTestWorker(prefix: string, options: Partial<FleetWorkerOptions> & { lanes?: Lane[]; store?: ArtifactStore } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-renders-'));
  const store = options.store ?? new FileStore(dir);
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const registry = createMetricsRegistry({ role: 'worker' });
  const worker = new FleetWorker({
    redisUrl: options.redisUrl ?? REDIS_URL,
    prefix,
    modelsDir: MODELS_DIR,
    logger: createLogger({ level: 'debug', destination }),
    registry,
    depthPollMs: 200,
    shutdownTimeoutMs: 20_000,
    ...options,
    store,
  });
  await worker.start();
  return {
    worker,
    store,
    registry,
    logs,
    stop: async () => {
      await worker.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
