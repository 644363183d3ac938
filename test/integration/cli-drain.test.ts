import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFleetStatus } from '../../cli/fleet-status.js';
import { drainLanes, type DrainedLane } from '../../cli/lane-drain.js';
import { LaneQueues, type Producer } from '../../producer/index.js';
import { fleetJson, runFleet, waitUntil } from '../helpers/fleet-cli.js';
import { cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-drain', tier: 'pro' as const };
type DrainResult = { lanes: DrainedLane[]; timedOut: boolean };

describe('fleet drain / resume on a real worker (large lane: one export at a time)', () => {
  const prefix = testPrefix();
  let producer: Producer;
  let queues: LaneQueues;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  const counts = async () => {
    const c = await queues.queue('large').getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    const [waiting, prioritized, active, delayed, completed, failed] = [c.waiting ?? 0, c.prioritized ?? 0, c.active ?? 0, c.delayed ?? 0, c.completed ?? 0, c.failed ?? 0];
    return { active, completed, pending: waiting + prioritized, total: waiting + prioritized + active + delayed + completed + failed };
  };
  const enqueue = async (n: number, tag: string) => {
    for (let i = 0; i < n; i++) await producer.enqueue({ prompt: `drain ${tag} ${i}`, intent: 'export', seed: i, account });
  };

  before(async () => {
    fleet = await startTestWorker(prefix, { lanes: ['large'] });
    producer = await startTestProducer(prefix);
    queues = new LaneQueues(producer.redis, prefix);
  });
  after(async () => {
    await queues.queue('large').resume().catch(() => {});
    await queues.close();
    await producer.close();
    await fleet.stop();
    await cleanupPrefix(prefix);
  });

  test('drain stops intake, waits for the active jobs, removes nothing; a paused lane still accepts enqueues; resume runs them', async () => {
    await enqueue(6, 'a');
    await waitUntil('a large job to be active', async () => ((await counts()).active ?? 0) >= 1);

    const drained = await fleetJson<DrainResult>(['drain', 'large', '--prefix', prefix, '--timeout', '30s'], { timeoutMs: 45_000 });
    assert.equal(drained.timedOut, false);
    const lane = drained.lanes[0]!;
    assert.equal(lane.lane, 'large');
    assert.equal(lane.paused, true);
    assert.equal(lane.active, 0, 'drain returns once no job is active');
    assert.equal(lane.removed, 0);
    const afterDrain = await counts();
    assert.equal(afterDrain.active, 0);
    assert.ok(afterDrain.pending > 0, 'jobs are left waiting: intake stopped before the lane emptied');
    assert.equal(afterDrain.total, 6, 'nothing deleted, nothing lost');
    assert.equal(afterDrain.pending, lane.waiting + lane.prioritized);

    const status = await readFleetStatus(producer.redis, prefix, { lanes: ['large'] });
    assert.equal(status.lanes[0]!.paused, true, 'status shows the lane paused');

    // Decision: a paused lane accepts enqueues (they wait for resume); backpressure still bounds it.
    const receipt = await producer.enqueue({ prompt: 'during drain', intent: 'export', account });
    assert.equal(receipt.lane, 'large');
    assert.equal((await counts()).pending, afterDrain.pending + 1);

    // Paused in Redis, which is what stops every worker's fetch; and everything since the drain (status, an
    // enqueue) ran with the worker polling: it started nothing.
    assert.equal(await queues.queue('large').isPaused(), true);
    const beforeResume = await counts();
    assert.equal(beforeResume.completed, afterDrain.completed, 'no job completed while paused');
    assert.equal(beforeResume.active, 0);

    const resumed = await runFleet(['resume', 'large', '--prefix', prefix]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`resumed large: ${afterDrain.pending + 1} jobs waiting`));
    const view = await producer.waitForResult(receipt.id, { timeoutMs: 40_000 });
    assert.equal(view.state, 'completed');
    await waitUntil('every job to complete after resume', async () => (await counts()).completed === 7, 40_000, 250);
  });

  test('drain --remove-waiting removes only waiting jobs and says how many; a drain that times out reports the jobs still active', async () => {
    await enqueue(6, 'b');
    await waitUntil('a large job to be active', async () => ((await counts()).active ?? 0) >= 1);
    const before = await counts();

    // In-process with no time to wait: reports the active jobs and times out.
    const quick = await drainLanes(queues, ['large'], { timeoutMs: 0 });
    assert.equal(quick.timedOut, true);
    assert.ok(quick.lanes[0]!.active >= 1);

    const run = await runFleet(['drain', 'large', '--prefix', prefix, '--timeout', '30s', '--remove-waiting'], { timeoutMs: 45_000 });
    assert.equal(run.code, 0, run.stderr);
    const removedLine = /removed (\d+) waiting jobs?/.exec(run.stdout);
    assert.ok(removedLine, run.stdout);
    const removed = Number(removedLine[1]);
    assert.ok(removed >= 1, 'some jobs were still waiting');
    assert.match(run.stderr, /active jobs finished: \d+\/\d+/, 'plain progress lines on a non-TTY');
    const now = await counts();
    assert.equal(now.pending, 0);
    assert.equal(now.active, 0);
    assert.equal(now.total, before.total - removed, 'only the waiting jobs went; completed ones stay');

    await enqueue(1, 'c');
    await waitUntil('a job to wait in the paused lane', async () => (await counts()).pending === 1);
    const timeout = await runFleet(['drain', 'large', '--prefix', prefix, '--timeout', '0s']);
    assert.equal(timeout.code, 0, 'nothing active: nothing to wait for');
    const resume = await fleetJson<{ lanes: Array<{ lane: string; waiting: number }> }>(['resume', 'all', '--prefix', prefix]);
    assert.deepEqual(resume.lanes.find((l) => l.lane === 'large'), { lane: 'large', waiting: 1 });
    await waitUntil('the last job to complete', async () => (await counts()).pending === 0 && (await counts()).active === 0, 30_000, 250);

    const usage = await runFleet(['drain', 'medium', '--prefix', prefix]);
    assert.equal(usage.code, 2);
  });
});
