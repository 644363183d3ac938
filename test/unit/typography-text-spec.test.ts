import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractQuotedText, resolveTextSpec, TEXT_SPEC_DEFAULTS } from '../../workers/typography/index.js';

describe('extractQuotedText', () => {
  it('finds double and single quoted text', () => {
    assert.deepEqual(extractQuotedText('a poster that says "Grand Opening" in gold'), ['Grand Opening']);
    assert.deepEqual(extractQuotedText("a mug reading 'Best Dad' on a table"), ['Best Dad']);
    assert.deepEqual(extractQuotedText('a sign “Open Late” at night'), ['Open Late']);
    assert.deepEqual(extractQuotedText('a banner ‘Welcome’'), ['Welcome']);
  });

  it('does not take apostrophes inside words for quotes', () => {
    assert.deepEqual(extractQuotedText("Grandma's kitchen, watercolor"), []);
    assert.deepEqual(extractQuotedText("Grandma's kitchen with a sign saying 'Don't touch' and Grandpa's chair"), ["Don't touch"]);
    assert.deepEqual(extractQuotedText("a shop front: \"Grandma's Kitchen\""), ["Grandma's Kitchen"]);
    assert.deepEqual(extractQuotedText('it’s Grandma’s ‘Famous Pie’ stand'), ['Famous Pie']);
  });

  it('does not take a possessive plural for a closing quote', () => {
    assert.deepEqual(extractQuotedText("the Smiths' house with a 'Sold' sign"), ['Sold']);
    assert.deepEqual(extractQuotedText("the Smiths' house at dusk"), []);
  });

  it('keeps several spans in prompt order and ignores unclosed or blank ones', () => {
    assert.deepEqual(extractQuotedText("a card with 'Happy' above \"Birthday\""), ['Happy', 'Birthday']);
    assert.deepEqual(extractQuotedText('a sign saying "never closed'), []);
    assert.deepEqual(extractQuotedText('an empty "" label'), []);
  });
});

describe('resolveTextSpec', () => {
  it('prefers the text field and fills in defaults', () => {
    const spec = resolveTextSpec({ prompt: 'a sign saying "ignored"', text: { content: 'SALE\n50% OFF', color: '#F0a' } });
    assert.deepEqual(spec, {
      content: 'SALE\n50% OFF',
      font: TEXT_SPEC_DEFAULTS.font,
      weight: 700,
      align: 'center',
      color: '#ff00aa',
      position: TEXT_SPEC_DEFAULTS.position,
      onFail: 'flag',
      source: 'field',
    });
  });

  it('maps weights and keeps layout fields', () => {
    const position = { x: 0.1, y: 0.2, width: 0.5, height: 0.1 };
    const spec = resolveTextSpec({ prompt: 'x', text: { content: 'Hi', weight: 'normal', align: 'right', position, onFail: 'fail', font: 'serif' } })!;
    assert.equal(spec.weight, 400);
    assert.equal(spec.align, 'right');
    assert.deepEqual(spec.position, position);
    assert.equal(spec.onFail, 'fail');
    assert.equal(spec.font, 'serif');
  });

  it('falls back to quoted prompt text, one line per span', () => {
    const spec = resolveTextSpec({ prompt: "a neon sign 'Open' and \"24 Hours\" in Grandma's diner" })!;
    assert.equal(spec.content, 'Open\n24 Hours');
    assert.equal(spec.source, 'prompt');
  });

  it('returns null when there is no text to draw', () => {
    assert.equal(resolveTextSpec({ prompt: "Grandma's kitchen at dawn" }), null);
  });
});
