import type { GenerateRequest, TextSpec } from '../../contract/index.js';
import { extractQuotedText } from '../../contract/index.js';

/** Horizontal alignment of each line inside the text box. */
export type TextAlign = 'left' | 'center' | 'right';

/** What a failed OCR check does: `flag` returns the image with `passed: false`; `fail` fails the job (E_TEXT_CHECK). */
export type TextOnFail = 'flag' | 'fail';

/** A box in fractions (0–1) of the image: `x`, `y` of the top-left corner, `width`, `height`. */
export interface FractionBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The text layer a typography job draws, with every default filled in.
 * (`contract`'s `TextSpec` is the request field as sent; this is what the lane works from.)
 */
export interface ResolvedTextSpec {
  /** The text to draw, 1–200 characters; `\n` starts a new line (explicit breaks are kept, long lines also wrap). */
  content: string;
  /** Font family as asked; `resolveFontFace` maps it to a face the fleet ships, falling back to the default family. @default 'DejaVu Sans' */
  font: string;
  /** Font weight, 100–900 (`normal` is 400, `bold` 700); the nearest face the family has is used. @default 700 */
  weight: number;
  /** Alignment of each line inside the box; the block of lines is always centred vertically. @default 'center' */
  align: TextAlign;
  /** Text colour `#rrggbb`, or `null` to choose black or white for contrast with the background. @default null */
  color: string | null;
  /** Where the text goes, in fractions of the image. @default { x: 0.1, y: 0.35, width: 0.8, height: 0.3 } */
  position: FractionBox;
  /** @default 'flag' */
  onFail: TextOnFail;
  /** Where the text came from: the request's `text` field, or quotes in the prompt. */
  source: 'field' | 'prompt';
}

/** Defaults for the fields a request may leave out. */
export const TEXT_SPEC_DEFAULTS = {
  font: 'DejaVu Sans',
  weight: 700,
  align: 'center',
  color: null,
  position: { x: 0.1, y: 0.35, width: 0.8, height: 0.3 },
  onFail: 'flag',
} as const satisfies Omit<ResolvedTextSpec, 'content' | 'source'>;

/** Longest text the lane draws (the request schema's limit). */
export const MAX_TEXT_LENGTH = 200;

/**
 * The text layer of a request: its `text` field, or failing that the quoted text in its prompt
 * (several quoted spans become lines; see `extractQuotedText`), or `null` when there is no text to draw.
 * Quoted text longer than 200 characters altogether is cut at a word boundary before 200.
 * The request is expected to have passed `parseGenerateRequest`; fields are not validated again here.
 */
export function resolveTextSpec(request: Pick<GenerateRequest, 'prompt' | 'text'>): ResolvedTextSpec | null {
  if (request.text !== undefined) return fromField(request.text);
  const quoted = extractQuotedText(request.prompt);
  if (quoted.length === 0) return null;
  return { ...defaults(), content: truncateAtWord(quoted.join('\n'), MAX_TEXT_LENGTH), source: 'prompt' };
}

function fromField(text: TextSpec): ResolvedTextSpec {
  const weight = text.weight === undefined ? TEXT_SPEC_DEFAULTS.weight : text.weight === 'bold' ? 700 : text.weight === 'normal' ? 400 : text.weight;
  return {
    content: text.content.replace(/\r\n?/g, '\n'),
    font: text.font ?? TEXT_SPEC_DEFAULTS.font,
    weight,
    align: text.align ?? TEXT_SPEC_DEFAULTS.align,
    color: text.color === undefined ? null : normaliseHexColour(text.color),
    position: text.position ? { ...text.position } : { ...TEXT_SPEC_DEFAULTS.position },
    onFail: text.onFail ?? TEXT_SPEC_DEFAULTS.onFail,
    source: 'field',
  };
}

function defaults(): Omit<ResolvedTextSpec, 'content' | 'source'> {
  return { ...TEXT_SPEC_DEFAULTS, position: { ...TEXT_SPEC_DEFAULTS.position } };
}

/** `#abc` → `#aabbcc`, lower case. */
export function normaliseHexColour(colour: string): string {
  const hex = colour.replace(/^#/, '').toLowerCase();
  if (!/^([0-9a-f]{3}|[0-9a-f]{6})$/.test(hex)) throw new RangeError(`colour must be #rgb or #rrggbb, got ${JSON.stringify(colour)}`);
  return `#${hex.length === 3 ? Array.from(hex, (c) => c + c).join('') : hex}`;
}

function truncateAtWord(text: string, maxLength: number): string {
  const chars = Array.from(text);
  if (chars.length <= maxLength) return text;
  const cut = chars.slice(0, maxLength).join('');
  const lastBreak = cut.search(/\s\S*$/u);
  return (lastBreak > 0 ? cut.slice(0, lastBreak) : cut).trimEnd();
}
