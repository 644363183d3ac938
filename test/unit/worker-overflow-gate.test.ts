import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OverflowGate } from '../../workers/consumer/overflow-gate.js';

test('OverflowGate opens once the backlog has lasted and the own lanes are idle; closes on either', () => {
  const gate = new OverflowGate({ overflowBacklog: 2, overflowAfterMs: 500 });
  assert.equal(gate.evaluate(true, 0), false, 'no backlog seen yet');
  gate.observeBacklog(1, 0);
  assert.equal(gate.evaluate(true, 1000), false, 'below the threshold');
  gate.observeBacklog(2, 1000);
  assert.equal(gate.evaluate(true, 1499), false, 'backed up for 499 ms');
  assert.equal(gate.evaluate(true, 1500), true, 'backed up for 500 ms, own lanes idle');
  assert.equal(gate.evaluate(false, 1600), false, 'own work arrived');
  assert.equal(gate.evaluate(true, 1700), true, 'idle again, still backed up');
  gate.observeBacklog(3, 1800);
  assert.equal(gate.evaluate(true, 1800), true, 'a deeper backlog keeps its start time');
  gate.observeBacklog(1, 1900);
  assert.equal(gate.evaluate(true, 1900), false, 'the backlog fell below the threshold');
  gate.observeBacklog(2, 2000);
  assert.equal(gate.evaluate(true, 2400), false, 'a new backlog starts its wait again');
  assert.equal(gate.open, false);
});

test('OverflowGate refuses thresholds that cannot work', () => {
  assert.throws(() => new OverflowGate({ overflowBacklog: 0, overflowAfterMs: 0 }), /overflowBacklog must be an integer >= 1, got 0/);
  assert.throws(() => new OverflowGate({ overflowBacklog: 1, overflowAfterMs: -1 }), /overflowAfterMs must be a finite number >= 0, got -1/);
});
