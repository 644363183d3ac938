/**
 * Text the prompt puts in quotes: `a poster that says "Grand Opening"` or `a mug reading 'Best Dad'`.
 *
 * Rules:
 * - Double quotes (`"…"`, `“…”`) are matched first; single quotes (`'…'`, `‘…’`) are looked for outside them.
 * - An apostrophe between two letters or digits (`Grandma's`, `don't`, `rock'n'roll`) is never a quote mark.
 *   A single quote opens only at the start or after whitespace or an opening bracket, and closes only
 *   before the end, whitespace or punctuation, so a possessive such as `the Smiths' house` opens nothing.
 * - A quote that is never closed is not text to draw. Blank spans are skipped.
 * - Several quoted spans are returned in prompt order.
 */
export function extractQuotedText(prompt: string): string[] {
  // Most prompts quote nothing, and every request is routed through here.
  if (!ANY_QUOTE.test(prompt)) return [];
  const spans: { start: number; text: string }[] = [];
  const outside = collectDoubleQuoted(prompt, spans);
  collectSingleQuoted(outside, spans);
  return spans
    .sort((a, b) => a.start - b.start)
    .map((span) => span.text.trim())
    .filter((text) => text.length > 0);
}

const DOUBLE_OPEN = new Set(['"', '\u201c']);
const DOUBLE_CLOSE = new Set(['"', '\u201d']);
const SINGLE_OPEN = new Set(["'", '\u2018']);
const SINGLE_CLOSE = new Set(["'", '\u2019']);
/** Any of the marks above (none is special inside a character class). */
const ANY_QUOTE = new RegExp(`[${[...DOUBLE_OPEN, ...DOUBLE_CLOSE, ...SINGLE_OPEN, ...SINGLE_CLOSE].join('')}]`);
const WORD_CHARACTER = /[\p{L}\p{N}]/u;
const OPENING_CONTEXT = /[\s([{<\u00ab-]/u;

/** Records double-quoted spans; returns the prompt with them blanked out (same length, so offsets hold). */
function collectDoubleQuoted(prompt: string, spans: { start: number; text: string }[]): string {
  const chars = Array.from(prompt);
  let open = -1;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (open < 0 && DOUBLE_OPEN.has(c)) {
      open = i;
    } else if (open >= 0 && DOUBLE_CLOSE.has(c)) {
      spans.push({ start: open, text: chars.slice(open + 1, i).join('') });
      for (let j = open; j <= i; j++) chars[j] = ' ';
      open = -1;
    }
  }
  return chars.join('');
}

function collectSingleQuoted(text: string, spans: { start: number; text: string }[]): void {
  const chars = Array.from(text);
  const isWord = (i: number): boolean => i >= 0 && i < chars.length && WORD_CHARACTER.test(chars[i]!);
  let open = -1;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (!SINGLE_OPEN.has(c) && !SINGLE_CLOSE.has(c)) continue;
    if (isWord(i - 1) && isWord(i + 1)) continue; // an apostrophe inside a word
    const before = chars[i - 1];
    const after = chars[i + 1];
    const canOpen = SINGLE_OPEN.has(c) && (before === undefined || OPENING_CONTEXT.test(before)) && after !== undefined && !/\s/u.test(after);
    const canClose = SINGLE_CLOSE.has(c) && before !== undefined && !/\s/u.test(before) && !isWord(i + 1);
    if (open >= 0 && canClose) {
      spans.push({ start: open, text: chars.slice(open + 1, i).join('') });
      open = -1;
    } else if (open < 0 && canOpen) {
      open = i;
    }
  }
}
