import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FleetError } from '../../contract/index.js';
import type { Producer } from '../../producer/index.js';
import { loadPipeline, type Pipeline, type SessionFactory } from '../../workers/index.js';
import { cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-poison', tier: 'pro' as const };

/**
 * The real ONNX pipeline, except that it crashes on any batch holding a prompt with POISON (as a model
 * can crash on one input): the worker must isolate that job and complete its batch-mates.
 */
async function crashingOnPoison(entry: Parameters<typeof loadPipeline>[0], sessions: SessionFactory): Promise<Pipeline> {
  const pipeline = await loadPipeline(entry, { sessionFactory: sessions });
  if (pipeline.kind !== 'diffusion') return pipeline;
  let crashes = 0;
  return Object.assign(Object.create(pipeline) as Pipeline, {
    kind: 'diffusion',
    model: pipeline.model,
    release: () => pipeline.release(),
    run: async (items: Parameters<typeof pipeline.run>[0]) => {
      if (items.some((item) => item.prompt.includes('POISON'))) {
        crashes++;
        throw new FleetError('E_INFERENCE', `model ${pipeline.model.name} crashed (crash #${crashes})`);
      }
      return pipeline.run(items);
    },
  });
}

describe('a poison job', () => {
  const prefix = testPrefix();
  let producer: Producer;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;

  before(async () => {
    fleet = await startTestWorker(prefix, { lanes: ['flash'], pipelineLoader: crashingOnPoison, batching: { flash: { maxLatencyMs: 500 } }, batcherOverrides: { flushWhenIdle: false } });
    producer = await startTestProducer(prefix, { attempts: 3, backoffMs: 50 });
  });
  after(async () => {
    await producer.close();
    await fleet.stop();
    await cleanupPrefix(prefix);
  });

  test('ends failed after its attempts with its code; its batch-mates complete; the worker keeps running', async () => {
    const request = (prompt: string) => ({ prompt, width: 512, height: 512, account });
    const receipts = await Promise.all([
      producer.enqueue(request('a calm lake')),
      producer.enqueue(request('POISON pill')),
      producer.enqueue(request('a red bicycle')),
      producer.enqueue(request('paper-cut skyline')),
    ]);
    const views = await Promise.all(receipts.map((r) => producer.waitForResult(r.id, { timeoutMs: 60_000 })));
    const [lake, poison, bicycle, skyline] = views;
    assert.equal(poison!.state, 'failed');
    assert.equal(poison!.error?.code, 'E_INFERENCE');
    assert.equal(poison!.attempts, 3, 'retried up to its attempts');
    assert.match(poison!.error!.message, /crashed \(crash #\d+\)/, "the runtime's own words are kept in the failed reason");
    const logged = fleet.logs.map((l) => JSON.parse(l) as { jobId?: string; final?: boolean; err?: { message?: string } }).find((l) => l.jobId === poison!.id && l.final === true);
    assert.match(logged?.err?.message ?? '', /crashed/, 'the final failure is logged with its err');
    for (const view of [lake, bicycle, skyline]) {
      assert.equal(view!.state, 'completed');
      assert.equal(view!.attempts, 1, 'batch-mates ran once');
    }
    assert.ok(lake!.result!.batch!.size >= 2, `the poison job shared a batch (size ${lake!.result!.batch!.size})`);
    assert.equal(fleet.worker.status, 'running');
    const after = await producer.waitForResult((await producer.enqueue(request('after the poison'))).id, { timeoutMs: 30_000 });
    assert.equal(after.state, 'completed');
  });
});
