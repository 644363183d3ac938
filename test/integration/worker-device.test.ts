// Device truth and the worker's lifecycle. This host has no CUDA provider: the "no CUDA" paths are real here; the
// CUDA paths use fakes of the sessions and of nvidia-smi's readings (no test claims a GPU).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { createLogger, createMetricsRegistry, FleetError, laneQueueName, laneQueuePrefix } from '../../contract/index.js';
import type { Producer } from '../../producer/index.js';
import { FileStore, FleetWorker, readWorkers, type DeviceMemoryReading, type FleetWorkerOptions, type ModelSession, type SessionFactory } from '../../workers/index.js';
import { OnnxSessionFactory } from '../../workers/engine/onnx-session-factory.js';
import { runFleet, waitUntil } from '../helpers/fleet-cli.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { MODELS_DIR, startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-device', tier: 'pro' as const };
const GiB = 1024 ** 3;

/** A worker built but not started, with its logs kept. */
function buildWorker(prefix: string, options: Partial<FleetWorkerOptions>) {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-device-'));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const store = new FileStore(dir);
  const worker = new FleetWorker({
    redisUrl: REDIS_URL,
    prefix,
    lanes: ['flash'],
    modelsDir: MODELS_DIR,
    store,
    logger: createLogger({ level: 'debug', destination }),
    registry: createMetricsRegistry({ role: 'worker' }),
    depthPollMs: 200,
    ...options,
  });
  return { worker, logs, cleanup: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
}

/**
 * Sessions that say they run on CUDA (real CPU sessions underneath, each run held a little so a reading of the
 * device lands inside it); the first creation of a unet fails as CUDA's out-of-memory does.
 */
function fakeCudaSessions(): SessionFactory {
  const cpu = new OnnxSessionFactory({ executionProvider: 'cpu' });
  let denoiserFailures = 1;
  return {
    create: async (modelPath) => {
      if (/[/\\](unet|transformer)[/\\]/.test(modelPath) && denoiserFailures-- > 0) {
        throw new FleetError('E_OOM', `model ${modelPath} could not be loaded on CUDA device 0; the next load tries again`, { cause: new Error('CUDA failure 2: out of memory') });
      }
      const session = await cpu.create(modelPath);
      const onCuda: ModelSession = {
        modelPath: session.modelPath,
        inputs: session.inputs,
        outputs: session.outputs,
        executionProvider: 'cuda',
        run: async (feeds, fetches) => {
          await new Promise((resolve) => setTimeout(resolve, 60));
          return session.run(feeds, fetches);
        },
        release: () => session.release(),
      };
      return onCuda;
    },
  };
}

describe('device truth', () => {
  const prefix = testPrefix();
  let producer: Producer;
  let workerCount: () => Promise<number>;
  let depthQueue: Queue;

  before(async () => {
    producer = await startTestProducer(prefix, { attempts: 3, backoffMs: 50 });
    depthQueue = new Queue(laneQueueName('flash'), { connection: producer.redis, prefix: laneQueuePrefix(prefix, 'flash') });
    workerCount = () => depthQueue.getWorkersCount();
  });
  after(async () => {
    await depthQueue.close();
    await producer.close();
    await cleanupPrefix(prefix);
  });

  test('--gpu without a CUDA provider is an error at start, unless --allow-cpu: then the worker says it runs on the CPU', async () => {
    const strict = buildWorker(prefix, { gpu: 0 });
    await assert.rejects(strict.worker.start(), (error: unknown) => error instanceof FleetError && error.code === 'E_DEVICE_UNAVAILABLE' && /--allow-cpu/.test(error.message));
    assert.equal(strict.worker.status, 'stopped');
    await strict.cleanup();

    const cli = await runFleet(['worker', '--gpu', '0', '--prefix', prefix, '--lanes', 'flash', '--models', MODELS_DIR, '--metrics-port', '0']);
    // A configuration error: exit 2, which fleet up's supervisor does not restart.
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /\[E_DEVICE_UNAVAILABLE\] --gpu 0 asked for CUDA.*--allow-cpu/);

    const allowed = await startTestWorker(prefix, { gpu: 0, allowCpu: true, lanes: ['flash'] });
    try {
      assert.equal(allowed.worker.info().executionProvider, 'cpu (gpu 0 asked, no CUDA provider)');
      assert.ok(allowed.logs.some((l) => /"level":40/.test(l) && /running on the CPU \(--allow-cpu\)/.test(l)), 'a warning at start');
      const view = await producer.waitForResult((await producer.enqueue({ prompt: 'on the cpu', width: 256, height: 256, account })).id, { timeoutMs: 60_000 });
      assert.equal(view.state, 'completed');
      assert.deepEqual(allowed.worker.info().models, [{ name: 'flash-v1', provider: 'cpu' }]);
      assert.ok(allowed.logs.some((l) => /model loaded on cpu/.test(l)));
    } finally {
      await allowed.stop();
    }
  });

  test('on CUDA: the budget is the device less its use and the margin, readings feed the gauges and raise an estimate; a failed load is reported for its model and tried again', async () => {
    const start: DeviceMemoryReading = { usedBytes: 1 * GiB, totalBytes: 24 * GiB };
    let worker: FleetWorker | undefined;
    // While a batch runs the device holds the weights and four times the batch's estimated activations.
    const read = async (): Promise<DeviceMemoryReading> => {
      const stats = worker?.batcherStats();
      if (stats === undefined || stats.batchesInFlight === 0) return { ...start, usedBytes: start.usedBytes + (stats?.residentWeightBytes ?? 0) };
      return { ...start, usedBytes: start.usedBytes + stats.residentWeightBytes + 4 * stats.inFlightActivationBytes };
    };
    const fleet = await startTestWorker(prefix, { gpu: 0, sessionFactory: fakeCudaSessions(), readDeviceMemory: read, deviceMemoryPollMs: 20, lanes: ['flash'] });
    worker = fleet.worker;
    try {
      assert.equal(fleet.worker.info().vramBudgetBytes, 22 * GiB);
      assert.equal(fleet.worker.info().executionProvider, 'cuda:0');
      const text = await fleet.registry.metrics();
      assert.match(text, new RegExp(`fleet_vram_device_total_bytes(\\{[^}]*\\})? ${24 * GiB}`));
      assert.match(text, new RegExp(`fleet_vram_budget_bytes(\\{[^}]*\\})? ${22 * GiB}`));

      const view = await producer.waitForResult((await producer.enqueue({ prompt: 'on the device', width: 256, height: 256, account })).id, { timeoutMs: 60_000 });
      assert.equal(view.state, 'completed', JSON.stringify(view.error));
      assert.equal(view.attempts, 2, 'the first load failed (CUDA out of memory); the retry loaded it');
      assert.ok(fleet.logs.some((l) => /model flash-v1 failed to load/.test(l) && /CUDA failure 2: out of memory/.test(l)), 'reported for that model, with the cause');
      assert.deepEqual(fleet.worker.info().models, [{ name: 'flash-v1', provider: 'cuda' }]);

      await waitUntil('the estimate to be raised', () => fleet.worker.batcherStats()!.models['flash-v1']!.activationFactor > 1);
      assert.ok(fleet.logs.some((l) => /activation estimate raised/.test(l)));
      assert.match(await fleet.registry.metrics(), /fleet_activation_factor\{[^}]*model="flash-v1"[^}]*\} [2-4]/);
      const reported = fleet.worker.info().deviceMemory!;
      assert.equal(reported.totalBytes, 24 * GiB);
      assert.ok(reported.peakUsedBytes > start.usedBytes);
      await waitUntil('the heartbeat to carry the models', async () => {
        const [info] = await readWorkers(producer.redis, prefix);
        return info?.models?.[0]?.provider === 'cuda' && info.deviceMemory !== undefined;
      });
    } finally {
      await fleet.stop();
    }
  });

  test('stop() during start() leaves no consumer running, wherever it lands', async () => {
    for (const delayMs of [0, 1, 5, 20, 50, 100, 200, 400]) {
      const { worker, cleanup } = buildWorker(prefix, {});
      const started = worker.start().then(
        () => 'running' as const,
        (error: unknown) => {
          assert.ok(error instanceof FleetError && error.code === 'E_SHUTDOWN', String(error));
          return 'unwound' as const;
        },
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await worker.stop();
      await started;
      assert.equal(worker.status, 'stopped', `stopped ${delayMs} ms into start`);
      // Closed connections leave Redis's client list a moment later; a consumer left running never would.
      await waitUntil(`no BullMQ worker left on the lane (stop ${delayMs} ms into start)`, async () => (await workerCount()) === 0, 5000, 20);
      await cleanup();
    }
  });
});
