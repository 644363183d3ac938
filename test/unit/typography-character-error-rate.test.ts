import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { characterErrorRate, levenshteinDistance, normaliseForComparison } from '../../workers/typography/index.js';

describe('levenshteinDistance', () => {
  it('counts insertions, deletions and substitutions', () => {
    assert.equal(levenshteinDistance('', ''), 0);
    assert.equal(levenshteinDistance('abc', ''), 3);
    assert.equal(levenshteinDistance('', 'abc'), 3);
    assert.equal(levenshteinDistance('kitten', 'sitting'), 3);
    assert.equal(levenshteinDistance('flaw', 'lawn'), 2);
    assert.equal(levenshteinDistance('same', 'same'), 0);
  });

  it('works by code point, not UTF-16 unit', () => {
    assert.equal(levenshteinDistance('a😀b', 'a😃b'), 1);
  });

  it('lets a wildcard character match anything or nothing for free', () => {
    const isEuro = (c: string): boolean => c === '€';
    assert.equal(levenshteinDistance('€5', 'E5', isEuro), 0);
    assert.equal(levenshteinDistance('€5', '5', isEuro), 0);
    assert.equal(levenshteinDistance('€5', 'x5', isEuro), 0);
    assert.equal(levenshteinDistance('€5', '6', isEuro), 1);
  });
});

describe('normaliseForComparison', () => {
  it('folds case, whitespace and line breaks', () => {
    assert.equal(normaliseForComparison('  Keep  Calm\nand\r\n\tCarry On '), 'keep calm and carry on');
    assert.equal(normaliseForComparison('Keep Calm\nand Carry On', { whitespace: 'ignore' }), 'keepcalmandcarryon');
  });

  it('folds typographic variants, compatibility forms and diacritics', () => {
    assert.equal(normaliseForComparison('Café — “Crème” ’n’ …'), 'cafe - "creme" \'n\' ...');
    assert.equal(normaliseForComparison('ＳＡＬＥ，５０％'), 'sale,50%');
  });
});

describe('characterErrorRate', () => {
  it('is 0 for a perfect read, whatever the case and whitespace', () => {
    assert.equal(characterErrorRate('Grand Opening', 'GRAND  OPENING'), 0);
    assert.equal(characterErrorRate('Keep Calm\nand Carry On', 'Keep Calm and Carry On'), 0);
  });

  it('is edits over the expected length', () => {
    assert.equal(characterErrorRate('hello', 'hallo'), 1 / 5);
    assert.equal(characterErrorRate('hello', 'hell'), 1 / 5);
    assert.equal(characterErrorRate('hello', ''), 1);
    assert.equal(characterErrorRate('ab', 'abcdef'), 2);
    // "7:30 PM" read as "7:30PM": one deletion of 7 characters, none when whitespace is ignored.
    assert.equal(characterErrorRate('7:30 PM', '7:30PM'), 1 / 7);
    assert.equal(characterErrorRate('7:30 PM', '7:30PM', { whitespace: 'ignore' }), 0);
  });

  it('handles an empty expectation', () => {
    assert.equal(characterErrorRate('', ''), 0);
    assert.equal(characterErrorRate(' \n', 'x'), 1);
  });

  it('does not hold unreadable characters against the read', () => {
    assert.equal(characterErrorRate('£4.50', 'E4.50', { isUnreadable: (c) => c === '£' }), 0);
    assert.equal(characterErrorRate('£4.50', 'E4.50'), 1 / 5);
  });
});
