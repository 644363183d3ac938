import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TickBatch, type BatchOutcome } from '../../producer/tick-batch.js';

test('calls of one event-loop turn reach run together, per key, in order; each caller gets its own outcome', async () => {
  const runs: Array<[string, number[]]> = [];
  const batch = new TickBatch<number, number>(async (key, inputs) => {
    runs.push([key, inputs]);
    return inputs.map((n): BatchOutcome<number> => (n < 0 ? { error: new RangeError(`negative ${n}`) } : { value: n * 10 }));
  });
  const first = [batch.call('a', 1), batch.call('b', 2), batch.call('a', 3), batch.call('a', -1)];
  const settled = await Promise.allSettled(first);
  assert.deepEqual(runs, [['a', [1, 3, -1]], ['b', [2]]]);
  assert.deepEqual(settled.slice(0, 3).map((s) => (s as PromiseFulfilledResult<number>).value), [10, 20, 30]);
  assert.match(String((settled[3] as PromiseRejectedResult).reason), /negative -1/);
  // A later turn is a batch of its own.
  assert.equal(await batch.call('a', 4), 40);
  assert.deepEqual(runs.at(-1), ['a', [4]]);
});

test('a run that throws fails every call of its batch; one that returns too few outcomes fails the rest', async () => {
  const failing = new TickBatch<number, number>(async () => {
    throw new Error('connection lost');
  });
  const results = await Promise.allSettled([failing.call('k', 1), failing.call('k', 2)]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.ok(results.every((r) => /connection lost/.test(String((r as PromiseRejectedResult).reason))));
  const short = new TickBatch<number, number>(async () => [{ value: 1 }]);
  const partial = await Promise.allSettled([short.call('k', 1), short.call('k', 2)]);
  assert.deepEqual(partial.map((r) => r.status), ['fulfilled', 'rejected']);
});
