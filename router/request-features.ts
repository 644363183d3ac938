import type { GenerateRequest, Intent, Tier } from '../contract/index.js';

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

/**
 * Quoted text: "double", “curly”, or 'single' quotes that are not apostrophes (a quote mark touching
 * a letter or digit on its outer side, as in Grandma's, does not open or close a quote).
 */
const QUOTED = [
  /"([^"\n]{1,200}?)"/u,
  /\u201c([^\u201d\n]{1,200}?)\u201d/u,
  /(?<![\p{L}\p{N}])'([^'\n]{1,200}?)'(?![\p{L}\p{N}])/u,
  /(?<![\p{L}\p{N}])\u2018([^\u2019\n]{1,200}?)\u2019(?![\p{L}\p{N}])/u,
];

export function findQuotedText(prompt: string): string | null {
  let best: { index: number; text: string } | null = null;
  for (const pattern of QUOTED) {
    const match = pattern.exec(prompt);
    if (match && match[1]!.trim() !== '' && (best === null || match.index < best.index)) {
      best = { index: match.index, text: match[1]! };
    }
  }
  return best?.text ?? null;
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
