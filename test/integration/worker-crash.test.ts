// A job that kills its worker process (the test hook FLEET_TEST_HOOK_CRASH_ON_PROMPT: SIGKILL mid-batch, as a
// native crash or an OOM kill would), with real `fleet worker` processes on real Redis: its batch-mates complete,
// it fails E_WORKER_CRASH, and it kills two workers (its batch, then alone), not four.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { laneQueueName, laneQueuePrefix } from '../../contract/index.js';
import { REDIS_URL, testPrefix } from '../helpers/redis.js';
import { suiteProducer } from '../helpers/suite-producer.js';
import { spawnWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

const account = { id: 'acct-crash', tier: 'pro' as const };
const MARKER = 'CRASH-THE-WORKER';

describe('a job that kills its worker process', () => {
  const prefix = testPrefix();
  const renders = mkdtempSync(join(tmpdir(), 'fleet-crash-'));
  const producer = suiteProducer(prefix, { attempts: 3, backoffMs: 50 }, [renders]);

  test('fails E_WORKER_CRASH after killing two workers; the batch-mates it took down with it complete', { timeout: 400_000 }, async () => {
    // Enqueued before any worker runs, so the first worker takes them as one batch (flash batches 4).
    const mates = await Promise.all(['a calm lake', 'a red bicycle', 'paper-cut skyline'].map((prompt, i) => producer().enqueue({ prompt, seed: i, account })));
    const poison = await producer().enqueue({ prompt: `${MARKER} a lighthouse`, seed: 9, account });

    const workers: WorkerProcess[] = [];
    let deaths = 0;
    let settled = false;
    // A supervisor, as `fleet up` or systemd would be: a worker that dies is replaced.
    const startWorker = (): void => {
      const worker = spawnWorkerProcess({ prefix, lanes: 'flash', storeUrl: `file://${renders}`, args: ['--lock-duration', '1000'], env: { FLEET_TEST_HOOK_CRASH_ON_PROMPT: MARKER } });
      workers.push(worker);
      void worker.exited.then((end) => {
        if (end === 'SIGKILL' && !settled) {
          deaths++;
          if (deaths < 5) startWorker();
        }
      });
    };
    startWorker();
    try {
      const views = await Promise.all([...mates, poison].map((r) => producer().waitForResult(r.id, { timeoutMs: 360_000 })));
      settled = true;
      const poisonView = views.at(-1)!;
      // The first worker's last batch is the one its death took down (its "batch start" line is written before the run).
      const firstBatchSize = Number([...workers[0]!.output().matchAll(/"size":(\d+),[^\n]*"msg":"batch start"/g)].at(-1)?.[1]);
      console.log(`worker crash: ${deaths} worker processes killed; poison ${poisonView.state} ${poisonView.error?.code}; mates ${views.slice(0, -1).map((v) => v.state).join(', ')}; the batch that crashed first held ${firstBatchSize} jobs`);

      assert.equal(poisonView.state, 'failed');
      assert.equal(poisonView.error?.code, 'E_WORKER_CRASH', poisonView.error?.message);
      for (const view of views.slice(0, -1)) assert.equal(view.state, 'completed', `${view.id}: ${JSON.stringify(view.error)}`);
      assert.equal(deaths, 2, 'killed in its batch, then once alone');
      assert.equal(firstBatchSize, 4, 'the poison job and its three mates crashed together');

      const queue = new Queue(laneQueueName('flash'), { connection: { url: REDIS_URL }, prefix: laneQueuePrefix(prefix, 'flash') });
      try {
        const stalls = await Promise.all(mates.map(async (m) => (await queue.getJob(m.id))!.stalledCounter));
        assert.ok(stalls.some((n) => n >= 1), `the mates were held by the dead worker (stall counts ${stalls})`);
      } finally {
        await queue.close();
      }
    } catch (error) {
      console.log(`deaths ${deaths}\n` + workers.map((w, i) => `--- worker ${i}\n` + w.output().split('\n').filter((l) => !/"level":20,.*"msg":"(batch start|job completed)"/.test(l)).slice(-25).join('\n')).join('\n'));
      throw error;
    } finally {
      settled = true;
      for (const worker of workers) worker.kill();
    }
  });
});
