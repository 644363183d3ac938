import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Producer } from '../../producer/index.js';
import { waitUntil } from '../helpers/fleet-cli.js';
import { cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { buildSlowModels } from '../helpers/slow-model.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-engine-lost', tier: 'pro' as const };
const JOBS = 3;

describe('an inference engine lost mid-batch', () => {
  const prefix = testPrefix();
  let producer: Producer;
  let modelsDir: string;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;

  before(async () => {
    // Runs long enough to be killed in the middle of one.
    ({ modelsDir } = await buildSlowModels(500));
    fleet = await startTestWorker(prefix, {
      lanes: ['flash'],
      modelsDir,
      // The three jobs wait for each other: one batch.
      batching: { flash: { maxBatchSize: JOBS, maxLatencyMs: 2000 } },
      batcherOverrides: { flushWhenIdle: false },
      adaptiveBatching: false,
    });
    producer = await startTestProducer(prefix, { attempts: 3, backoffMs: 50 });
  });
  after(async () => {
    await producer.close();
    await fleet.stop();
    await cleanupPrefix(prefix);
    await rm(modelsDir, { recursive: true, force: true });
  });

  test('fails the batch with E_ENGINE_LOST; the worker keeps running, restarts the engine and completes every job on retry', async () => {
    const engine = fleet.worker.engine!;
    const receipts = await Promise.all(
      Array.from({ length: JOBS }, (_, i) => producer.enqueue({ prompt: `a job in a doomed batch ${i}`, width: 256, height: 256, steps: 2, seed: i, account })),
    );
    // Mid-batch: the model is loaded, the batch of three runs, and the engine is inside a call.
    await waitUntil(
      'the batch to be running in the engine',
      () => {
        const stats = fleet.worker.batcherStats()!;
        return stats.models['flash-v1']!.state === 'ready' && stats.batchesInFlight === 1 && stats.lanes.flash.inFlightItems === JOBS && engine.callsInFlight > 0;
      },
      60_000,
      10,
    );
    void engine.kill();

    const views = await Promise.all(receipts.map((r) => producer.waitForResult(r.id, { timeoutMs: 120_000 })));
    assert.deepEqual(views.map((v) => v.state), receipts.map(() => 'completed'), JSON.stringify(views.map((v) => v.error)));
    assert.deepEqual(views.map((v) => v.attempts), receipts.map(() => 2), 'each failed once with the engine, then completed');
    assert.equal(fleet.worker.status, 'running');
    assert.equal(engine.restarts, 1);
    const failures = (await fleet.worker.metrics.failed.get()).values.filter((v) => v.labels.code === 'E_ENGINE_LOST');
    assert.equal(failures.reduce((sum, v) => sum + v.value, 0), JOBS, 'the batch failed with E_ENGINE_LOST, one attempt per job');
    assert.equal((await fleet.worker.metrics.engineRestarts.get()).values[0]!.value, 1);
    const lines = fleet.logs.map((l) => JSON.parse(l) as { msg: string; err?: { code?: string }; code?: string });
    assert.ok(lines.some((l) => l.code === 'E_ENGINE_LOST' && l.err?.code === 'E_ENGINE_LOST'), 'each failure is logged with its error');
    assert.equal(fleet.worker.info().engineRestarts, 1);
  });
});
