import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunAloneGate } from '../../workers/consumer/run-alone-gate.js';

/** A run that ends when told to, recording what the gate showed while it ran. */
function heldRun(gate: RunAloneGate, log: string[], name: string) {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const run = async () => {
    log.push(`${name} start shared=${gate.sharedInProgress} alone=${gate.aloneInProgress}`);
    started();
    await ended;
    log.push(`${name} end`);
    return name;
  };
  return { run, end, running };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('a run alone waits for the shared runs in progress, holds back the shared runs after it, then lets them all go', async () => {
  const gate = new RunAloneGate();
  const log: string[] = [];
  const a = heldRun(gate, log, 'a');
  const b = heldRun(gate, log, 'b');
  const alone = heldRun(gate, log, 'alone');
  const c = heldRun(gate, log, 'c');
  const d = heldRun(gate, log, 'd');
  const results = [gate.runShared(a.run), gate.runShared(b.run), gate.runAlone(alone.run), gate.runShared(c.run), gate.runShared(d.run)];
  await Promise.all([a.running, b.running]);
  await tick();
  assert.deepEqual(log, ['a start shared=2 alone=false', 'b start shared=2 alone=false'], 'the run alone and the shared runs behind it wait');
  a.end();
  await tick();
  assert.equal(log.includes('alone start shared=1 alone=true'), false);
  b.end();
  await alone.running;
  assert.equal(log.at(-1), 'alone start shared=0 alone=true', 'alone: nothing else runs');
  await tick();
  assert.equal(log.some((l) => l.startsWith('c start') || l.startsWith('d start')), false);
  alone.end();
  await Promise.all([c.running, d.running]);
  assert.deepEqual(log.slice(-2), ['c start shared=2 alone=false', 'd start shared=2 alone=false'], 'the shared runs queued together start together');
  c.end();
  d.end();
  assert.deepEqual(await Promise.all(results), ['a', 'b', 'alone', 'c', 'd']);
});

test('a failing run releases the gate', async () => {
  const gate = new RunAloneGate();
  await assert.rejects(gate.runAlone(async () => Promise.reject(new Error('crashed'))), /crashed/);
  await assert.rejects(gate.runShared(async () => Promise.reject(new Error('failed'))), /failed/);
  assert.equal(await gate.runAlone(async () => 'next'), 'next');
  assert.equal(gate.sharedInProgress, 0);
  assert.equal(gate.aloneInProgress, false);
});
