import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeCatalogue, parseGenerateRequest, type CatalogueModel } from '../../contract/index.js';
import { checkPolicyAgainstCatalogue, CompiledPolicy, loadDefaultPolicy, parsePolicy } from '../../router/index.js';

const account = { id: 'acct-f', tier: 'pro' };

test('a request without a size routes on the default size of the lane the rule places it on', () => {
  const policy = new CompiledPolicy(
    parsePolicy({
      name: 'by-size',
      typographicWords: ['poster'],
      rules: [
        { id: 'big-typography', when: { typographicWords: true, megapixels: { min: 1 } }, lane: 'typography', model: 'typography-v1' },
        { id: 'big-previews', when: { megapixels: { min: 0.5 } }, lane: 'large', model: 'large-v1' },
        { id: 'small', lane: 'flash', model: 'flash-v1' },
      ],
    }),
    3,
  );
  // typography's default is 1024² (1.05 MP): the rule holds without a size in the request.
  const poster = policy.evaluate(parseGenerateRequest({ prompt: 'a jazz poster', account }));
  assert.deepEqual([poster.rule, poster.features.megapixels], ['big-typography', (1024 * 1024) / 1e6]);
  // large's default is 1024² too, so a sizeless preview would go large by its lane's default…
  assert.equal(policy.evaluate(parseGenerateRequest({ prompt: 'a fox', account })).rule, 'big-previews');
  // …and an explicit small size keeps it on flash, reporting the size it asked for.
  const small = policy.evaluate(parseGenerateRequest({ prompt: 'a fox', width: 512, height: 512, account }));
  assert.deepEqual([small.rule, small.features.megapixels], ['small', 0.262144]);
  // One side given: the other comes from the lane's default (256×1024 on large is under 0.5 MP; 256×512 on flash).
  const narrow = policy.evaluate(parseGenerateRequest({ prompt: 'a fox', width: 256, account }));
  assert.deepEqual([narrow.rule, narrow.features.megapixels], ['small', (256 * 512) / 1e6]);
});

test('an upscale without scale routes as scale 2; its megapixels are the source size × scale when the source is known', () => {
  const policy = new CompiledPolicy(loadDefaultPolicy(), 1);
  const plain = policy.evaluate(parseGenerateRequest({ prompt: 'up', intent: 'upscale', source: { key: 'a.png' }, account }));
  assert.deepEqual([plain.model, plain.features.scale, plain.features.megapixels], ['upscale-x2', 2, 0]);
  const known = policy.evaluate(parseGenerateRequest({ prompt: 'up', intent: 'upscale', source: { key: 'a.png' }, scale: 4, account }), { sourceSize: { width: 200, height: 100 } });
  assert.deepEqual([known.model, known.features.scale, known.features.megapixels], ['upscale-x4', 4, (800 * 400) / 1e6]);
  const scaleRule = new CompiledPolicy(parsePolicy({ name: 's', rules: [{ id: 'x2', when: { scale: [2] }, lane: 'upscale', model: 'upscale-x2' }, { id: 'rest', lane: 'flash', model: 'flash-v1' }] }), 1);
  assert.equal(scaleRule.evaluate(parseGenerateRequest({ prompt: 'up', intent: 'upscale', source: { key: 'a.png' }, account })).rule, 'x2', 'the default scale satisfies scale: [2]');
  assert.equal(scaleRule.evaluate(parseGenerateRequest({ prompt: 'a fox', account })).features.scale, null);
});

const served: CatalogueModel[] = [
  { name: 'flash-v1', kind: 'diffusion', lanes: ['flash'], costUnitsPerImage: 1, sizes: { min: 256, max: 768, multipleOf: 64 }, steps: { default: 4, max: 8 } },
  { name: 'large-v1', kind: 'diffusion', lanes: ['large'], costUnitsPerImage: 6, sizes: { min: 256, max: 1024, multipleOf: 64 }, steps: { default: 24, max: 50 } },
  { name: 'upscale-x2', kind: 'upscale', lanes: ['upscale'], costUnitsPerImage: 0.5, sizes: { min: 16, max: 2048, multipleOf: 1 }, scale: 2 },
];

test('a policy is checked target by target against the catalogue, naming the rule', () => {
  const catalogue = mergeCatalogue([{ workerId: 'w1', publishedAt: 0, models: served }]);
  const policy = parsePolicy({
    name: 'mixed',
    rules: [
      { id: 'ok', when: { intent: ['export'] }, lane: 'large', model: 'large-v1' },
      { id: 'canary', when: { tier: ['free'] }, split: [{ lane: 'flash', model: 'flash-v1', weight: 90 }, { lane: 'flash', model: 'flash-v2', weight: 10 }] },
      { id: 'dark', when: { tier: ['pro'] }, split: [{ lane: 'flash', model: 'flash-v1', weight: 100 }, { lane: 'flash', model: 'flash-v3', weight: 0 }] },
      { id: 'x4-on-x2', when: { intent: ['upscale'], scale: [4] }, lane: 'upscale', model: 'upscale-x2' },
      { id: 'wrong-lane', when: { intent: ['preview'] }, lane: 'typography', model: 'flash-v1' },
      { id: 'default', lane: 'flash', model: 'flash-v1' },
    ],
  });
  const problems = checkPolicyAgainstCatalogue(policy, catalogue);
  assert.deepEqual(problems.map((p) => [p.rule, p.model]), [['canary', 'flash-v2'], ['x4-on-x2', 'upscale-x2'], ['wrong-lane', 'flash-v1']]);
  assert.match(problems[0]!.message, /^rule canary: routes to model flash-v2, which no worker serves \(served: flash-v1, large-v1, upscale-x2\)$/);
  assert.match(problems[1]!.message, /upscales ×2/);
  assert.equal(checkPolicyAgainstCatalogue(policy, mergeCatalogue([])).length, 7, 'with no worker published, every weighted target is a problem');
  // Two workers serving one model on different lanes: the union of the lanes.
  const merged = mergeCatalogue([
    { workerId: 'a', publishedAt: 0, models: [{ ...served[0]!, lanes: ['flash'] }] },
    { workerId: 'b', publishedAt: 0, models: [{ ...served[0]!, lanes: ['typography'] }] },
  ]);
  assert.deepEqual(merged.models['flash-v1']!.lanes, ['flash', 'typography']);
});
