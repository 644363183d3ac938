import type { GenerateRequest, Lane } from '../contract/index.js';
import { canaryBucket, BUCKETS } from './canary-bucket.js';
import type { PolicyDocument, PolicyRule, PolicyWhen, RouteTarget } from './policy-schema.js';
import { compileWordMatcher, extractFeatures, megapixelsOn, type RequestFeatures, type RouteContext } from './request-features.js';

/** Where a request goes, and why. */
export interface RouteDecision {
  lane: Lane;
  model: string;
  /** The id of the rule that matched. */
  rule: string;
  policyVersion: number;
  features: RequestFeatures;
}

/**
 * A validated policy ready to evaluate: the word matcher is built once and split weights are
 * turned into bucket thresholds, so evaluation is a few comparisons per rule.
 */
export class CompiledPolicy {
  readonly document: PolicyDocument;
  readonly version: number;
  private readonly wordMatcher: RegExp | null;
  private readonly thresholds: Map<string, Array<{ upTo: number; target: RouteTarget }>>;

  constructor(document: PolicyDocument, version: number) {
    this.document = document;
    this.version = version;
    this.wordMatcher = compileWordMatcher(document.typographicWords);
    this.thresholds = new Map();
    for (const rule of document.rules) {
      if (rule.split === undefined) continue;
      const total = rule.split.reduce((sum, t) => sum + t.weight, 0);
      let cumulative = 0;
      this.thresholds.set(
        rule.id,
        rule.split.map((t) => {
          cumulative += t.weight;
          return { upTo: Math.round((cumulative / total) * BUCKETS), target: { lane: t.lane, model: t.model } };
        }),
      );
    }
  }

  /**
   * The first rule whose `when` holds places the request. A size condition is read against the effective request on
   * the rule's own target lane (a request without a size has its lane's default size), and an upscale's against
   * its source size × scale when `context` has the source's size.
   */
  evaluate(request: GenerateRequest, context: RouteContext = {}): RouteDecision {
    const features = extractFeatures(request, this.wordMatcher, undefined, context);
    for (const rule of this.document.rules) {
      const target = this.targetOf(rule, request.account.id);
      features.megapixels = megapixelsOn(request, target.lane, context);
      if (rule.when !== undefined && !matches(rule.when, features)) continue;
      return { lane: target.lane, model: target.model, rule: rule.id, policyVersion: this.version, features };
    }
    // parsePolicy guarantees a final rule without `when`.
    throw new Error('policy has no default rule');
  }

  private targetOf(rule: PolicyRule, accountId: string): RouteTarget {
    const thresholds = this.thresholds.get(rule.id);
    if (thresholds === undefined) return { lane: rule.lane!, model: rule.model! };
    const bucket = canaryBucket(accountId, rule.id);
    return (thresholds.find((t) => bucket < t.upTo) ?? thresholds[thresholds.length - 1]!).target;
  }
}

function matches(when: PolicyWhen, f: RequestFeatures): boolean {
  if (when.intent && !when.intent.includes(f.intent)) return false;
  if (when.tier && !when.tier.includes(f.tier)) return false;
  if (when.megapixels) {
    if (when.megapixels.min !== undefined && f.megapixels < when.megapixels.min) return false;
    if (when.megapixels.max !== undefined && f.megapixels > when.megapixels.max) return false;
  }
  if (when.hasText !== undefined && when.hasText !== f.hasText) return false;
  if (when.quotedText !== undefined && when.quotedText !== (f.quotedText !== null)) return false;
  if (when.typographicWords !== undefined && when.typographicWords !== f.typographicWords.length > 0) return false;
  if (when.hasSource !== undefined && when.hasSource !== f.hasSource) return false;
  if (when.scale && (f.scale === null || !(when.scale as readonly number[]).includes(f.scale))) return false;
  if (when.script && !f.textScripts.some((s) => when.script!.includes(s))) return false;
  if (when.promptScript && !f.promptScripts.some((s) => when.promptScript!.includes(s))) return false;
  return true;
}
