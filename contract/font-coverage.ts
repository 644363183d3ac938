import { TYPOGRAPHY_FONT_COVERAGE } from './typography-font-coverage.js';

/** Coverage as sorted [first, last] pairs, parsed once: the lookup is a binary search. */
let ranges: Uint32Array | undefined;

function coverageRanges(): Uint32Array {
  if (ranges !== undefined) return ranges;
  const parts = TYPOGRAPHY_FONT_COVERAGE.split(' ');
  ranges = new Uint32Array(parts.length * 2);
  parts.forEach((part, i) => {
    const [first, last] = part.split('-');
    ranges![2 * i] = parseInt(first!, 16);
    ranges![2 * i + 1] = parseInt(last ?? first!, 16);
  });
  return ranges;
}

/** Whether one of the typography lane's fonts has a glyph for the code point (`contract/typography-font-coverage.ts`). */
export function typographyFontsCover(codePoint: number): boolean {
  const table = coverageRanges();
  let lo = 0;
  let hi = table.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (codePoint < table[2 * mid]!) hi = mid - 1;
    else if (codePoint > table[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

// Line breaks lay out lines, and default-ignorable characters (joiners, variation selectors) are never drawn.
const NOT_DRAWN = /[\n\r\p{Default_Ignorable_Code_Point}]/u;

/**
 * The characters of `text` that no font of the typography lane covers, each once, in order of appearance: drawn,
 * they would be empty boxes (and then fail the OCR check).
 */
export function charactersOutsideTypographyFonts(text: string): string[] {
  const missing = new Set<string>();
  for (const character of text) {
    if (NOT_DRAWN.test(character)) continue;
    if (!typographyFontsCover(character.codePointAt(0)!)) missing.add(character);
  }
  return [...missing];
}
