// The alert rules with the operator's own tool: promtool checks them and runs their unit tests
// (ops/prometheus-alerts.test.yml), checks the fleet's exposition, and fires the OOM alert on the first OOM of a
// real worker, fed from that worker's own /metrics before and after.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createMetricsRegistry, FleetError } from '../../contract/index.js';
import type { Producer } from '../../producer/index.js';
import { loadPipeline, type Pipeline } from '../../workers/pipelines/index.js';
import type { SessionFactory } from '../../workers/engine/onnx-session-factory.js';
import { cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const OPS = fileURLToPath(new URL('../../ops/', import.meta.url));
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const hasPromtool = promtool.status === 0;
const skip = hasPromtool ? false : 'promtool is not installed (Debian: apt-get install prometheus); the alert rules were not checked';

function run(args: string[], input?: string) {
  return spawnSync('promtool', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
}

/** The value of one series in an exposition (`name{labels…} value`), matching every given label. */
function seriesValue(exposition: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('ops/ with promtool', { skip }, () => {
  test('the rules pass promtool check rules, and every alert passes its unit test', () => {
    const check = run(['check', 'rules', join(OPS, 'prometheus-alerts.yml')]);
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const unit = run(['test', 'rules', join(OPS, 'prometheus-alerts.test.yml')]);
    assert.equal(unit.status, 0, unit.stdout + unit.stderr);
    assert.match(unit.stdout, /SUCCESS/);
  });

  test('every alert of the rules file has a unit test', async () => {
    const { readFileSync } = await import('node:fs');
    const alerts = new Set([...readFileSync(join(OPS, 'prometheus-alerts.yml'), 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]!));
    const tested = new Set([...readFileSync(join(OPS, 'prometheus-alerts.test.yml'), 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]!));
    assert.deepEqual([...alerts].filter((a) => !tested.has(a)), []);
  });

  test("the ingress's exposition passes promtool check metrics (no default gauge named like a counter)", async () => {
    const text = await createMetricsRegistry({ role: 'ingress' }).metrics();
    const checked = run(['check', 'metrics'], text);
    assert.equal(checked.status, 0, checked.stdout + checked.stderr);
    assert.equal(checked.stdout + checked.stderr, '');
  });
});

describe("the OOM alert fires on a real worker's first OOM", { skip }, () => {
  const prefix = testPrefix();
  let producer: Producer;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  let dir: string;

  /** flash-v1 as loaded, except that its first batch runs out of memory (as a GPU's allocator would report it). */
  async function oomOnce(model: Parameters<typeof loadPipeline>[0], sessions: SessionFactory): Promise<Pipeline> {
    const pipeline = await loadPipeline(model, { sessionFactory: sessions });
    if (pipeline.kind !== 'diffusion') return pipeline;
    let failed = false;
    return {
      kind: 'diffusion',
      model: pipeline.model,
      release: () => pipeline.release(),
      run: async (items) => {
        if (!failed) {
          failed = true;
          throw new FleetError('E_OOM', 'CUDA out of memory (test)', { cause: new Error('CUDA failure 2: out of memory') });
        }
        return pipeline.run(items);
      },
    };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-promtool-'));
    fleet = await startTestWorker(prefix, { lanes: ['flash'], pipelineLoader: oomOnce });
    producer = await startTestProducer(prefix);
  });
  after(async () => {
    await producer?.close();
    await fleet?.stop();
    await cleanupPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the counter exists at 0 before the OOM, reads 1 after it, and promtool fires FleetOutOfMemory on those two scrapes', async () => {
    const before = await fleet.registry.metrics();
    assert.equal(seriesValue(before, 'fleet_oom_total', { model: 'flash-v1' }), 0, 'fleet_oom_total{model="flash-v1"} exists at 0 from the start');
    assert.equal(seriesValue(before, 'fleet_jobs_failed_total', { lane: 'flash', model: 'flash-v1', code: 'E_INFERENCE' }), 0, 'failures by code exist at 0');
    const checked = run(['check', 'metrics'], before);
    assert.equal(checked.stdout + checked.stderr, '', "the worker's exposition passes promtool check metrics");

    const view = await producer.waitForResult((await producer.enqueue({ prompt: 'an image that runs out of memory once', width: 256, height: 256, account: { id: 'a1', tier: 'pro' } })).id, { timeoutMs: 60_000 });
    assert.equal(view.state, 'completed', JSON.stringify(view.error));
    const afterOom = await fleet.registry.metrics();
    const count = seriesValue(afterOom, 'fleet_oom_total', { model: 'flash-v1' });
    assert.equal(count, 1);

    // Scraped every 15 s: the value before for a minute, then the value after.
    const values = [...Array(4).fill(0), ...Array(16).fill(count)].join(' ');
    const unit = join(dir, 'oom.test.yml');
    writeFileSync(
      unit,
      [
        'rule_files:',
        `  - ${join(OPS, 'prometheus-alerts.yml')}`,
        'evaluation_interval: 15s',
        'tests:',
        '  - interval: 15s',
        '    input_series:',
        `      - series: 'fleet_oom_total{model="flash-v1",role="worker"}'`,
        `        values: '${values}'`,
        '    alert_rule_test:',
        '      - eval_time: 45s',
        '        alertname: FleetOutOfMemory',
        '        exp_alerts: []',
        '      - eval_time: 2m',
        '        alertname: FleetOutOfMemory',
        '        exp_alerts:',
        '          - exp_labels: { severity: warning, model: flash-v1 }',
        '            exp_annotations:',
        '              summary: "flash-v1 ran out of GPU memory 1 times in 5 min"',
        `              description: "Batches are bisected and retried, so jobs still finish, slower. Lower the lane's maxBatchSize or the worker's --vram budget, or move the model to a larger GPU."`,
        '',
      ].join('\n'),
    );
    const fired = run(['test', 'rules', unit]);
    assert.equal(fired.status, 0, fired.stdout + fired.stderr);
  });
});
