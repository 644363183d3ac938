import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseGenerateRequest } from '../../contract/index.js';
import { canaryBucket, CompiledPolicy, parsePolicy } from '../../router/index.js';
import { canaryPolicy } from '../helpers/canary-policy.js';

const policy = new CompiledPolicy(parsePolicy(canaryPolicy(25)), 2);
const request = (id: string, tier = 'free') => parseGenerateRequest({ prompt: 'a calm lake', account: { id, tier } });

test('a 25 % split over 10,000 free accounts lands within 23–27 %, and every account gets the same answer on repeat', () => {
  let canary = 0;
  for (let i = 0; i < 10_000; i++) {
    const r = request(`acct-${i}`);
    const first = policy.evaluate(r);
    assert.equal(first.rule, 'free-previews-canary');
    for (let k = 0; k < 3; k++) assert.equal(policy.evaluate(r).model, first.model);
    if (first.model === 'flash-v2') canary++;
  }
  const share = canary / 10_000;
  assert.ok(share >= 0.23 && share <= 0.27, `canary share ${share}`);
});

test('paying tiers never reach the canary', () => {
  for (let i = 0; i < 500; i++) assert.equal(policy.evaluate(request(`acct-${i}`, 'pro')).model, 'flash-v1');
});

test('raising the weight only moves accounts onto the canary (monotone buckets)', () => {
  const wider = new CompiledPolicy(parsePolicy(canaryPolicy(50)), 3);
  for (let i = 0; i < 2000; i++) {
    const r = request(`acct-${i}`);
    if (policy.evaluate(r).model === 'flash-v2') assert.equal(wider.evaluate(r).model, 'flash-v2');
  }
});

test('buckets are stable and in range for any account and rule id', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.string({ minLength: 1, maxLength: 64 }), (account, rule) => {
      const b = canaryBucket(account, rule);
      return Number.isInteger(b) && b >= 0 && b < 10_000 && b === canaryBucket(account, rule);
    }),
  );
});

test('invalid policies are refused with the exact path', () => {
  const cases: Array<[unknown, string]> = [
    [{ name: 'x', rules: [] }, 'rules'],
    [{ name: 'x', rules: [{ id: 'a', when: { tier: ['gold'] }, lane: 'flash', model: 'm' }, { id: 'd', lane: 'flash', model: 'm' }] }, 'rules.0.when.tier.0'],
    [{ name: 'x', rules: [{ id: 'd', lane: 'nope', model: 'm' }] }, 'rules.0.lane'],
    [{ name: 'x', rules: [{ id: 'a', when: { intent: ['export'] }, lane: 'large', model: 'm' }] }, 'rules.0.when'],
    [{ name: 'x', rules: [{ id: 'a', lane: 'large', model: 'm' }, { id: 'b', lane: 'flash', model: 'm' }] }, 'rules.0.when'],
    [{ name: 'x', rules: [{ id: 'd', split: [{ lane: 'flash', model: 'a', weight: 1 }, { lane: 'flash', model: 'b', weight: -1 }] }] }, 'rules.0.split.1.weight'],
    [{ name: 'x', rules: [{ id: 'd', lane: 'flash', model: 'm', colour: 'red' }] }, 'rules.0.colour'],
    [{ name: 'x', rules: [{ id: 'a', when: { hasText: true }, lane: 'typography', model: 'm' }, { id: 'a', lane: 'flash', model: 'm' }] }, 'rules.1.id'],
  ];
  for (const [input, field] of cases) {
    assert.throws(() => parsePolicy(input), (e: unknown) => (e as { code: string; field: string }).code === 'E_POLICY_INVALID' && (e as { field: string }).field === field, field);
  }
});
