import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Producer } from '../../producer/index.js';
import { loadPipeline, type Pipeline } from '../../workers/index.js';
import { cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';
import { waitUntil } from '../helpers/fleet-cli.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-overflow', tier: 'pro' as const };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type TestWorker = Awaited<ReturnType<typeof startTestWorker>>;

/**
 * Resolves once the worker's depth poll has read `large` as `pending` jobs waiting and `active` running. The poll
 * sets its gauge and then re-evaluates the overflow gate in one step, so from then on the gate has decided on that
 * backlog: with `overflowAfterMs: 0` nothing else is left to wait for.
 */
async function largeDepthSeen(fleet: TestWorker, pending: number, active: number): Promise<void> {
  await waitUntil(`the worker to read large as ${pending} waiting, ${active} active`, async () => {
    const { values } = await fleet.worker.metrics.queueDepth.get();
    const depth = (state: string) => values.find((v) => v.labels.lane === 'large' && v.labels.state === state)?.value ?? 0;
    return depth('waiting') + depth('prioritized') === pending && depth('active') === active;
  }, 20_000, 20);
}

/** The real ONNX pipelines, except that flash batches wait for `release()` before they run. */
function gatedFlash() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const loader = async (model: Parameters<typeof loadPipeline>[0]): Promise<Pipeline> => {
    const pipeline = await loadPipeline(model);
    if (pipeline.kind !== 'diffusion' || !model.lanes.includes('flash')) return pipeline;
    return { kind: 'diffusion', model: pipeline.model, release: () => pipeline.release(), run: async (items) => (await gate, pipeline.run(items)) };
  };
  return { loader, release: open };
}

describe('overflow lanes: a worker helps a backed-up lane only while its own lanes are idle', () => {
  const prefix = testPrefix();
  let producer: Producer;

  before(async () => {
    producer = await startTestProducer(prefix);
  });
  after(async () => {
    await producer.close();
    await cleanupPrefix(prefix);
  });

  test('exports wait while a flash batch runs; once it ends the worker takes them one at a time', async () => {
    const flash = gatedFlash();
    const fleet = await startTestWorker(prefix, { lanes: ['flash'], overflowLanes: ['large'], overflowBacklog: 1, overflowAfterMs: 0, pipelineLoader: flash.loader, depthPollMs: 50 });
    try {
      const preview = await producer.enqueue({ prompt: 'a held preview', seed: 1, account });
      while ((fleet.worker.batcherStats()?.lanes.flash?.inFlightItems ?? 0) === 0) await sleep(20);
      const exports = await Promise.all([1, 2].map((seed) => producer.enqueue({ prompt: `harbor export ${seed}`, intent: 'export', seed, account })));
      await largeDepthSeen(fleet, 2, 0); // the gate saw the backlog while the own lane was busy
      assert.deepEqual(await Promise.all(exports.map(async (r) => (await producer.getJob(r.id)).state)), ['waiting', 'waiting'], 'nothing taken while the own lane runs');

      flash.release();
      assert.equal((await producer.waitForResult(preview.id, { timeoutMs: 30_000 })).state, 'completed');
      const views = await Promise.all(exports.map((r) => producer.waitForResult(r.id, { timeoutMs: 60_000 })));
      assert.deepEqual(views.map((v) => v.state), ['completed', 'completed']);
      assert.deepEqual(views.map((v) => v.result?.batch?.size), [1, 1], 'one overflow job at a time');
      assert.ok(fleet.logs.some((line) => line.includes('"overflowLanes":["large"]')), 'the worker logs its overflow lanes');
    } finally {
      await fleet.stop();
    }
  });

  test('below the backlog threshold the lane stays closed: the last export is left for the lane\'s own workers', async () => {
    const fleet = await startTestWorker(prefix, { lanes: ['flash'], overflowLanes: ['large'], overflowBacklog: 2, overflowAfterMs: 0, depthPollMs: 50 });
    try {
      const first = await producer.enqueue({ prompt: 'lonely export', intent: 'export', seed: 3, account });
      await largeDepthSeen(fleet, 1, 0);
      assert.equal((await producer.getJob(first.id)).state, 'waiting', 'a backlog of 1 is below the threshold of 2');
      const second = await producer.enqueue({ prompt: 'second export', intent: 'export', seed: 4, account });
      // Polled, not a race of waitForResult()s: the wait left behind would hold the test process open until its
      // timeout, long after the test.
      let done: string | undefined;
      await waitUntil('one of the two exports to finish', async () => {
        const views = await Promise.all([first, second].map((r) => producer.getJob(r.id)));
        const finished = views.find((v) => v.state === 'completed' || v.state === 'failed');
        if (finished?.state === 'completed') done = finished.id;
        return finished !== undefined;
      }, 60_000, 50);
      assert.ok(done !== undefined, 'a backlog of 2 opens the lane');
      await largeDepthSeen(fleet, 1, 0); // the done job has left; the gate decided on the one left
      const other = done === first.id ? second : first;
      assert.equal((await producer.getJob(other.id)).state, 'waiting', 'with one left the lane closes again');
    } finally {
      await fleet.stop();
    }
  });

  test('an overflow lane may not repeat one of the worker\'s own lanes', async () => {
    await assert.rejects(() => startTestWorker(prefix, { lanes: ['flash', 'large'], overflowLanes: ['large'] }), /overflowLanes must not repeat a lane of lanes, got large in both/);
  });
});
