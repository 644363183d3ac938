import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPlacement, parsePlacement } from '../../scripts/bench/scenario-bench.js';
import { GiB, SimulatedDevice } from '../../scripts/bench/simulated-gpu.js';

test('scenario placement: one GPU serves every lane; two put large on its own GPU; every lane is placed', () => {
  assert.deepEqual(defaultPlacement(1), [['flash', 'large', 'typography', 'upscale']]);
  assert.deepEqual(defaultPlacement(2), [['flash', 'typography', 'upscale'], ['large']]);
  assert.deepEqual(defaultPlacement(4), [['flash', 'typography', 'upscale'], ['flash', 'typography', 'upscale'], ['large'], ['large']]);
  assert.throws(() => defaultPlacement(0), /gpus must be an integer >= 1, got 0/);
});

test('scenario placement: parsed from `lanes;lanes`, refusing unknown lanes and unplaced ones', () => {
  assert.deepEqual(parsePlacement('flash, typography,upscale;large'), [['flash', 'typography', 'upscale'], ['large']]);
  assert.throws(() => parsePlacement('flash,typography,upscale'), /must place lane large/);
  assert.throws(() => parsePlacement('flash,typography,upscale;large;'), /at least one lane/);
  assert.throws(() => parsePlacement('flash,typo,upscale;large'), /unknown lane "typo"/);
});

test('simulated device: an out-of-memory error names its device', () => {
  const device = new SimulatedDevice({ capacityBytes: 8 * GiB, deviceIndex: 1 });
  assert.throws(() => device.allocate(9 * GiB), /\(GPU 1; 8\.00 GiB total capacity/);
});
