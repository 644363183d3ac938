import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../batching/index.js';
import { LaneConcurrency } from '../../workers/index.js';

/** The batcher's two per-lane counts, set by the test. */
function demand(held = 0, wanted = 0) {
  const counts = { held, wanted };
  return {
    counts,
    batcher: {
      heldItems: (lane: 'flash') => (lane === 'flash' ? counts.held : Number.NaN),
      wantedItems: (lane: 'flash') => (lane === 'flash' ? counts.wanted : Number.NaN),
    },
  };
}

test('LaneConcurrency follows held + wanted at once upwards and keeps the peak for the hold', () => {
  const clock = new FakeClock();
  const { counts, batcher } = demand(0, 8);
  const concurrency = new LaneConcurrency({ lane: 'flash', batcher, concurrencyHoldMs: 100, monotonicNow: () => clock.now() });
  assert.equal(concurrency.wanted(), 8, 'a Worker starts at the demand now');
  assert.equal(concurrency.update(), 8);
  counts.held = 8;
  counts.wanted = 8;
  clock.advance(10);
  assert.equal(concurrency.update(), 16, 'rises at once');
  counts.held = 2;
  counts.wanted = 0;
  clock.advance(50);
  assert.equal(concurrency.wanted(), 2, 'the demand itself fell');
  assert.equal(concurrency.update(), 16, 'a fall within the hold keeps the peak');
  clock.advance(100);
  assert.equal(concurrency.update(), 2, 'a hold without the peak lets it go');
  counts.held = 0;
  clock.advance(200);
  assert.equal(concurrency.update(), 1, 'never below one job, so an idle lane still fetches');
});

test('LaneConcurrency with a fixed concurrency ignores the demand', () => {
  const clock = new FakeClock();
  const { counts, batcher } = demand(30, 30);
  const concurrency = new LaneConcurrency({ lane: 'flash', batcher, concurrencyHoldMs: 100, monotonicNow: () => clock.now(), fixedConcurrency: 4 });
  assert.equal(concurrency.wanted(), 4);
  assert.equal(concurrency.update(), 4);
  counts.held = 0;
  clock.advance(1000);
  assert.equal(concurrency.update(), 4);
});

test('LaneConcurrency refuses a hold or fixed concurrency that cannot work, naming the option', () => {
  const { batcher } = demand();
  const monotonicNow = () => 0;
  assert.throws(() => new LaneConcurrency({ lane: 'flash', batcher, concurrencyHoldMs: 0, monotonicNow }), /concurrencyHoldMs must be a finite number > 0, got 0/);
  assert.throws(() => new LaneConcurrency({ lane: 'flash', batcher, concurrencyHoldMs: 100, monotonicNow, fixedConcurrency: 0 }), /fixedConcurrency must be an integer >= 1, got 0/);
});
