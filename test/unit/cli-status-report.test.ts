import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FleetStatus } from '../../cli/fleet-status.js';
import { renderStatus, STATUS_COLUMNS } from '../../cli/status-report.js';
import type { WorkerInfo } from '../../workers/index.js';

const GiB = 1024 ** 3;

function worker(overrides: Partial<WorkerInfo>): WorkerInfo {
  return {
    id: 'ip-10-200-30-40.eu-west-1.compute.internal-4194303-gpu7',
    host: 'ip-10-200-30-40',
    pid: 4194303,
    gpu: 7,
    executionProvider: 'cuda:7 (cpu allowed)',
    lanes: ['flash', 'large', 'typography', 'upscale'],
    overflowLanes: ['large'],
    models: [],
    vramBudgetBytes: 23 * GiB,
    vramInUseBytes: 11.5 * GiB,
    deviceMemory: { usedBytes: 20.25 * GiB, totalBytes: 24 * GiB, peakUsedBytes: 22 * GiB },
    engineRestarts: 12,
    startedAt: 0,
    seenAt: 0,
    state: 'draining',
    ...overrides,
  };
}

function status(workers: WorkerInfo[]): FleetStatus {
  const summary = { p50: 1234.5, p95: 9876.4, p99: 12345.7, count: 12345 };
  return {
    prefix: 'fleet',
    at: Date.UTC(2025, 0, 1),
    windowMs: 300_000,
    policyVersion: 12,
    lanes: (['flash', 'large', 'typography', 'upscale'] as const).map((lane) => ({
      lane,
      paused: false,
      depth: { waiting: 12345, prioritized: 12345, active: 123, delayed: 1234, failed: 12345, completed: 123456 },
      perMinute: { completed: 123.45, failed: 1.23 },
      totals: { completed: 1, failed: 1, batches: 1, batchItems: 1 },
      meanBatchSize: 3.25,
      endToEndMs: summary,
      queueWaitMs: summary,
    })),
    workers,
  };
}

test('fleet status names each loaded model with its provider, and a failed load with its error, within 100 columns', () => {
  const text = renderStatus(
    status([
      worker({
        models: [
          { name: 'large-v1', provider: 'failed', error: 'model /models/large-v1/unet/model.onnx could not be loaded on CUDA device 7; the next load tries again: CUDA failure 2: out of memory' },
          { name: 'flash-v1', provider: 'cuda' },
          { name: 'a-model-with-a-very-long-name-v12', provider: 'cuda+cpu' },
        ],
      }),
      worker({ id: 'cpu-box-12', gpu: null, executionProvider: 'cpu', lanes: ['flash'], overflowLanes: undefined, deviceMemory: undefined, models: [{ name: 'flash-v1', provider: 'cpu' }] }),
    ]),
  );
  const widest = Math.max(...text.split('\n').map((line) => line.length));
  assert.ok(widest <= STATUS_COLUMNS, `widest line ${widest} columns:\n${text}`);
  assert.match(text, /large-v1 +│ failed/);
  assert.match(text, /│ model \/models\/large-v1\/unet\/model\.onnx could/);
  assert.match(text, /out of +│\n.*│ memory/, "the runtime's words are shown");
  assert.match(text, /flash-v1 +│ cuda /);
  assert.match(text, /flash-v1 +│ cpu /);
  assert.match(text, /cuda\+cpu/);
  assert.match(text, /20\.3GiB \//);
  assert.match(text, /…[\w.-]*-4194303-gpu7/, 'a long worker id keeps its end (pid, GPU)');
});
