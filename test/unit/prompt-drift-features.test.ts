import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FleetError, parseGenerateRequest } from '../../contract/index.js';
import { assertTextDrawable } from '../../producer/index.js';
import {
  addDriftBins,
  compareDrift,
  CompiledPolicy,
  driftBinsOf,
  emptyDriftCounts,
  loadDefaultPolicy,
  parsePolicy,
  populationStability,
  PSI_EMPTY_BIN_SHARE,
  stabilityVerdict,
  writingSystemsOf,
} from '../../router/index.js';

const account = { id: 'acct-d', tier: 'pro' as const };
const defaultPolicy = new CompiledPolicy(loadDefaultPolicy(), 1);

test('writing systems by Unicode script: most letters first; digits, punctuation and emoji belong to none', () => {
  assert.deepEqual(writingSystemsOf('SUNSET BEATS'), ['latin']);
  assert.deepEqual(writingSystemsOf('Привет, мир and hi'), ['cyrillic', 'latin']);
  assert.deepEqual(writingSystemsOf('Ελλάδα'), ['greek']);
  assert.deepEqual(writingSystemsOf('مرحبا'), ['arabic']);
  assert.deepEqual(writingSystemsOf('שלום'), ['hebrew']);
  // Han, kana (the length mark ー is Script=Common, Script_Extensions kana) and Hangul are one system.
  assert.deepEqual(writingSystemsOf('東京タワー 서울 SALE'), ['cjk', 'latin']);
  assert.deepEqual(writingSystemsOf('สวัสดี'), ['other']);
  assert.deepEqual(writingSystemsOf('2027! -40% 😀'), []);
});

test("a request's drift bins: lane and rule chosen, size on the chosen lane, length, writing systems, emoji, text, words", () => {
  const bins = driftBinsOf(defaultPolicy.evaluate(parseGenerateRequest({ prompt: 'poster for a festival 🎉', text: { content: '夏日祭典 2027' }, account })));
  assert.deepEqual(bins, {
    lane: 'typography',
    rule: 'typography-explicit-text',
    intent: 'preview',
    tier: 'pro',
    size: '≤1.1MP',
    promptLength: '≤32',
    promptScript: 'latin',
    textScript: 'cjk',
    emoji: 'yes',
    hasText: 'yes',
    typographicWords: '1',
  });
  const plain = driftBinsOf(defaultPolicy.evaluate(parseGenerateRequest({ prompt: 'x'.repeat(600), width: 512, height: 512, account: { id: 'a', tier: 'free' } })));
  assert.deepEqual([plain.lane, plain.size, plain.promptLength, plain.textScript, plain.emoji, plain.hasText, plain.typographicWords], ['flash', '≤0.27MP', '>512', 'no text', 'no', 'no', '0']);
  // Quoted text is text to draw as well, though not a text field.
  const quoted = driftBinsOf(defaultPolicy.evaluate(parseGenerateRequest({ prompt: 'a sign that says "Ελλάδα"', account })));
  assert.deepEqual([quoted.textScript, quoted.hasText], ['greek', 'no']);
  const upscale = driftBinsOf(defaultPolicy.evaluate(parseGenerateRequest({ prompt: 'up', intent: 'upscale', source: { key: 'a.png' }, account })));
  assert.equal(upscale.size, 'unknown');
});

test('PSI: 0 for the same shares, the textbook value for a known shift, a stated share for empty bins, null for no data', () => {
  assert.equal(populationStability({ a: 10, b: 30 }, { a: 100, b: 300 }), 0);
  // (0.9 − 0.5) ln(0.9 / 0.5) + (0.1 − 0.5) ln(0.1 / 0.5)
  assert.ok(Math.abs(populationStability({ a: 50, b: 50 }, { a: 90, b: 10 })! - 0.8789) < 1e-4);
  const appeared = populationStability({ a: 100 }, { a: 60, b: 40 })!;
  const expected = (0.6 - 1) * Math.log(0.6 / 1) + (0.4 - PSI_EMPTY_BIN_SHARE) * Math.log(0.4 / PSI_EMPTY_BIN_SHARE);
  assert.ok(Math.abs(appeared - expected) < 1e-9, `${appeared} vs ${expected}`);
  assert.equal(populationStability({}, { a: 1 }), null);
  assert.equal(populationStability({ a: 1 }, {}), null);
  assert.deepEqual([0.05, 0.1, 0.2, 0.25, 0.26].map(stabilityVerdict), ['stable', 'stable', 'moderate', 'moderate', 'significant']);
});

test('compareDrift scores every feature and orders bins by how far they moved', () => {
  const baseline = emptyDriftCounts();
  const now = emptyDriftCounts();
  const latin = driftBinsOf(defaultPolicy.evaluate(parseGenerateRequest({ prompt: 'a poster', text: { content: 'SALE' }, account })));
  const cjk = driftBinsOf(defaultPolicy.evaluate(parseGenerateRequest({ prompt: 'a poster', text: { content: '夏日' }, account })));
  addDriftBins(baseline, latin, 10);
  addDriftBins(now, latin, 6);
  addDriftBins(now, cjk, 4);
  const drift = compareDrift(baseline, now);
  const moved = drift.filter((d) => d.verdict !== 'stable').map((d) => d.feature);
  assert.deepEqual(moved, ['textScript']);
  const textScript = drift.find((d) => d.feature === 'textScript')!;
  assert.deepEqual(textScript.bins, [
    { bin: 'cjk', baseline: 0, now: 0.4 },
    { bin: 'latin', baseline: 1, now: 0.6 },
  ]);
});

test('policy: `script` matches the writing systems of the text to draw, `promptScript` those of the prompt', () => {
  const policy = new CompiledPolicy(
    parsePolicy({
      name: 'scripts',
      rules: [
        { id: 'cjk-text-to-flash', when: { script: ['cjk'] }, lane: 'flash', model: 'flash-v1' },
        { id: 'greek-prompts', when: { promptScript: ['greek'] }, lane: 'large', model: 'large-v1' },
        { id: 'text', when: { hasText: true }, lane: 'typography', model: 'typography-v1' },
        { id: 'rest', lane: 'flash', model: 'flash-v1' },
      ],
    }),
    2,
  );
  assert.equal(policy.evaluate(parseGenerateRequest({ prompt: 'poster', text: { content: 'SALE 夏' }, account })).rule, 'cjk-text-to-flash');
  assert.equal(policy.evaluate(parseGenerateRequest({ prompt: 'a mug reading "東京"', account })).rule, 'cjk-text-to-flash');
  assert.equal(policy.evaluate(parseGenerateRequest({ prompt: 'poster', text: { content: 'SALE' }, account })).rule, 'text');
  assert.equal(policy.evaluate(parseGenerateRequest({ prompt: 'ένα λιμάνι', account })).rule, 'greek-prompts');
  assert.throws(() => parsePolicy({ name: 'bad', rules: [{ id: 'x', when: { script: ['klingon'] }, lane: 'flash', model: 'flash-v1' }, { id: 'rest', lane: 'flash', model: 'flash-v1' }] }), (e: FleetError) => e.code === 'E_POLICY_INVALID' && e.field === 'rules.0.when.script.0');
});

test('the guard refuses typography text no shipped font draws, naming the characters; other lanes and covered scripts pass', () => {
  const request = parseGenerateRequest({ prompt: 'festival poster', text: { content: 'SUMMER 夏日祭典 夏' }, account });
  assert.throws(
    () => assertTextDrawable(request, defaultPolicy.evaluate(request)),
    (e: FleetError) => {
      assert.equal(e.code, 'E_FONT_COVERAGE');
      assert.equal(e.httpStatus, 422);
      assert.equal(e.field, 'text.content');
      assert.deepEqual(e.details?.characters, ['夏', '日', '祭', '典']);
      assert.match(e.message, /夏 \(U\+590F\), 日 \(U\+65E5\)/);
      return true;
    },
  );
  const quoted = parseGenerateRequest({ prompt: 'a sign reading "ราคา"', account });
  assert.throws(() => assertTextDrawable(quoted, defaultPolicy.evaluate(quoted)), (e: FleetError) => e.code === 'E_FONT_COVERAGE' && e.field === 'prompt');
  for (const content of ['SALE -40%', 'Привет', 'Ελλάδα', 'שלום', 'مرحبا', 'Grandma’s Café\nOpen']) {
    const ok = parseGenerateRequest({ prompt: 'poster', text: { content }, account });
    assert.doesNotThrow(() => assertTextDrawable(ok, defaultPolicy.evaluate(ok)), content);
  }
  const toFlash = new CompiledPolicy(parsePolicy({ name: 'p', rules: [{ id: 'cjk', when: { script: ['cjk'] }, lane: 'flash', model: 'flash-v1' }, { id: 'rest', lane: 'typography', model: 'typography-v1' }] }), 1);
  assert.doesNotThrow(() => assertTextDrawable(request, toFlash.evaluate(request)));
});
