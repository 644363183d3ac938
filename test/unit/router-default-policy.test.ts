import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGenerateRequest } from '../../contract/index.js';
import { CompiledPolicy, findQuotedText, loadDefaultPolicy } from '../../router/index.js';
import { PROMPTS_MISSING, readPrompts } from '../helpers/prompts.js';

const policy = new CompiledPolicy(loadDefaultPolicy(), 1);
const route = (request: Record<string, unknown>) => policy.evaluate(parseGenerateRequest(request));
const account = { id: 'a1', tier: 'pro' };

test('every recorded editor request is routed to its lane by the default policy', (t) => {
  const prompts = readPrompts();
  if (prompts === undefined) return t.skip(PROMPTS_MISSING);
  assert.ok(prompts.length >= 40);
  const wrong = prompts.filter((p) => route(p.request).lane !== p.lane).map((p) => `${p.request.prompt} → ${route(p.request).lane}, want ${p.lane}`);
  assert.deepEqual(wrong, []);
});

test('the decision names its rule and policy version', () => {
  const decision = route({ prompt: 'logo, vector, bold text', account });
  assert.equal(decision.lane, 'typography');
  assert.equal(decision.rule, 'typography-words');
  assert.equal(decision.policyVersion, 1);
  assert.deepEqual(decision.features.typographicWords, ['logo', 'bold text']);
});

test('exports go large, previews flash, upscales by factor', () => {
  assert.equal(route({ prompt: 'a calm lake', intent: 'export', account }).model, 'large-v1');
  assert.equal(route({ prompt: 'a calm lake', account }).model, 'flash-v1');
  assert.equal(route({ prompt: 'up', intent: 'upscale', source: { key: 'a.png' }, account }).model, 'upscale-x2');
  assert.equal(route({ prompt: 'up', intent: 'upscale', source: { key: 'a.png' }, scale: 4, account }).model, 'upscale-x4');
});

test('typographic words match whole words only', () => {
  assert.equal(route({ prompt: 'map texture without labels', intent: 'export', account }).lane, 'large');
  assert.equal(route({ prompt: 'interior design moodboard', account }).lane, 'flash');
  assert.equal(route({ prompt: 'a neon SIGN at night', account }).lane, 'typography');
  assert.equal(route({ prompt: 'a poster   with BOLD   TEXT', account }).features.typographicWords.join(','), 'poster,bold text');
});

test('quoted text: double, single and curly quotes; apostrophes are not quotes', () => {
  assert.equal(findQuotedText('menu that says "LATTE 4.50"'), 'LATTE 4.50');
  assert.equal(findQuotedText("wordmark called 'Nimbus' today"), 'Nimbus');
  assert.equal(findQuotedText('jar reading \u201cGrandma\u2019s Apricot\u201d'), 'Grandma\u2019s Apricot');
  assert.equal(findQuotedText("the dog's and the cat's toys"), null);
  assert.equal(findQuotedText('label reading "Grandma\'s Apricot"'), "Grandma's Apricot");
});
