import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOutOfMemoryError } from '../../batching/index.js';
import { GiB, SimulatedDevice, SimulatedOutOfMemoryError } from '../../scripts/bench/simulated-gpu.js';

test('simulated device: weights and activations count against capacity; what does not fit is refused whole', () => {
  const device = new SimulatedDevice({ capacityBytes: 8 * GiB });
  device.allocate(5 * GiB);
  device.allocate(2 * GiB);
  assert.throws(() => device.allocate(2 * GiB), (error: unknown) => error instanceof SimulatedOutOfMemoryError && isOutOfMemoryError(error));
  const stats = device.stats();
  assert.equal(stats.usedBytes, 7 * GiB, 'a refused allocation reserves nothing');
  assert.equal(stats.peakBytes, 7 * GiB);
  assert.equal(stats.demandPeakBytes, 9 * GiB);
  assert.equal(stats.oom, 1);
  device.free(2 * GiB);
  device.allocate(3 * GiB);
  assert.equal(device.stats().usedBytes, 8 * GiB, 'exactly the capacity fits');
  assert.throws(() => device.free(9 * GiB), RangeError);
});

test('simulated device: a batch holds its activations while it runs and frees them after; an OOM batch frees nothing it did not get', async () => {
  const device = new SimulatedDevice({ capacityBytes: 8 * GiB });
  device.allocate(6 * GiB);
  const running = device.run(20, 1.5 * GiB);
  assert.equal(device.stats().usedBytes, 7.5 * GiB);
  await assert.rejects(device.run(20, 1 * GiB), (error: unknown) => (error as { code?: string }).code === 'E_OOM' && /CUDA out of memory/.test((error as Error).message));
  await running;
  assert.equal(device.stats().usedBytes, 6 * GiB);
  await device.run(5, 2 * GiB);
  assert.equal(device.stats().usedBytes, 6 * GiB);
  assert.equal(device.stats().oom, 1);
});

test('simulated device: batches running together share the device (no throughput from overlap) and busy time counts once', async () => {
  const device = new SimulatedDevice({ capacityBytes: 8 * GiB });
  const started = performance.now();
  await Promise.all([device.run(60, 0), device.run(60, 0)]);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 115, `two 60 ms batches side by side take ~120 ms, took ${elapsed.toFixed(1)}`);
  const stats = device.stats();
  assert.ok(stats.busyMs >= 115 && stats.busyMs <= elapsed + 1, `busy ${stats.busyMs} within the ${elapsed} ms window`);
});
