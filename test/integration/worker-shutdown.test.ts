import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Producer } from '../../producer/index.js';
import { loadPipeline, type Pipeline, type SessionFactory } from '../../workers/index.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { MODELS_DIR, startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-shutdown', tier: 'pro' as const };

describe('SIGTERM during a batch loses nothing', () => {
  const prefix = testPrefix();
  const renders = mkdtempSync(join(tmpdir(), 'fleet-shutdown-'));
  let producer: Producer;

  before(async () => {
    producer = await startTestProducer(prefix);
  });
  after(async () => {
    await producer.close();
    await cleanupPrefix(prefix);
    rmSync(renders, { recursive: true, force: true });
  });

  test('the worker finishes the batches it holds, exits 0, and leaves the rest queued for the next worker', async () => {
    const child = spawn(
      process.execPath,
      ['bin/fleet.js', 'worker', '--redis', REDIS_URL, '--prefix', prefix, '--lanes', 'large', '--store', `file://${renders}`, '--models', MODELS_DIR, '--metrics-port', '0'],
      { env: { ...process.env, LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!output.includes('worker running')) {
        assert.ok(Date.now() < deadline, `worker did not start: ${output.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const ids = [];
      for (let i = 0; i < 12; i++) ids.push((await producer.enqueue({ prompt: `harbor at dusk ${i}`, intent: 'export', seed: i, account })).id);
      while (!output.includes('batch start')) {
        assert.ok(Date.now() < deadline, 'no batch started');
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output.slice(-2000));
      assert.match(output, /draining/);

      const states = await Promise.all(ids.map(async (id) => (await producer.getJob(id)).state));
      assert.ok(!states.includes('active'), `no job left active: ${states}`);
      assert.ok(!states.includes('failed'), `no job failed: ${states}`);
      const completedByFirst = states.filter((s) => s === 'completed').length;
      assert.ok(completedByFirst >= 1, 'the batch in flight completed');

      const next = await startTestWorker(prefix, { lanes: ['large'] });
      try {
        const views = await Promise.all(ids.map((id) => producer.waitForResult(id, { timeoutMs: 60_000 })));
        assert.deepEqual(views.map((v) => v.state), ids.map(() => 'completed'));
        assert.ok(views.every((v) => v.attempts === 1), 'every job ran exactly once');
      } finally {
        await next.stop();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  test('a batch that hangs past the shutdown deadline is let go: stop() returns, and another worker completes the job', async () => {
    const hanging = async (entry: Parameters<typeof loadPipeline>[0], sessions: SessionFactory): Promise<Pipeline> => {
      const pipeline = await loadPipeline(entry, { sessionFactory: sessions });
      if (pipeline.kind !== 'diffusion') return pipeline;
      return { kind: 'diffusion', model: pipeline.model, release: () => pipeline.release(), run: () => new Promise(() => {}) };
    };
    const stuck = await startTestWorker(prefix, { lanes: ['flash'], pipelineLoader: hanging, shutdownTimeoutMs: 1000, lockDurationMs: 1000 });
    const receipt = await producer.enqueue({ prompt: 'a model that never answers', seed: 5, account });
    const deadline = Date.now() + 20_000;
    while ((await producer.getJob(receipt.id)).state !== 'active') {
      assert.ok(Date.now() < deadline, 'the job never became active');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await stuck.stop();
    assert.ok(Date.now() - started < 8000, `stop() took ${Date.now() - started} ms`);
    const next = await startTestWorker(prefix, { lanes: ['flash'], lockDurationMs: 1000 });
    try {
      const view = await producer.waitForResult(receipt.id, { timeoutMs: 30_000 });
      assert.equal(view.state, 'completed');
    } finally {
      await next.stop();
    }
  });
});
