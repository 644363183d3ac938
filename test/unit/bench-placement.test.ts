import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPlacement, parsePlacement } from '../../scripts/bench/scenario-bench.js';
import { GiB, SimulatedDevice } from '../../scripts/bench/simulated-gpu.js';

const mixed = { lanes: ['flash', 'typography', 'upscale'], overflow: ['large'] };
const large = { lanes: ['large'], overflow: [] };

test('scenario placement: one GPU serves every lane; two put large on its own GPU and as overflow on the other', () => {
  assert.deepEqual(defaultPlacement(1), [{ lanes: ['flash', 'large', 'typography', 'upscale'], overflow: [] }]);
  assert.deepEqual(defaultPlacement(2), [mixed, large]);
  assert.deepEqual(defaultPlacement(4), [mixed, mixed, large, large]);
  assert.throws(() => defaultPlacement(0), /gpus must be an integer >= 1, got 0/);
});

test('scenario placement: parsed from `lanes;lanes` with `~` before overflow lanes, refusing unknown lanes and unplaced ones', () => {
  assert.deepEqual(parsePlacement('flash, typography,upscale;large'), [{ lanes: ['flash', 'typography', 'upscale'], overflow: [] }, large]);
  assert.deepEqual(parsePlacement('flash,typography,upscale,~large;large'), [mixed, large]);
  assert.throws(() => parsePlacement('flash,typography,upscale,~large'), /must place lane large/);
  assert.throws(() => parsePlacement('flash,typography,upscale;large;'), /at least one lane/);
  assert.throws(() => parsePlacement('flash,typography,upscale;~large'), /at least one lane of its own/);
  assert.throws(() => parsePlacement('flash,typo,upscale;large'), /unknown lane "typo"/);
});

test('simulated device: an out-of-memory error names its device', () => {
  const device = new SimulatedDevice({ capacityBytes: 8 * GiB, deviceIndex: 1 });
  assert.throws(() => device.allocate(9 * GiB), /\(GPU 1; 8\.00 GiB total capacity/);
});
