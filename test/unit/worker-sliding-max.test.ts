import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlidingMax } from '../../workers/consumer/sliding-max.js';

test('SlidingMax keeps a peak for its window, then lets it go', () => {
  const peak = new SlidingMax(1000, 10);
  assert.equal(peak.add(5, 0), 5);
  assert.equal(peak.add(64, 50), 64, 'rises at once');
  assert.equal(peak.add(32, 120), 64, 'a lower value does not pull it down within the window');
  assert.equal(peak.add(32, 999), 64);
  assert.equal(peak.add(32, 1000), 32, 'the bucket holding 64 (0–100 ms) left the window at 1000 ms');
  assert.equal(peak.add(1, 5000), 1, 'after a long gap every bucket is cleared');
  assert.equal(peak.add(7, 4000), 7, 'time going back (a clock step) lands in the current bucket');
  assert.equal(peak.max(), 7);
});

test('SlidingMax refuses a window or slot count that cannot work', () => {
  assert.throws(() => new SlidingMax(0), /windowMs must be > 0/);
  assert.throws(() => new SlidingMax(1000, 0), /slots must be an integer >= 1/);
});
