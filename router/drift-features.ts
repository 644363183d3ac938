import type { RouteDecision } from './compiled-policy.js';

/**
 * What prompt drift watches: one categorical value ("bin") per feature and request, counted per window. Each
 * feature's bins over a window form a distribution, compared against a baseline's by population stability
 * (`populationStability`).
 */
export const DRIFT_FEATURES = [
  'lane',
  'rule',
  'intent',
  'tier',
  'size',
  'promptLength',
  'promptScript',
  'textScript',
  'emoji',
  'hasText',
  'typographicWords',
] as const;
export type DriftFeature = (typeof DRIFT_FEATURES)[number];

/** One request's bin per feature. */
export type DriftBins = Record<DriftFeature, string>;

/** Counts per feature and bin: a window of traffic or a baseline. */
export type DriftCounts = Record<DriftFeature, Record<string, number>>;

/** Upper bounds of the output-size bins, megapixels: 512², 768², 1024² (a little over), 1536², 2048². */
const SIZE_BOUNDS_MP = [0.27, 0.6, 1.1, 2.4, 4.2] as const;
/** Upper bounds of the prompt-length bins, code points (the prompt holds at most 2,000). */
const PROMPT_LENGTH_BOUNDS = [16, 32, 64, 128, 256, 512] as const;

/** The bin of `value` among upper `bounds`: `≤b` for the first bound it does not pass, else `>last`. */
function boundedBin(value: number, bounds: readonly number[], unit = ''): string {
  const bound = bounds.find((b) => value <= b);
  return bound === undefined ? `>${bounds[bounds.length - 1]}${unit}` : `≤${bound}${unit}`;
}

/**
 * The drift bins of a routed request, from its routing decision: lane and rule chosen, intent, tier, output size
 * (on the chosen lane; `unknown` for an upscale whose source was not read), prompt length, the main writing system
 * of the prompt and of the text to draw (`none` without letters, or without text), emoji present, text field
 * present, typographic words found (`0`, `1`, `2+`).
 */
export function driftBinsOf(decision: RouteDecision): DriftBins {
  const f = decision.features;
  return {
    lane: decision.lane,
    rule: decision.rule,
    intent: f.intent,
    tier: f.tier,
    size: f.megapixels === 0 ? 'unknown' : boundedBin(f.megapixels, SIZE_BOUNDS_MP, 'MP'),
    promptLength: boundedBin(f.promptChars, PROMPT_LENGTH_BOUNDS),
    promptScript: f.promptScripts[0] ?? 'none',
    textScript: f.text === null ? 'no text' : (f.textScripts[0] ?? 'none'),
    emoji: f.hasEmoji ? 'yes' : 'no',
    hasText: f.hasText ? 'yes' : 'no',
    typographicWords: f.typographicWords.length >= 2 ? '2+' : String(f.typographicWords.length),
  };
}

/** Empty counts for every feature. */
export function emptyDriftCounts(): DriftCounts {
  return Object.fromEntries(DRIFT_FEATURES.map((feature) => [feature, {}])) as DriftCounts;
}

/** Adds one request's bins (`n` times) into `into`. */
export function addDriftBins(into: DriftCounts, bins: DriftBins, n = 1): DriftCounts {
  for (const feature of DRIFT_FEATURES) {
    const row = into[feature];
    row[bins[feature]] = (row[bins[feature]] ?? 0) + n;
  }
  return into;
}

/** Requests counted: the total of any one feature (every request has one bin per feature). */
export function driftTotal(counts: DriftCounts): number {
  return Object.values(counts.lane).reduce((sum, n) => sum + n, 0);
}
