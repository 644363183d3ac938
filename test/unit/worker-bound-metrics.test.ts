import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { BoundCounter, BoundHistogram } from '../../workers/metrics/bound-metrics.js';

const BUCKETS = [0.005, 0.01, 0.1, 1, 5];
const VALUES = [0, 0.004, 0.005, 0.0051, 0.2, 1, 4.99, 5, 7.5, 120];

/** The exposition of one registry with the metric names made equal. */
async function exposition(registry: Registry, rename: string): Promise<string> {
  return (await registry.metrics()).replaceAll(rename, 'm');
}

describe('BoundHistogram and BoundCounter', () => {
  test('write the same exposition as prom-client for the same observations, default labels included', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    for (const registry of [ours, theirs]) registry.setDefaultLabels({ role: 'worker' });
    const boundHistogram = new BoundHistogram({ name: 'ours_seconds', help: 'h', labelNames: ['lane'], buckets: BUCKETS, registers: [ours] });
    const histogram = new Histogram({ name: 'theirs_seconds', help: 'h', labelNames: ['lane'], buckets: BUCKETS, registers: [theirs] });
    const boundCounter = new BoundCounter({ name: 'ours_total', help: 'c', labelNames: ['lane', 'model'], registers: [ours] });
    const counter = new Counter({ name: 'theirs_total', help: 'c', labelNames: ['lane', 'model'], registers: [theirs] });
    for (const [i, value] of VALUES.entries()) {
      const lane = i % 3 === 0 ? 'flash' : 'large';
      boundHistogram.labels({ lane }).observe(value);
      histogram.observe({ lane }, value);
      boundCounter.labels({ lane, model: `m${i % 2}` }).inc(i);
      counter.inc({ lane, model: `m${i % 2}` }, i);
    }
    const expected = (await exposition(theirs, 'theirs')).split('\n');
    const actual = (await exposition(ours, 'ours')).split('\n');
    assert.deepEqual(actual, expected);
    assert.ok(actual.some((line) => line === 'm_seconds_bucket{le="+Inf",role="worker",lane="large"} 6'), actual.join('\n'));
  });

  test('a child is bound once per label set; bad input is refused', () => {
    const registry = new Registry();
    const h = new BoundHistogram({ name: 'h_seconds', help: 'h', labelNames: ['lane'], buckets: BUCKETS, registers: [registry] });
    assert.equal(h.labels({ lane: 'flash' }), h.labels({ lane: 'flash' }));
    assert.notEqual(h.labels({ lane: 'flash' }), h.labels({ lane: 'large' }));
    assert.throws(() => h.labels({} as { lane: string }), /label lane is missing/);
    assert.throws(() => h.labels({ lane: 'flash' }).observe(Number.NaN), /not a valid number/);
    const c = new BoundCounter({ name: 'c_total', help: 'c', labelNames: ['lane'], registers: [registry] });
    assert.throws(() => c.labels({ lane: 'flash' }).inc(-1), /only goes up/);
    assert.throws(() => new BoundCounter({ name: 'c_total', help: 'c', labelNames: ['lane'], registers: [registry] }), /already been registered/);
  });

  test('a reset zeroes the series; children bound before it go on counting', async () => {
    const registry = new Registry();
    const c = new BoundCounter({ name: 'c_total', help: 'c', labelNames: ['lane'], registers: [registry] });
    const flash = c.labels({ lane: 'flash' });
    flash.inc(5);
    registry.resetMetrics();
    assert.match(await registry.metrics(), /c_total\{lane="flash"\} 0/);
    flash.inc(2);
    assert.match(await registry.metrics(), /c_total\{lane="flash"\} 2/);
  });
});
