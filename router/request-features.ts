import { effectiveOutputSize, effectiveScale, extractQuotedText, type GenerateRequest, type Intent, type Lane, type Tier } from '../contract/index.js';
import { hasPictograph, writingSystemsOf, type WritingSystem } from './writing-system.js';

/** What routing looks at. `fleet policy explain` prints these beside the decision. */
export interface RequestFeatures {
  intent: Intent;
  tier: Tier;
  /**
   * Output width × height / 1e6 of the effective request: the request's size, else the default of the lane the
   * rule being matched places it on (`effectiveOutputSize`); an upscale's source size × scale when the source was
   * read. 0 only for an upscale whose source size is unknown.
   */
  megapixels: number;
  hasText: boolean;
  /** The first quoted text in the prompt, or null. */
  quotedText: string | null;
  /** The typographic words found in the prompt, lower case, in order of appearance. */
  typographicWords: string[];
  hasSource: boolean;
  /** The upscale factor, the default (2) when the request gives none; null when it is not an upscale. */
  scale: number | null;
  /** Length of the prompt in code points. */
  promptChars: number;
  /** The writing systems of the prompt's letters, most used first (`writingSystemsOf`); empty without letters. */
  promptScripts: WritingSystem[];
  /**
   * The text the typography lane would draw: the `text` field's content, else the prompt's quoted spans, one per
   * line (`drawnText`); null when there is none.
   */
  text: string | null;
  /** The writing systems of `text`, most used first; empty without text or without letters in it. */
  textScripts: WritingSystem[];
  /** The prompt or the text holds an emoji or another pictograph (Unicode Extended_Pictographic). */
  hasEmoji: boolean;
}

/** What routing knows besides the request: an upscale source's dimensions, read from the store. */
export interface RouteContext {
  sourceSize?: { width: number; height: number } | undefined;
}

/** The first quoted text in the prompt (see `extractQuotedText` for what counts as a quote), or null. */
export function findQuotedText(prompt: string): string | null {
  return extractQuotedText(prompt)[0] ?? null;
}

/**
 * The text a typography render draws: the request's `text` content, else its prompt's quoted spans one per line
 * (the typography lane's own reading of a request), else null.
 */
export function drawnText(request: Pick<GenerateRequest, 'prompt' | 'text'>, quoted: readonly string[] = extractQuotedText(request.prompt)): string | null {
  if (request.text !== undefined) return request.text.content;
  return quoted.length === 0 ? null : quoted.join('\n');
}

/** Code points in `text` (UTF-16 length less one per surrogate pair). */
function codePointLength(text: string): number {
  let pairs = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) pairs++;
  }
  return text.length - pairs;
}

/** A matcher for whole words or phrases (any case, any run of spaces between the words of a phrase). */
export function compileWordMatcher(words: readonly string[]): RegExp | null {
  if (words.length === 0) return null;
  const alternatives = [...new Set(words.map((w) => w.trim().toLowerCase()))]
    .sort((a, b) => b.length - a.length)
    .map((w) => w.split(/\s+/).map(escapeRegExp).join('\\s+'));
  return new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}])`, 'giu');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The megapixels of the request's output on `lane` (see `RequestFeatures.megapixels`). */
export function megapixelsOn(request: GenerateRequest, lane: Lane, context: RouteContext = {}): number {
  const size = effectiveOutputSize(request, lane, context.sourceSize);
  return size === null ? 0 : (size.width * size.height) / 1e6;
}

/** The request's features; `megapixels` is for `lane` (the one the request is placed on, once known). */
export function extractFeatures(request: GenerateRequest, wordMatcher: RegExp | null, lane: Lane = request.intent === 'upscale' ? 'upscale' : 'flash', context: RouteContext = {}): RequestFeatures {
  const words = wordMatcher === null ? [] : [...request.prompt.matchAll(wordMatcher)].map((m) => m[0].toLowerCase().replace(/\s+/g, ' '));
  const quoted = extractQuotedText(request.prompt);
  const text = drawnText(request, quoted);
  return {
    intent: request.intent,
    tier: request.account.tier,
    megapixels: megapixelsOn(request, lane, context),
    hasText: request.text !== undefined,
    quotedText: quoted[0] ?? null,
    typographicWords: words,
    hasSource: request.source !== undefined,
    scale: effectiveScale(request),
    promptChars: codePointLength(request.prompt),
    promptScripts: writingSystemsOf(request.prompt),
    text,
    textScripts: text === null ? [] : writingSystemsOf(text),
    hasEmoji: hasPictograph(request.prompt) || (text !== null && hasPictograph(text)),
  };
}
