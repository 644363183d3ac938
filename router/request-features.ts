import { effectiveOutputSize, effectiveScale, extractQuotedText, type GenerateRequest, type Intent, type Lane, type Tier } from '../contract/index.js';

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
}

/** What routing knows besides the request: an upscale source's dimensions, read from the store. */
export interface RouteContext {
  sourceSize?: { width: number; height: number } | undefined;
}

/** The first quoted text in the prompt (see `extractQuotedText` for what counts as a quote), or null. */
export function findQuotedText(prompt: string): string | null {
  return extractQuotedText(prompt)[0] ?? null;
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
  return {
    intent: request.intent,
    tier: request.account.tier,
    megapixels: megapixelsOn(request, lane, context),
    hasText: request.text !== undefined,
    quotedText: findQuotedText(request.prompt),
    typographicWords: words,
    hasSource: request.source !== undefined,
    scale: effectiveScale(request),
  };
}
