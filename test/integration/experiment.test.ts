// `fleet experiment`: two real models, ten prompts through a real worker on real Redis; the report, the contact
// sheet, the record in Redis; a rerun reproduces every image byte for byte; experiment jobs wait behind production.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { ExperimentStore, type ExperimentRecord } from '../../cli/experiment-record.js';
import { writeExperimentReport } from '../../cli/experiment-report.js';
import { runExperiment } from '../../cli/experiment-runner.js';
import { minuteOf, modelStatsKey } from '../../contract/index.js';
import { createProducer, LaneQueues } from '../../producer/index.js';
import { CompiledPolicy, staticPolicySource } from '../../router/index.js';
import { FileStore } from '../../workers/index.js';
import { writeSmallFlashModel } from '../helpers/canary-models.js';
import { runFleet } from '../helpers/fleet-cli.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';

const PROMPTS = ['a red fox in the snow', 'a quiet harbour at dawn', 'a lighthouse on a cliff', 'a bowl of lemons', 'a city tram at night', 'a field of poppies', 'a violin on a chair', 'a paper boat', 'a desert road', 'an owl in a barn'];

describe('fleet experiment: two real models, ten prompts, on the real fleet', { concurrency: 1 }, () => {
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let dir: string;
  let store: FileStore;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  let first: ExperimentRecord;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleet-experiment-'));
    await writeSmallFlashModel(join(dir, 'models'), 'flash-a', 21);
    await writeSmallFlashModel(join(dir, 'models'), 'flash-b', 23, 2);
    store = new FileStore(join(dir, 'renders'));
    fleet = await startTestWorker(prefix, { modelsDir: join(dir, 'models'), lanes: ['flash'], store });
    await writeFile(join(dir, 'prompts.jsonl'), PROMPTS.map((prompt) => JSON.stringify({ prompt, width: 64, height: 64, format: 'png' })).join('\n'));
  });
  after(async () => {
    await fleet?.stop();
    redis.disconnect();
    await cleanupPrefix(prefix);
    await rm(dir, { recursive: true, force: true });
  });

  test('run writes the Markdown and JSON report and a contact sheet, and keeps the experiment in Redis', async () => {
    const out = join(dir, 'report');
    const args = ['experiment', 'run', '--lane', 'flash', '--models', 'flash-a,flash-b', '--prompts', join(dir, 'prompts.jsonl'), '--seeds', '2', '--name', 'a-vs-b', '--out', out, '--store', `file://${join(dir, 'renders')}`, '--prefix', prefix, '--json'];
    const run = await runFleet(args, { timeoutMs: 120_000 });
    assert.equal(run.code, 0, run.stderr);
    const { id } = JSON.parse(run.stdout) as { id: string };
    first = (await new ExperimentStore(redis, prefix).get(id))!;
    assert.equal(first.cells.length, 10 * 2 * 2);
    assert.deepEqual(first.seeds, [1, 2]);
    assert.equal(first.inputs.length, 10);
    assert.equal(first.modelVersions['flash-b']?.costUnitsPerImage, 2, 'the models as the workers described them');
    for (const model of ['flash-a', 'flash-b']) {
      const s = first.summary[model]!;
      assert.equal(s.completed, 20, `${model}: every job completed`);
      assert.ok(s.endToEndMs.p50! > 0 && s.endToEndMs.p95! >= s.endToEndMs.p50!, `${model} latency`);
      assert.ok(s.inferenceMs.p95! > 0);
    }
    assert.equal(first.summary['flash-b']!.costUnits.total, 40);
    assert.notEqual(first.cells[0]!.image!.sha256, first.cells[1]!.image!.sha256, 'the two models render differently');

    const markdown = await readFile(join(out, 'report.md'), 'utf8');
    assert.match(markdown, /\| flash-a \| 20 \| 0 \| — \| \d+ ms \| \d+ ms \|/);
    assert.equal((JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as ExperimentRecord).id, id);
    const sheet = await sharp(await readFile(join(out, 'contact-sheet.png'))).metadata();
    assert.equal(sheet.format, 'png');
    assert.ok(sheet.height! > 20 * 160 && sheet.width! > 2 * 160, `a row per prompt and seed, a column per model (${sheet.width}×${sheet.height})`);

    const list = await runFleet(['experiment', 'list', '--prefix', prefix, '--json']);
    assert.deepEqual((JSON.parse(list.stdout) as Array<{ id: string }>).map((r) => r.id), [id]);
    // Experiment jobs count in no per-model series: a canary of these models is judged on production only.
    assert.equal(await redis.exists(modelStatsKey(prefix, 'flash', 'flash-a', minuteOf(first.createdAt))), 0);
  });

  test('rerun renders every image again byte for byte (fixed seeds, deterministic pipelines)', async () => {
    const again = await runExperiment({ redis, prefix, store, lane: first.lane, models: first.models, inputs: first.inputs, seeds: first.seeds, rerunOf: first, concurrency: 4, by: 'test' });
    assert.deepEqual(again.reproduced, { identical: 40, differing: 0, missing: 0 });
    assert.notEqual(again.cells[0]!.jobId, first.cells[0]!.jobId, 'new jobs, not the old results');
    const paths = await writeExperimentReport(again, store, join(dir, 'rerun'));
    assert.match(await readFile(paths.markdown, 'utf8'), /40 images identical byte for byte, 0 differing, 0 missing/);
  });

  test('experiment jobs wait behind production jobs of every tier', async () => {
    const queues = new LaneQueues(redis, prefix);
    const queue = queues.queue('flash');
    await queue.pause();
    try {
      const experiment = createProducer({ redis: REDIS_URL, prefix, policy: staticPolicySource(new CompiledPolicy({ name: 'x', typographicWords: [], rules: [{ id: 'experiment:order', lane: 'flash', model: 'flash-a' }] }, 0)) });
      const production = createProducer({ redis: REDIS_URL, prefix, policy: staticPolicySource(new CompiledPolicy({ name: 'p', typographicWords: [], rules: [{ id: 'all', lane: 'flash', model: 'flash-a' }] }, 1)) });
      const background = await experiment.enqueue({ prompt: 'later', width: 64, height: 64, account: { id: 'x', tier: 'free' } }, { background: true });
      const free = await production.enqueue({ prompt: 'first', width: 64, height: 64, account: { id: 'y', tier: 'free' } });
      const waiting = (await queue.getJobs(['prioritized'], 0, -1, true)).map((j) => j.id);
      assert.deepEqual(waiting, [free.id, background.id], 'BullMQ hands out the free-tier job first');
      await Promise.all([experiment.close(), production.close()]);
    } finally {
      await queue.resume();
      await queues.close();
    }
  });

  test("prompts with text: the typography lane's OCR report gives each model its CER and pass rate", async () => {
    await writeSmallFlashModel(join(dir, 'models'), 'type-a', 31, 4, ['typography']);
    await writeSmallFlashModel(join(dir, 'models'), 'type-b', 33, 4, ['typography']);
    const typography = await startTestWorker(prefix, { modelsDir: join(dir, 'models'), lanes: ['typography'], store });
    try {
      const inputs = [{ prompt: 'a sale poster', text: { content: 'SALE' }, width: 256, height: 128 }, { prompt: 'a shop sign', text: { content: 'OPEN' }, width: 256, height: 128 }];
      const record = await runExperiment({ redis, prefix, store, lane: 'typography', models: ['type-a', 'type-b'], inputs, seeds: [1], by: 'test' });
      for (const model of record.models) {
        const s = record.summary[model]!;
        assert.equal(s.text.checked, 2, `${model}: both prompts OCR-checked`);
        assert.ok(s.text.meanCer !== null && s.text.meanCer >= 0 && s.text.meanCer <= 1);
        assert.ok(s.text.passRate !== null);
      }
      assert.ok(record.cells.every((c) => c.text !== undefined && c.text.expected === (c.input === 0 ? 'SALE' : 'OPEN')));
      assert.match((await readFile((await writeExperimentReport(record, store, join(dir, 'typography'))).markdown, 'utf8')), /\| type-a \| 2 \| 0 \|.*\| 2 \| [\d.]+ \| [\d.]+ % \|/);
    } finally {
      await typography.stop();
    }
  });
});
