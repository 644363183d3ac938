import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGenerateRequest, ValidationError } from '../../contract/index.js';
import { MALFORMED } from '../helpers/malformed-requests.js';

test('at least 30 kinds of malformed request', () => {
  assert.ok(MALFORMED.length >= 30, `only ${MALFORMED.length}`);
});

for (const c of MALFORMED) {
  test(`refuses ${c.name} with E_VALIDATION naming ${c.field}`, () => {
    assert.throws(
      () => parseGenerateRequest(c.body),
      (error: unknown) => error instanceof ValidationError && error.code === 'E_VALIDATION' && error.field === c.field,
    );
  });
}

test('a valid request gets its defaults and keeps its fields', () => {
  const r = parseGenerateRequest({ prompt: 'a cat', account: { id: 'a', tier: 'free' }, width: 768, height: 432, seed: 7 });
  assert.equal(r.intent, 'preview');
  assert.equal(r.format, 'png');
  assert.equal(r.width, 768);
  assert.equal(r.seed, 7);
});

test('text content may break lines; prompts may not', () => {
  assert.equal(parseGenerateRequest({ prompt: 'card', account: { id: 'a', tier: 'pro' }, text: { content: 'HAPPY\nBIRTHDAY' } }).text?.content, 'HAPPY\nBIRTHDAY');
  assert.throws(() => parseGenerateRequest({ prompt: 'a\nb', account: { id: 'a', tier: 'pro' } }), ValidationError);
});
