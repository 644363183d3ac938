import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDurationMs, formatDuration } from '../../cli/duration.js';
import type { FleetStatus, LaneStatus } from '../../cli/fleet-status.js';
import { fitToWidth, sparkline } from '../../cli/sparkline.js';
import { cutToWidth, renderWatchFrame, visibleLength } from '../../cli/watch-screen.js';
import { LANES } from '../../contract/index.js';

function lane(name: (typeof LANES)[number], n: number): LaneStatus {
  return {
    lane: name,
    paused: name === 'large',
    depth: { waiting: 123_456 * n, prioritized: 99_999, active: 4_096, delayed: 77_777, failed: 1_234_567, completed: 9_999_999 },
    perMinute: { completed: 12_345.67, failed: 3 },
    totals: { completed: 1, failed: 0, batches: 1, batchItems: 4 },
    meanBatchSize: 3.75,
    endToEndMs: { p50: 850, p95: 123_456, p99: 999_999, count: 10 },
    queueWaitMs: { p50: 1, p95: 2, p99: 3, count: 10 },
    p95History: Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? null : i * 100)),
  };
}

function status(workers: number): FleetStatus {
  return {
    prefix: 'a-rather-long-prefix-name-for-a-fleet-0123456789',
    at: Date.UTC(2026, 0, 1, 12, 0, 0),
    windowMs: 300_000,
    policyVersion: 1234,
    lanes: LANES.map((l, i) => lane(l, i + 1)),
    workers: Array.from({ length: workers }, (_, i) => ({
      id: `gpu-host-with-a-very-long-name-${i}-1234567`,
      host: 'h',
      pid: i,
      gpu: i,
      executionProvider: 'cuda',
      lanes: ['flash', 'large', 'typography', 'upscale'] as const,
      vramBudgetBytes: 80 * 2 ** 30,
      vramInUseBytes: 61.5 * 2 ** 30,
      startedAt: 0,
      seenAt: 0,
      state: 'draining' as const,
    })),
  };
}

describe('fleet watch screen', () => {
  test('fits 80×24 whatever the numbers, ids and number of workers', () => {
    const depth = new Map(LANES.map((l) => [l, Array.from({ length: 500 }, (_, i) => (i * 37) % 1000)]));
    for (const workers of [0, 1, 3, 40]) {
      for (const notice of [undefined, 'Redis: Connection is closed; retrying']) {
        const lines = renderWatchFrame(status(workers), depth, { width: 80, height: 24, ...(notice ? { notice } : {}) });
        assert.ok(lines.length <= 24, `${lines.length} lines with ${workers} workers`);
        for (const line of lines) assert.ok(visibleLength(line) <= 80, `too wide (${visibleLength(line)}): ${line}`);
        if (workers > 4) assert.ok(lines.some((l) => /more \(fleet status lists all\)/.test(l)));
      }
    }
  });

  test('colours stay within the width and are closed', () => {
    const lines = renderWatchFrame(status(2), new Map(), { width: 80, height: 24, colour: true });
    assert.ok(lines.some((l) => l.includes('\u001b[33m')), 'paused lane in yellow');
    for (const line of lines) assert.ok(visibleLength(line) <= 80);
    assert.equal(cutToWidth('\u001b[31mabcdef\u001b[39m', 3), '\u001b[31mabc\u001b[0m');
  });

  test('sparklines scale to the largest value and mark missing data', () => {
    assert.equal(sparkline([0, 1, 2, 4, 8]), '▁▂▃▅█');
    assert.equal(sparkline([null, 0, 8], { ascii: true }), ' _#');
    assert.deepEqual(fitToWidth([1, 2], 4), [null, null, 1, 2]);
    assert.deepEqual(fitToWidth([1, 5, 2, 2, 9, 0], 3), [5, 2, 9], 'peaks survive shrinking');
  });

  test('durations', () => {
    assert.equal(parseDurationMs('5m'), 300_000);
    assert.equal(parseDurationMs('1h30m'), 5_400_000);
    assert.equal(parseDurationMs('200ms'), 200);
    assert.equal(parseDurationMs('90'), 90_000);
    assert.throws(() => parseDurationMs('5 minutes'), /not a duration/);
    assert.throws(() => parseDurationMs('m5'), /not a duration/);
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(1500), '1.5s');
  });
});
