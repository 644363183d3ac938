import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogger } from '../../contract/index.js';
import { FileStore, FLEET_WORKER_DEFAULTS, LANE_BATCHING_DEFAULTS, resolveFleetWorkerOptions, type FleetWorkerOptions } from '../../workers/index.js';

const base: FleetWorkerOptions = { redisUrl: 'redis://127.0.0.1:6379', store: new FileStore('/tmp/unused'), logger: createLogger({ level: 'silent' }), registry: new Registry() };

test('worker options: every default comes from FLEET_WORKER_DEFAULTS, an undefined field included', () => {
  const resolved = resolveFleetWorkerOptions({ ...base, lockDurationMs: undefined }, 'host-1');
  for (const [name, value] of Object.entries(FLEET_WORKER_DEFAULTS)) assert.deepEqual(resolved[name as keyof typeof resolved], value, name);
  assert.equal(resolved.workerId, 'host-1');
  assert.deepEqual(resolved.batching.large, LANE_BATCHING_DEFAULTS.large);
  assert.equal(resolveFleetWorkerOptions({ ...base, batching: { flash: { maxBatchSize: 8 } } }, 'h').batching.flash.maxBatchSize, 8);
});

test('worker options: every numeric field is checked at construction, with its name', () => {
  const cases: Array<[Partial<FleetWorkerOptions>, RegExp]> = [
    [{ lockDurationMs: 0 }, /lockDurationMs must be an integer >= 1, got 0/],
    [{ lockDurationMs: 1.5 }, /lockDurationMs must be an integer >= 1, got 1.5/],
    [{ shutdownTimeoutMs: Number.NaN }, /shutdownTimeoutMs must be a finite number > 0, got NaN/],
    [{ depthPollMs: 0 }, /depthPollMs must be a finite number > 0, got 0/],
    [{ depthPollMs: Infinity }, /depthPollMs must be a finite number > 0, got Infinity/],
    [{ concurrencyHoldMs: -1 }, /concurrencyHoldMs must be a finite number > 0, got -1/],
    [{ overflowAfterMs: -1 }, /overflowAfterMs must be a finite number >= 0, got -1/],
    [{ overflowBacklog: 0 }, /overflowBacklog must be an integer >= 1, got 0/],
    [{ vramBytes: 0 }, /vramBytes must be a finite number > 0, got 0/],
    [{ vramMarginBytes: -1 }, /vramMarginBytes must be a finite number >= 0, got -1/],
    [{ deviceMemoryPollMs: 0 }, /deviceMemoryPollMs must be a finite number > 0, got 0/],
    [{ fixedConcurrency: 0 }, /fixedConcurrency must be an integer >= 1, got 0/],
    [{ gpu: -1 }, /gpu must be an integer >= 0, got -1/],
    [{ prefix: 'a b' }, /prefix must be 1–64 characters/],
    [{ lanes: [] }, /lanes must name at least one lane/],
    [{ lanes: ['nope' as never] }, /lanes must be one of flash, large, typography, upscale, got nope/],
    [{ lanes: ['flash'], overflowLanes: ['flash'] }, /overflowLanes must not repeat a lane of lanes/],
    [{ allowCpu: true }, /allowCpu applies to a GPU worker/],
    [{ batching: { large: { prefetchBatches: -1 } } }, /batching\.large\.prefetchBatches must be an integer >= 0, got -1/],
    [{ batching: { flash: { maxBatchSize: 0 } } }, /batching\.flash\.maxBatchSize must be an integer >= 1, got 0/],
  ];
  for (const [options, message] of cases) assert.throws(() => resolveFleetWorkerOptions({ ...base, ...options }, 'h'), message);
});
