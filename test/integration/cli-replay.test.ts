import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { JobPath } from '../../cli/job-path.js';
import { replayJobs, selectJobs, type ReplayEntry } from '../../producer/index.js';
import { LaneQueues, type Producer } from '../../producer/index.js';
import { fleetJson, runFleet, waitUntil } from '../helpers/fleet-cli.js';
import { cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-replay', tier: 'pro' as const };

interface ReplayOutput {
  dryRun: boolean;
  selected: number;
  replayed: number;
  wouldReplay: number;
  alreadyReplayed: number;
  failed: number;
  jobs: ReplayEntry[];
}

async function sourcePng(): Promise<Buffer> {
  return sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 30, g: 120, b: 200 } } }).png().toBuffer();
}

describe('fleet replay on a real worker: failed upscales (missing source, E_SOURCE) replayed once each', () => {
  const prefix = testPrefix();
  let producer: Producer;
  let queues: LaneQueues;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  const originals: string[] = [];
  const counts = async () => {
    const c = await queues.queue('upscale').getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    return { completed: c.completed ?? 0, failed: c.failed ?? 0, unfinished: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) };
  };

  before(async () => {
    fleet = await startTestWorker(prefix, { lanes: ['upscale'] });
    producer = await startTestProducer(prefix);
    queues = new LaneQueues(producer.redis, prefix);
  });
  after(async () => {
    await queues.close();
    await producer.close();
    await fleet.stop();
    await cleanupPrefix(prefix);
  });

  test('100 failed jobs: dry run changes nothing; replay completes each once; a second replay adds none', async () => {
    for (let i = 0; i < 100; i++) {
      const receipt = await producer.enqueue({ prompt: `upscale ${i}`, intent: 'upscale', source: { key: 'sources/replay.png' }, account });
      originals.push(receipt.id);
    }
    await waitUntil('100 jobs to fail with E_SOURCE', async () => (await counts()).failed === 100, 30_000, 200);
    const failedView = await producer.getJob(originals[0]!);
    assert.equal(failedView.error?.code, 'E_SOURCE');

    const dry = await fleetJson<ReplayOutput>(['replay', '--prefix', prefix, '--lane', 'upscale', '--code', 'E_SOURCE', '--dry-run']);
    assert.deepEqual([dry.dryRun, dry.selected, dry.wouldReplay, dry.replayed], [true, 100, 100, 0]);
    assert.deepEqual((await counts()).completed, 0);
    assert.equal((await selectJobs(queues, { lanes: ['upscale'], state: 'failed', code: 'E_STORE' })).length, 0, '--code filters');
    assert.equal((await selectJobs(queues, { lanes: ['upscale'], state: 'failed', finishedSince: Date.now() + 60_000 })).length, 0, '--since filters');

    await fleet.store.put('sources/replay.png', await sourcePng(), 'image/png');
    const run = await runFleet(['replay', '--prefix', prefix, '--lane', 'upscale', '--code', 'E_SOURCE', '--since', '1h', '--json'], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /replaying: 100\/100/, 'plain progress lines on a non-TTY');
    const first = JSON.parse(run.stdout) as ReplayOutput;
    assert.deepEqual([first.selected, first.replayed, first.alreadyReplayed, first.failed], [100, 100, 0, 0]);
    assert.deepEqual(new Set(first.jobs.map((j) => j.id)), new Set(originals));
    for (const entry of first.jobs) assert.equal(entry.replayId, entry.id.replace(/^upscale\./, 'upscale.r1-'));

    await waitUntil('the 100 replays to complete', async () => (await counts()).completed === 100, 45_000, 250);
    const replays = await Promise.all(first.jobs.map((j) => producer.getJob(j.replayId)));
    assert.ok(replays.every((v) => v.state === 'completed'));
    assert.equal(new Set(replays.map((v) => v.id)).size, 100, 'each original completed once');

    const second = await fleetJson<ReplayOutput>(['replay', '--prefix', prefix, '--lane', 'upscale', '--code', 'E_SOURCE'], { timeoutMs: 60_000 });
    assert.deepEqual([second.selected, second.replayed, second.alreadyReplayed], [100, 0, 100]);
    const after = await counts();
    assert.deepEqual([after.completed, after.failed, after.unfinished], [100, 100, 0], 'the second replay added no job');

    const original = await fleetJson<JobPath>(['jobs', originals[0]!, '--prefix', prefix]);
    assert.equal(original.state, 'failed');
    assert.equal(original.error?.code, 'E_SOURCE');
    assert.equal(original.attempts.made, 1);
    assert.equal(original.replayedAs, first.jobs.find((j) => j.id === originals[0])!.replayId);
    const replay = await fleetJson<JobPath>(['jobs', original.replayedAs!, '--prefix', prefix]);
    assert.equal(replay.state, 'completed');
    assert.equal(replay.replayOf, originals[0]);
    assert.deepEqual([replay.lane, replay.model, replay.policy.version], ['upscale', 'upscale-x2', 1]);
    assert.equal(replay.batch?.size, 1);
    assert.ok(replay.timings?.endToEndMs !== undefined && replay.timings.inferenceMs !== undefined);
    assert.match(replay.artifact!.url, /^file:\/\/.*upscale\/upscale\.r1-/);
    const text = await runFleet(['jobs', original.replayedAs!, '--prefix', prefix]);
    assert.match(text.stdout, /replay of\s+upscale\./);
    assert.match(text.stdout, /timings\s+queue wait/);
    assert.equal((await runFleet(['jobs', 'upscale.missing', '--prefix', prefix])).code, 1);
  });

  test('a replay that fails again is replayed as the next generation (with --reroute), never the original twice', async () => {
    const late: string[] = [];
    for (let i = 0; i < 3; i++) late.push((await producer.enqueue({ prompt: `late ${i}`, intent: 'upscale', source: { key: 'sources/late.png' }, account })).id);
    await waitUntil('3 more failures', async () => (await counts()).failed === 103, 20_000);

    const r1 = await fleetJson<ReplayOutput>(['replay', '--prefix', prefix, '--lane', 'upscale', '--code', 'E_SOURCE', '--reroute']);
    assert.deepEqual([r1.replayed, r1.alreadyReplayed], [3, 100]);
    const r1Ids = r1.jobs.filter((j) => j.outcome === 'replayed').map((j) => j.replayId);
    assert.deepEqual(r1Ids.sort(), late.map((id) => id.replace('upscale.', 'upscale.r1-')).sort());
    await waitUntil('the r1 replays to fail again (source still missing)', async () => (await counts()).failed === 106, 20_000);

    const failedNow = await selectJobs(queues, { lanes: ['upscale'], state: 'failed' });
    const limited = await replayJobs(producer, queues, failedNow, { reroute: false, dryRun: true, limit: 1 });
    assert.equal(limited.filter((e) => e.outcome === 'would-replay').length, 1, '--limit counts new replays only');
    assert.ok(limited.filter((e) => e.outcome === 'already-replayed').length >= 100, 'already-replayed jobs were passed over, not counted');

    await fleet.store.put('sources/late.png', await sourcePng(), 'image/png');
    const r2 = await fleetJson<ReplayOutput>(['replay', '--prefix', prefix, '--lane', 'upscale']);
    assert.deepEqual([r2.selected, r2.replayed, r2.alreadyReplayed], [106, 3, 103]);
    assert.ok(r2.jobs.filter((j) => j.outcome === 'replayed').every((j) => /^upscale\.r2-/.test(j.replayId) && /^upscale\.r1-/.test(j.id)));
    await waitUntil('the r2 replays to complete', async () => (await counts()).completed === 103, 20_000);
    const again = await replayJobs(producer, queues, await selectJobs(queues, { lanes: ['upscale'], state: 'failed' }), { reroute: false, dryRun: false });
    assert.equal(again.filter((e) => e.outcome === 'replayed').length, 0);

    const usage = await runFleet(['replay', '--prefix', prefix, '--lane', 'upscale', '--state', 'completed', '--code', 'E_SOURCE']);
    assert.equal(usage.code, 2, '--code with --state completed is a usage error');
    assert.equal((await runFleet(['replay', '--prefix', prefix])).code, 2, '--lane is required');
  });
});
