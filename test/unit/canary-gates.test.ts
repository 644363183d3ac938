import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canaryBucket, CompiledPolicy, emptyModelCounts, evaluateGates, figuresOf, parseGates, resolveCanaryPlan, withCanaryShare, type ModelFigures, type PolicyDocument } from '../../router/index.js';

function figures(over: Partial<ModelFigures>): ModelFigures {
  return { ...figuresOf(emptyModelCounts()), ...over };
}

describe('canary gates', () => {
  test('parse x (times the baseline), % (a share) and ms; refuse what does not parse, naming it', () => {
    assert.deepEqual(parseGates('p95<=1.2x, errors<=1%,ocrPass>=97%,inferenceP95<800ms'), [
      { text: 'p95<=1.2x', metric: 'p95', op: '<=', limit: 1.2, relative: true },
      { text: 'errors<=1%', metric: 'errors', op: '<=', limit: 0.01, relative: false },
      { text: 'ocrPass>=97%', metric: 'ocrPass', op: '>=', limit: 0.97, relative: false },
      { text: 'inferenceP95<800ms', metric: 'inferenceP95', op: '<', limit: 800, relative: false },
    ]);
    assert.throws(() => parseGates('p95 about 2x'), /gate "p95 about 2x" does not parse/);
    assert.throws(() => parseGates('latency<=2x'), /unknown metric latency/);
  });

  test('nothing is decided below the minimum sample count; then one failing gate fails the window', () => {
    const gates = parseGates('p95<=1.2x,errors<=1%,ocrPass>=97%');
    const baseline = figures({ samples: 500, errorRate: 0, endToEndP95Ms: 1000 });
    assert.equal(evaluateGates(gates, figures({ samples: 99, errorRate: 0.5 }), baseline, 100).verdict, 'insufficient');
    assert.equal(evaluateGates(gates, figures({ samples: 100, errorRate: 0.3 }), figures({ samples: 99 }), 100).verdict, 'insufficient', 'relative gates need baseline traffic too');
    const fail = evaluateGates(gates, figures({ samples: 100, errorRate: 0.3, endToEndP95Ms: 1100 }), baseline, 100);
    assert.equal(fail.verdict, 'fail');
    assert.match(fail.reason, /^errors<=1%: canary 0\.3 vs threshold 0\.01 \(baseline 0\) FAILED$/);
    const pass = evaluateGates(gates, figures({ samples: 100, errorRate: 0, endToEndP95Ms: 1200 }), baseline, 100);
    assert.equal(pass.verdict, 'pass');
    assert.equal(pass.results.find((r) => r.gate === 'ocrPass>=97%')?.held, null, 'no OCR check in the window: not applicable');
  });

  test('plans: ascending steps ending at 100, an interval within the series TTL', () => {
    assert.throws(() => resolveCanaryPlan({ lane: 'flash', model: 'b', steps: [5, 50] }), /last step must be 100/);
    assert.throws(() => resolveCanaryPlan({ lane: 'flash', model: 'b', steps: [25, 5, 100] }), /ascending/);
    assert.throws(() => resolveCanaryPlan({ lane: 'flash', model: 'b', intervalMs: 3 * 3600_000 }), /intervalMs/);
    assert.deepEqual(resolveCanaryPlan({ lane: 'flash', model: 'b' }).steps, [5, 25, 50, 100]);
  });
});

describe('canary shares', () => {
  const policy: PolicyDocument = { name: 'p', typographicWords: [], rules: [{ id: 'free', when: { tier: ['free'] }, lane: 'flash', model: 'a' }, { id: 'rest', lane: 'flash', model: 'a' }] };
  const target = { lane: 'flash' as const, model: 'b', fromModel: 'a' };

  test('an account on the canary stays on it as the share grows (sticky per account and rule)', () => {
    const accounts = Array.from({ length: 2000 }, (_, i) => ({ id: `acct-${i}`, tier: 'free' as const }));
    let previous = new Set<string>();
    for (const share of [5, 25, 50, 100]) {
      const compiled = new CompiledPolicy(withCanaryShare(policy, ['free', 'rest'], target, share), share);
      const onCanary = new Set(accounts.filter((account) => compiled.evaluate({ prompt: 'x', intent: 'preview', format: 'png', account }).model === 'b').map((a) => a.id));
      for (const id of previous) assert.ok(onCanary.has(id), `${id} left the canary at ${share} %`);
      assert.ok(Math.abs(onCanary.size / accounts.length - share / 100) < 0.04, `${onCanary.size} of ${accounts.length} at ${share} %`);
      previous = onCanary;
    }
    assert.ok(canaryBucket('acct-1', 'free') >= 0);
  });

  test('0 % gives the rules back exactly; 100 % makes them single targets', () => {
    const at5 = withCanaryShare(policy, ['free'], target, 5);
    assert.deepEqual(at5.rules[0]!.split?.map((t) => [t.model, t.weight]), [['a', 95], ['b', 5]]);
    assert.deepEqual(withCanaryShare(at5, ['free'], target, 0), policy);
    assert.deepEqual(withCanaryShare(at5, ['free'], target, 100).rules[0], { id: 'free', when: { tier: ['free'] }, lane: 'flash', model: 'b' });
  });
});
