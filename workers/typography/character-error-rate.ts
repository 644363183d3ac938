/**
 * Character error rate (CER): the Levenshtein distance between what was expected and what was read,
 * divided by the expected length, both normalised first with `normaliseForComparison`.
 */

export interface ComparisonOptions {
  /**
   * `collapse`: every run of whitespace (spaces, tabs, line breaks) counts as one space.
   * `ignore`: whitespace does not count at all (OCR recognisers often drop the space after a digit or
   * a punctuation mark although it is plainly drawn).
   * @default 'collapse'
   */
  whitespace?: 'collapse' | 'ignore';
  /**
   * Expected characters (after normalisation) that the reader cannot produce at all, such as symbols
   * missing from an OCR model's alphabet: each matches whatever was read in its place, or nothing, at no cost.
   * @default none
   */
  isUnreadable?: (char: string) => boolean;
}

const DASHES = /[\u2010-\u2015\u2212\u2e3a\u2e3b]/gu;
const SINGLE_QUOTES = /[\u2018\u2019\u201a\u201b\u2032]/gu;
const DOUBLE_QUOTES = /[\u201c-\u201f\u2033]/gu;

/**
 * What the OCR comparison ignores: Unicode compatibility forms (NFKC: the recogniser's full-width `，`
 * equals `,`, `…` equals `...`), diacritics (`é` equals `e`), typographic variants of dashes and quotes
 * (`—` equals `-`, `’` equals `'`), letter case, and whitespace as `options.whitespace` says
 * (leading and trailing whitespace always goes).
 */
export function normaliseForComparison(text: string, options: Pick<ComparisonOptions, 'whitespace'> = {}): string {
  const folded = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .normalize('NFKC')
    .replace(DASHES, '-')
    .replace(SINGLE_QUOTES, "'")
    .replace(DOUBLE_QUOTES, '"')
    .toLowerCase();
  return options.whitespace === 'ignore' ? folded.replace(/\s+/gu, '') : folded.replace(/\s+/gu, ' ').trim();
}

/**
 * Edit distance (insertions, deletions, substitutions, each costing 1) from `expected` to `read`,
 * by code point. An expected character for which `isWildcard` holds may be substituted or deleted for free.
 */
export function levenshteinDistance(expected: string, read: string, isWildcard: (char: string) => boolean = () => false): number {
  const left = Array.from(expected);
  const right = Array.from(read);
  let previous = Array.from({ length: right.length + 1 }, (_, j) => j);
  let current = new Array<number>(right.length + 1).fill(0);
  for (let i = 1; i <= left.length; i++) {
    const char = left[i - 1]!;
    const wildcard = isWildcard(char);
    const deletion = wildcard ? 0 : 1;
    current[0] = previous[0]! + deletion;
    for (let j = 1; j <= right.length; j++) {
      const substitution = previous[j - 1]! + (wildcard || char === right[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + deletion, current[j - 1]! + 1, substitution);
    }
    [previous, current] = [current, previous];
  }
  return previous[right.length]!;
}

/**
 * CER of `read` against `expected` after normalisation: 0 is a perfect read, 1 means as many edits as
 * expected characters (it can exceed 1 when the read holds extra text). An empty expected text gives
 * 0 for an empty read and 1 otherwise.
 */
export function characterErrorRate(expected: string, read: string, options: ComparisonOptions = {}): number {
  const want = normaliseForComparison(expected, options);
  const got = normaliseForComparison(read, options);
  const length = Array.from(want).length;
  if (length === 0) return got.length === 0 ? 0 : 1;
  return levenshteinDistance(want, got, options.isUnreadable) / length;
}
