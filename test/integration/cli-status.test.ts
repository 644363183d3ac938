import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bucketRangeOf, type JobView } from '../../contract/index.js';
import { readFleetStatus, type FleetStatus } from '../../cli/fleet-status.js';
import type { Producer } from '../../producer/index.js';
import { fleetJson, runFleet, waitUntil } from '../helpers/fleet-cli.js';
import { cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-status', tier: 'pro' as const };

/** Nearest-rank quantile: the value the q-th share of observations is at or under. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

function assertWithinBucket(reported: number | null, exact: number, what: string): void {
  assert.notEqual(reported, null, `${what}: no percentile reported`);
  const [lower, upper] = bucketRangeOf(exact);
  assert.ok(reported! >= lower && reported! <= upper, `${what}: reported ${reported} ms, exact ${exact} ms lies in bucket [${lower}, ${upper}]`);
}

describe('fleet status on a real worker: depth, percentiles from the histograms, batch size, workers, policy', () => {
  const prefix = testPrefix();
  let producer: Producer;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  const views: JobView[] = [];
  const LARGE_WAITING = 5;
  const FLASH_JOBS = 30;

  before(async () => {
    fleet = await startTestWorker(prefix, { lanes: ['flash'] });
    producer = await startTestProducer(prefix);
    // A controlled load: flash jobs in three waves (varied queue waits and batch sizes), and large jobs no worker drains.
    for (let wave = 0; wave < 3; wave++) {
      const receipts = await Promise.all(
        Array.from({ length: FLASH_JOBS / 3 }, (_, i) => producer.enqueue({ prompt: `status load ${wave}-${i}`, width: 256, height: 256, seed: i, account })),
      );
      views.push(...(await Promise.all(receipts.map((r) => producer.waitForResult(r.id, { timeoutMs: 30_000 })))));
    }
    for (let i = 0; i < LARGE_WAITING; i++) await producer.enqueue({ prompt: `export ${i}`, intent: 'export', account });
    assert.ok(views.every((v) => v.state === 'completed'), JSON.stringify(views.find((v) => v.state !== 'completed')?.error));
    // The recorder flushes every second.
    await waitUntil('the histograms to hold every job', async () => {
      const status = await readFleetStatus(producer.redis, prefix, { lanes: ['flash'] });
      return status.lanes[0]!.endToEndMs.count === FLASH_JOBS && status.lanes[0]!.totals.completed === FLASH_JOBS;
    });
  });
  after(async () => {
    await producer.close();
    await fleet.stop();
    await cleanupPrefix(prefix);
  });

  test('status --json: depth per lane, and p50/p95/p99 within one bucket of the exact values from the jobs', async () => {
    const status = await fleetJson<FleetStatus>(['status', '--prefix', prefix, '--window', '5m']);
    assert.equal(status.prefix, prefix);
    assert.deepEqual(status.lanes.map((l) => l.lane), ['flash', 'large', 'typography', 'upscale']);
    const flash = status.lanes.find((l) => l.lane === 'flash')!;
    const large = status.lanes.find((l) => l.lane === 'large')!;
    assert.deepEqual(flash.depth, { waiting: 0, prioritized: 0, active: 0, delayed: 0, failed: 0, completed: FLASH_JOBS });
    // Pro-tier jobs carry a priority, so BullMQ keeps them in `prioritized`.
    assert.equal(large.depth.waiting + large.depth.prioritized, LARGE_WAITING);
    assert.equal(large.depth.active, 0);
    assert.equal(flash.totals.completed, FLASH_JOBS);
    assert.equal(flash.totals.failed, 0);
    assert.ok(flash.perMinute.completed > 0);

    const endToEnd = views.map((v) => v.timings!.endToEndMs!);
    const queueWait = views.map((v) => v.timings!.queueWaitMs!);
    assert.equal(flash.endToEndMs.count, FLASH_JOBS);
    for (const [q, key] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
      assertWithinBucket(flash.endToEndMs[key], exactQuantile(endToEnd, q), `end-to-end ${key}`);
      assertWithinBucket(flash.queueWaitMs[key], exactQuantile(queueWait, q), `queue wait ${key}`);
    }

    // Mean batch size from the counters equals what the jobs themselves report.
    const batches = new Map(views.map((v) => [v.result!.batch!.id, v.result!.batch!.size]));
    const expectedMean = [...batches.values()].reduce((a, b) => a + b, 0) / batches.size;
    assert.equal(flash.totals.batches, batches.size);
    assert.ok(Math.abs(flash.meanBatchSize! - expectedMean) < 0.01, `mean batch ${flash.meanBatchSize} vs ${expectedMean}`);
    assert.equal(large.meanBatchSize, null);

    assert.equal(status.workers.length, 1);
    const worker = status.workers[0]!;
    assert.deepEqual(worker.lanes, ['flash']);
    assert.equal(worker.gpu, null);
    assert.ok(worker.vramBudgetBytes > 0 && worker.vramInUseBytes <= worker.vramBudgetBytes);
    assert.equal(worker.state, 'running');
    assert.equal(worker.executionProvider, 'cpu');
    assert.deepEqual(worker.models, [{ name: 'flash-v1', provider: 'cpu' }], 'each loaded model with its provider');
    assert.equal(worker.engineRestarts, 0);
    assert.equal(status.policyVersion, 1, 'the producer seeded the default policy as version 1');
  });

  test('status as a table (plain when piped), --lane, and exit codes', async () => {
    const text = await runFleet(['status', '--prefix', prefix, '--lane', 'flash,large']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /flash/);
    assert.match(text.stdout, /policy v1/);
    assert.doesNotMatch(text.stdout, /typography|upscale/);
    assert.doesNotMatch(text.stdout, /\u001b\[/, 'no colours when not a TTY');
    assert.match(text.stdout, /no worker/, 'large has no worker');
    assert.match(text.stdout, /flash-v1 +│ cpu/, 'the model the worker loaded, and where it runs');
    const widest = Math.max(...text.stdout.split('\n').map((line) => line.length));
    assert.ok(widest <= 100, `fits 100 columns (widest line ${widest})`);

    const usage = await runFleet(['status', '--prefix', prefix, '--window', 'soon']);
    assert.equal(usage.code, 2, 'a bad option is a usage error');
    const lane = await runFleet(['status', '--prefix', prefix, '--lane', 'huge']);
    assert.equal(lane.code, 2);
    const down = await runFleet(['status', '--prefix', prefix, '--redis', 'redis://127.0.0.1:1']);
    assert.equal(down.code, 1, 'an unreachable Redis is a failure');
    assert.match(down.stderr, /E_REDIS_UNAVAILABLE/);
  });

  test('watch --json --count 2 prints one status line per refresh with the p95 history', async () => {
    const run = await runFleet(['watch', '--prefix', prefix, '--json', '--count', '2', '--interval', '200ms']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as FleetStatus);
    assert.equal(lines.length, 2);
    const flash = lines[1]!.lanes.find((l) => l.lane === 'flash')!;
    assert.equal(flash.p95History!.length, 30);
    assert.ok(flash.p95History!.some((v) => v !== null));
  });
});
