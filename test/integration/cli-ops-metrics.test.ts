import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createMetricsRegistry, LANES } from '../../contract/index.js';
import { CanaryMetrics } from '../../cli/canary-metrics.js';
import type { Producer } from '../../producer/index.js';
import { LANE_BATCHING_DEFAULTS } from '../../workers/index.js';
import { startTestIngress } from '../helpers/ingress.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const OPS = fileURLToPath(new URL('../../ops/', import.meta.url));

/** Every `expr` of the dashboard's panels (nested rows included). */
function dashboardExpressions(): string[] {
  const exprs: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if (key === 'expr' && typeof v === 'string') exprs.push(v);
        else walk(v);
      }
    }
  };
  walk(JSON.parse(readFileSync(`${OPS}grafana-dashboard.json`, 'utf8')));
  return exprs;
}

/** Every rule of the alerts file as { alert, expr } (inline `expr:` or a `|` / `>` block). */
function alertRules(): Array<{ alert: string; expr: string }> {
  const lines = readFileSync(`${OPS}prometheus-alerts.yml`, 'utf8').split('\n');
  const rules: Array<{ alert: string; expr: string }> = [];
  let alert = '';
  for (let i = 0; i < lines.length; i++) {
    const name = /^\s*- alert:\s*(\S+)/.exec(lines[i]!);
    if (name) alert = name[1]!;
    const match = /^(\s*)expr:\s*(.*)$/.exec(lines[i]!);
    if (!match) continue;
    const indent = match[1]!.length;
    let expr = match[2]!.trim();
    if (/^[|>][-+]?$/.test(expr)) {
      const block: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > indent)) block.push(lines[++i]!.trim());
      expr = block.join(' ').trim();
    }
    rules.push({ alert, expr });
  }
  return rules;
}

/** Metric names in PromQL: fleet_… identifiers, with the histogram series suffixes taken off. */
function metricNames(exprs: string[]): Set<string> {
  const names = new Set<string>();
  for (const expr of exprs) for (const [name] of expr.matchAll(/fleet_[a-z0-9_]+/g)) names.add(name.replace(/_(bucket|sum|count)$/, ''));
  return names;
}

/** Metric families a registry exposes (`# TYPE name kind`). */
function exposedFamilies(exposition: string): Map<string, string> {
  return new Map([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

describe('ops/: the Grafana dashboard and Prometheus alerts use only metrics a running worker or the ingress export', () => {
  const prefix = testPrefix();
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  let ingress: Awaited<ReturnType<typeof startTestIngress>>;
  let producer: Producer;
  let exposed: Map<string, string>;

  before(async () => {
    fleet = await startTestWorker(prefix, { lanes: ['flash', 'upscale'] });
    ingress = await startTestIngress({ redis: REDIS_URL, prefix });
    producer = await startTestProducer(prefix);
    // A few jobs through the ingress and the worker, one failing, so labelled series exist.
    const accepted = await Promise.all(
      [0, 1, 2].map(async (i) => (await (await ingress.post('/generate', { prompt: `metrics ${i}`, width: 256, height: 256, account: { id: 'm', tier: 'pro' } })).json()) as { id: string }),
    );
    const failing = await producer.enqueue({ prompt: 'upscale', intent: 'upscale', source: { key: 'missing.png' }, account: { id: 'm', tier: 'pro' } });
    for (const id of [...accepted.map((a) => a.id), failing.id]) await producer.waitForResult(id, { timeoutMs: 30_000 });
    await ingress.post('/generate', { prompt: '' });
    const workerText = await fleet.registry.metrics();
    const ingressText = await (await ingress.get('/metrics')).text();
    // The canary controller's own series (`fleet canary run --metrics-port`).
    const canaryRegistry = createMetricsRegistry({ role: 'canary' });
    new CanaryMetrics(canaryRegistry).watch({ plan: { lane: 'flash', model: 'flash-v2', steps: [5, 100] }, step: 0 } as Parameters<CanaryMetrics['watch']>[0]);
    exposed = new Map([...exposedFamilies(workerText), ...exposedFamilies(ingressText), ...exposedFamilies(await canaryRegistry.metrics())]);
  });
  after(async () => {
    await producer.close();
    await ingress.close();
    await fleet.stop();
    await cleanupPrefix(prefix);
  });

  test('every metric the dashboard references is exported', () => {
    const exprs = dashboardExpressions();
    assert.ok(exprs.length >= 15, `the dashboard has ${exprs.length} queries`);
    const used = metricNames(exprs);
    for (const name of ['fleet_queue_depth', 'fleet_end_to_end_seconds', 'fleet_jobs_completed_total', 'fleet_batch_size', 'fleet_vram_in_use_bytes', 'fleet_oom_total', 'fleet_jobs_failed_total', 'fleet_cost_units_total']) {
      assert.ok(used.has(name), `the dashboard should chart ${name}`);
    }
    const missing = [...used].filter((name) => !exposed.has(name));
    assert.deepEqual(missing, [], `not exported: ${missing.join(', ')}`);
    for (const expr of exprs) {
      for (const [, name] of expr.matchAll(/(fleet_[a-z0-9_]+)_bucket/g)) assert.equal(exposed.get(name!), 'histogram', `${name}_bucket needs a histogram`);
    }
  });

  test('every metric the alert rules reference is exported; SLO thresholds match the lane defaults; every lane has a no-worker check', () => {
    const rules = alertRules();
    const used = metricNames(rules.map((r) => r.expr));
    const missing = [...used].filter((name) => !exposed.has(name));
    assert.deepEqual(missing, [], `not exported: ${missing.join(', ')}`);
    for (const alert of ['FleetLaneP95OverSlo', 'FleetOutOfMemory', 'FleetLaneDepthGrowing', 'FleetLaneWithoutWorker']) {
      assert.ok(rules.some((r) => r.alert === alert), `missing alert ${alert}`);
    }
    for (const lane of LANES) {
      const slo = rules.find((r) => r.alert === 'FleetLaneP95OverSlo' && r.expr.includes(`lane="${lane}"`));
      assert.ok(slo, `no p95 SLO alert for ${lane}`);
      assert.equal(Number(/\)\)\)\s*>\s*([\d.]+)/.exec(slo.expr)?.[1]), LANE_BATCHING_DEFAULTS[lane].sloMs / 1000, `${lane} SLO threshold`);
      assert.match(slo.expr, /increase\(fleet_jobs_completed_total\{lane="[a-z]+"\}\[5m\]\)\) >= 20$/, `${lane}: a traffic floor`);
      assert.ok(rules.find((r) => r.alert === 'FleetLaneWithoutWorker')!.expr.includes(`absent(fleet_worker_lane{lane="${lane}"})`));
    }
  });
});
