import { extractQuotedText, type GenerateRequest, type Intent, type Tier } from '../contract/index.js';

/** What routing looks at. `fleet policy explain` prints these beside the decision. */
export interface RequestFeatures {
  intent: Intent;
  tier: Tier;
  /** width × height / 1e6; 0 when the request gives no size (the lane's default applies later). */
  megapixels: number;
  hasText: boolean;
  /** The first quoted text in the prompt, or null. */
  quotedText: string | null;
  /** The typographic words found in the prompt, lower case, in order of appearance. */
  typographicWords: string[];
  hasSource: boolean;
  scale: 2 | 4 | null;
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

export function extractFeatures(request: GenerateRequest, wordMatcher: RegExp | null): RequestFeatures {
  const words = wordMatcher === null ? [] : [...request.prompt.matchAll(wordMatcher)].map((m) => m[0].toLowerCase().replace(/\s+/g, ' '));
  return {
    intent: request.intent,
    tier: request.account.tier,
    megapixels: request.width !== undefined && request.height !== undefined ? (request.width * request.height) / 1e6 : 0,
    hasText: request.text !== undefined,
    quotedText: findQuotedText(request.prompt),
    typographicWords: words,
    hasSource: request.source !== undefined,
    scale: request.scale ?? null,
  };
}
