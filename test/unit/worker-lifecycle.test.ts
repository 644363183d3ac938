import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeError, FleetError, findErrorWithCode } from '../../contract/index.js';
import { WORKER_TRANSITIONS, WorkerLifecycle, type WorkerState } from '../../workers/index.js';

test('a worker goes starting → running → draining → stopped, and refuses every other transition', () => {
  const states: WorkerState[] = ['starting', 'running', 'draining', 'stopped'];
  const allowed = new Set(['starting>running', 'starting>draining', 'starting>stopped', 'running>draining', 'draining>stopped']);
  for (const from of states) for (const to of states) assert.equal(WORKER_TRANSITIONS[from].includes(to), allowed.has(`${from}>${to}`), `${from} → ${to}`);
  const lifecycle = new WorkerLifecycle();
  assert.equal(lifecycle.state, 'starting');
  lifecycle.moveTo('running');
  assert.throws(() => lifecycle.moveTo('running'), /a worker cannot go from running to running \(allowed: draining\)/);
  assert.throws(() => lifecycle.moveTo('stopped'), /from running to stopped/);
  lifecycle.moveTo('draining');
  lifecycle.moveTo('stopped');
  assert.throws(() => lifecycle.moveTo('starting'), /from stopped to starting \(allowed: none\)/);
});

test("describeError keeps the wrapper's context and the runtime's words; findErrorWithCode walks the causes", () => {
  const runtime = new Error("Non-zero status code returned while running MatMul node. Name:'MatMul_3'");
  const lost = new FleetError('E_ENGINE_LOST', 'the inference engine thread exited (code 1)', { cause: new Error('boom') });
  const wrapped = new FleetError('E_INFERENCE', 'unet/model.onnx failed while running', { cause: runtime });
  assert.equal(describeError(wrapped), "unet/model.onnx failed while running: Non-zero status code returned while running MatMul node. Name:'MatMul_3'");
  assert.equal(describeError(new FleetError('E_INFERENCE', 'failed: boom', { cause: new Error('boom') })), 'failed: boom', 'a quoted cause is not repeated');
  assert.equal(describeError('plain'), 'plain');
  const inference = new FleetError('E_INFERENCE', 'unet failed while running', { cause: lost });
  assert.equal(findErrorWithCode(inference, 'E_ENGINE_LOST'), lost);
  assert.equal(findErrorWithCode(wrapped, 'E_ENGINE_LOST'), undefined);
  const cycle = new Error('loop') as Error & { cause?: unknown };
  cycle.cause = cycle;
  assert.equal(describeError(cycle), 'loop');
  assert.equal(findErrorWithCode(cycle, 'E_OOM'), undefined);
});
