import type { TextAlign } from './text-spec.js';

/** A rectangle in pixels of the image. */
export interface PixelBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** What layout needs of a font: shaped advance widths and vertical extents, in em (`FontMetrics` is one). */
export interface FontMeasure {
  advanceEm(text: string): number;
  readonly ascenderEm: number;
  readonly descenderEm: number;
}

export interface TextLayoutOptions {
  /** Distance between baselines of consecutive lines, in em. @default 1.2 */
  lineHeightEm?: number;
  /** Inner margin kept free on every side of the box, in em of the fitted size. @default 0.15 */
  paddingEm?: number;
  /** Smallest size tried, px. Text that does not fit even at this size is broken inside words and may overflow the box (`overflow: true`). @default 10 */
  minFontSizePx?: number;
  /** Largest size tried, px. @default 400 */
  maxFontSizePx?: number;
  /** Resolution of the size search, px: the fitted size is the largest multiple of this step that fits. @default 0.5 */
  fontSizeStepPx?: number;
  /** After fitting, re-wrap each paragraph to the narrowest width that keeps its number of lines, so lines are of even length. @default true */
  balanceLines?: boolean;
}

export type ResolvedTextLayoutOptions = Required<TextLayoutOptions>;

export const TEXT_LAYOUT_DEFAULTS = {
  lineHeightEm: 1.2,
  paddingEm: 0.15,
  minFontSizePx: 10,
  maxFontSizePx: 400,
  fontSizeStepPx: 0.5,
  balanceLines: true,
} satisfies ResolvedTextLayoutOptions;

export function resolveTextLayoutOptions(options: TextLayoutOptions = {}): ResolvedTextLayoutOptions {
  const resolved = { ...TEXT_LAYOUT_DEFAULTS, ...stripUndefined(options) };
  for (const key of ['lineHeightEm', 'minFontSizePx', 'maxFontSizePx', 'fontSizeStepPx'] as const) {
    if (!(resolved[key] > 0)) throw new RangeError(`${key} must be > 0, got ${resolved[key]}`);
  }
  if (!(resolved.paddingEm >= 0)) throw new RangeError(`paddingEm must be >= 0, got ${resolved.paddingEm}`);
  if (resolved.maxFontSizePx < resolved.minFontSizePx) {
    throw new RangeError(`maxFontSizePx must be >= minFontSizePx (${resolved.minFontSizePx}), got ${resolved.maxFontSizePx}`);
  }
  return resolved;
}

/** One laid-out line: its text and where its advance box sits, in image pixels. */
export interface TextLayoutLine {
  text: string;
  /** Left edge of the line's advance box (where the SVG `<text>` starts). */
  x: number;
  /** Baseline y. */
  baselineY: number;
  /** Shaped advance width, px. */
  widthPx: number;
}

/** The result of `layoutText`: a font size and positioned lines. */
export interface TextLayout {
  fontSizePx: number;
  lineHeightPx: number;
  ascentPx: number;
  descentPx: number;
  lines: TextLayoutLine[];
  /** The box the text was fitted to. */
  box: PixelBox;
  /** Union of the lines' boxes (advance width × ascent to descent). */
  block: PixelBox;
  /** True when the text did not fit at `minFontSizePx` and spills out of `box`. */
  overflow: boolean;
  /** True when a word wider than the box at every size was broken across lines. */
  brokenWords: boolean;
}

/**
 * Lays text out in `box`: the largest font size (binary search in `fontSizeStepPx` steps between
 * `minFontSizePx` and `maxFontSizePx`) at which the word-wrapped lines, measured with `font`, fit inside
 * the box less `paddingEm` on each side. Explicit line breaks are kept; runs of spaces collapse to one.
 * A word too wide for the box at every size is broken between characters (at the largest size that then fits).
 * Each line is aligned left, centred or right inside the padded box; the block of lines is centred vertically.
 * Deterministic: the same text, box, font and options give the same layout.
 */
export function layoutText(content: string, box: PixelBox, font: FontMeasure, align: TextAlign, options: TextLayoutOptions = {}): TextLayout {
  const o = resolveTextLayoutOptions(options);
  const paragraphs = splitParagraphs(content);
  const wrapAt = (sizePx: number, breakWords: boolean): string[][] | null => {
    const widthEm = (box.width - 2 * o.paddingEm * sizePx) / sizePx;
    if (widthEm <= 0) return null;
    const wrapped: string[][] = [];
    for (const words of paragraphs) {
      const lines = wrapWords(words, widthEm, font, breakWords);
      if (lines === null) return null;
      wrapped.push(lines);
    }
    return wrapped;
  };
  const fits = (sizePx: number, breakWords: boolean): string[][] | null => {
    const wrapped = wrapAt(sizePx, breakWords);
    if (wrapped === null) return null;
    return blockHeightPx(countLines(wrapped), sizePx, font, o) <= box.height - 2 * o.paddingEm * sizePx ? wrapped : null;
  };
  const largestFitting = (breakWords: boolean): { sizePx: number; wrapped: string[][] } | null => {
    let low = 0;
    let high = Math.floor((o.maxFontSizePx - o.minFontSizePx) / o.fontSizeStepPx);
    let found: { sizePx: number; wrapped: string[][] } | null = null;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const sizePx = o.minFontSizePx + mid * o.fontSizeStepPx;
      const wrapped = fits(sizePx, breakWords);
      if (wrapped !== null) {
        found = { sizePx, wrapped };
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  };

  // Words are broken only when some word is wider than the box at every size.
  let best = largestFitting(false);
  const brokenWords = best === null;
  if (best === null) best = largestFitting(true);
  let overflow = false;
  if (best === null) {
    overflow = true;
    const sizePx = o.minFontSizePx;
    best = { sizePx, wrapped: wrapAt(sizePx, true) ?? paragraphs.map((words) => [words.join(' ')]) };
  } else if (o.balanceLines && !brokenWords) {
    const widthEm = (box.width - 2 * o.paddingEm * best.sizePx) / best.sizePx;
    best.wrapped = best.wrapped.map((lines, i) => (lines.length > 1 ? balance(paragraphs[i]!, lines.length, widthEm, font) : lines));
  }
  return { ...position(best.wrapped.flat(), best.sizePx, box, font, align, o, overflow), brokenWords };
}

function position(
  lines: string[],
  sizePx: number,
  box: PixelBox,
  font: FontMeasure,
  align: TextAlign,
  o: ResolvedTextLayoutOptions,
  overflow: boolean,
): Omit<TextLayout, 'brokenWords'> {
  const lineHeightPx = o.lineHeightEm * sizePx;
  const ascentPx = font.ascenderEm * sizePx;
  const descentPx = font.descenderEm * sizePx;
  const heightPx = blockHeightPx(lines.length, sizePx, font, o);
  const top = box.top + (box.height - heightPx) / 2;
  const paddingPx = o.paddingEm * sizePx;
  const placed = lines.map((text, i): TextLayoutLine => {
    const widthPx = font.advanceEm(text) * sizePx;
    const x =
      align === 'left' ? box.left + paddingPx : align === 'right' ? box.left + box.width - paddingPx - widthPx : box.left + (box.width - widthPx) / 2;
    return { text, x, baselineY: top + ascentPx + i * lineHeightPx, widthPx };
  });
  const visible = placed.filter((line) => line.text.length > 0);
  const left = visible.length === 0 ? box.left + box.width / 2 : Math.min(...visible.map((line) => line.x));
  const right = visible.length === 0 ? left : Math.max(...visible.map((line) => line.x + line.widthPx));
  return {
    fontSizePx: sizePx,
    lineHeightPx,
    ascentPx,
    descentPx,
    lines: placed,
    box: { ...box },
    block: { left, top, width: right - left, height: heightPx },
    overflow,
  };
}

function blockHeightPx(lineCount: number, sizePx: number, font: FontMeasure, o: ResolvedTextLayoutOptions): number {
  return (font.ascenderEm + font.descenderEm) * sizePx + Math.max(0, lineCount - 1) * o.lineHeightEm * sizePx;
}

function countLines(wrapped: string[][]): number {
  return wrapped.reduce((n, lines) => n + lines.length, 0);
}

/** Paragraphs (split at line breaks, outer blank lines dropped) as lists of words. */
function splitParagraphs(content: string): string[][] {
  const paragraphs = content
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.split(/[^\S\n]+/u).filter((word) => word.length > 0));
  while (paragraphs.length > 1 && paragraphs[0]!.length === 0) paragraphs.shift();
  while (paragraphs.length > 1 && paragraphs.at(-1)!.length === 0) paragraphs.pop();
  return paragraphs;
}

/** Greedy wrap of one paragraph at `widthEm`; `null` when a word alone is too wide and `breakWords` is off. */
function wrapWords(words: string[], widthEm: number, font: FontMeasure, breakWords: boolean): string[] | null {
  if (words.length === 0) return [''];
  const lines: string[] = [];
  let current = '';
  for (const word of words) {
    const candidate = current === '' ? word : `${current} ${word}`;
    if (font.advanceEm(candidate) <= widthEm) {
      current = candidate;
      continue;
    }
    if (current !== '') lines.push(current);
    if (font.advanceEm(word) <= widthEm) {
      current = word;
    } else if (breakWords) {
      const pieces = breakWord(word, widthEm, font);
      lines.push(...pieces.slice(0, -1));
      current = pieces.at(-1)!;
    } else {
      return null;
    }
  }
  lines.push(current);
  return lines;
}

function breakWord(word: string, widthEm: number, font: FontMeasure): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const char of Array.from(word)) {
    if (current !== '' && font.advanceEm(current + char) > widthEm) {
      pieces.push(current);
      current = char;
    } else {
      current += char;
    }
  }
  pieces.push(current);
  return pieces;
}

/** The narrowest wrap width (to 1/100 em) that still gives `lineCount` lines, and its lines. */
function balance(words: string[], lineCount: number, widthEm: number, font: FontMeasure): string[] {
  let low = Math.max(...words.map((word) => font.advanceEm(word)));
  let high = widthEm;
  let best = wrapWords(words, widthEm, font, false)!;
  while (high - low > 0.01) {
    const mid = (low + high) / 2;
    const lines = wrapWords(words, mid, font, false);
    if (lines !== null && lines.length <= lineCount) {
      best = lines;
      high = mid;
    } else {
      low = mid;
    }
  }
  return best;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
