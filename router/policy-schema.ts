import { z } from 'zod';
import { INTENTS, LANES, TIERS } from '../contract/index.js';
import { WRITING_SYSTEMS } from './writing-system.js';

/**
 * The routing policy: an ordered list of rules; the first rule whose `when` holds places the job.
 * The last rule must have no `when` (the default), so every request lands somewhere.
 *
 * ```json
 * { "name": "default", "typographicWords": ["logo", "poster"],
 *   "rules": [
 *     { "id": "exports", "when": { "intent": ["export"] }, "lane": "large", "model": "large-v1" },
 *     { "id": "free-previews", "when": { "tier": ["free"] },
 *       "split": [ { "lane": "flash", "model": "flash-v1", "weight": 75 },
 *                  { "lane": "flash", "model": "flash-v2", "weight": 25 } ] },
 *     { "id": "default", "lane": "flash", "model": "flash-v1" } ] }
 * ```
 */

/** Conditions over request features; all given conditions must hold (AND). Use several rules for OR. */
export const whenSchema = z.strictObject({
  /** The request's intent is one of these. */
  intent: z.array(z.enum(INTENTS)).min(1).optional(),
  /** The account's tier is one of these. */
  tier: z.array(z.enum(TIERS)).min(1).optional(),
  /**
   * Output width × height / 1e6 lies in [min, max]: the request's size, else its lane's default size (the rule's
   * target lane); an upscale's source size × scale. See `RequestFeatures.megapixels`.
   */
  megapixels: z
    .strictObject({ min: z.number().min(0).optional(), max: z.number().min(0).optional() })
    .refine((m) => m.min === undefined || m.max === undefined || m.min <= m.max, { message: 'min must be <= max' })
    .optional(),
  /** The request carries an explicit `text` field. */
  hasText: z.boolean().optional(),
  /** The prompt holds 'single' or "double" quoted text. */
  quotedText: z.boolean().optional(),
  /** The prompt holds one of the policy's `typographicWords` (whole words, any case). */
  typographicWords: z.boolean().optional(),
  /** The request carries a `source` image (upscales). */
  hasSource: z.boolean().optional(),
  /** The upscale factor (the request's, else 2) is one of these. */
  scale: z.array(z.union([z.literal(2), z.literal(4)])).min(1).optional(),
  /**
   * The text to draw (the `text` field, else the prompt's quoted text) has letters of one of these writing systems
   * (`latin`, `cyrillic`, `greek`, `arabic`, `hebrew`, `cjk`, `other`): a rule for text no shipped font covers.
   */
  script: z.array(z.enum(WRITING_SYSTEMS)).min(1).optional(),
  /** The prompt has letters of one of these writing systems. */
  promptScript: z.array(z.enum(WRITING_SYSTEMS)).min(1).optional(),
});
export type PolicyWhen = z.infer<typeof whenSchema>;

const modelName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { message: 'must be a model name of [a-z0-9._-]' });

export const targetSchema = z.strictObject({ lane: z.enum(LANES), model: modelName });
export type RouteTarget = z.infer<typeof targetSchema>;

const splitTargetSchema = targetSchema.extend({
  /** Relative weight; a target's share is weight / sum of weights. */
  weight: z.number().min(0).max(1_000_000),
});

export const ruleSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1–64 characters of [A-Za-z0-9._-]' }),
    /** Absent on the default rule. */
    when: whenSchema.optional(),
    lane: z.enum(LANES).optional(),
    model: modelName.optional(),
    /** A weighted split (canary): each account lands on one side, stably, by hash of (account id, rule id). */
    split: z
      .array(splitTargetSchema)
      .min(2)
      .refine((targets) => targets.some((t) => t.weight > 0), { message: 'at least one weight must be > 0' })
      .optional(),
  })
  .superRefine((rule, ctx) => {
    const direct = rule.lane !== undefined || rule.model !== undefined;
    if (direct && rule.split !== undefined) ctx.addIssue({ code: 'custom', message: 'give either lane + model or split, not both' });
    if (!direct && rule.split === undefined) ctx.addIssue({ code: 'custom', message: 'needs lane + model or split' });
    if (direct && (rule.lane === undefined || rule.model === undefined)) {
      ctx.addIssue({ code: 'custom', path: [rule.lane === undefined ? 'lane' : 'model'], message: 'lane and model go together' });
    }
  });
export type PolicyRule = z.infer<typeof ruleSchema>;

export const policySchema = z
  .strictObject({
    /** A name for people (`default`, `canary-flash-v2`). */
    name: z.string().min(1).max(128),
    /** Words that mark a prompt as typography-sensitive; multi-word entries match as a phrase. */
    typographicWords: z.array(z.string().min(1).max(64).regex(/^[\p{L}\p{N} '-]+$/u)).max(500).default([]),
    rules: z.array(ruleSchema).min(1).max(200),
  })
  .superRefine((policy, ctx) => {
    const seen = new Set<string>();
    policy.rules.forEach((rule, i) => {
      if (seen.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id ${rule.id}` });
      seen.add(rule.id);
      const isLast = i === policy.rules.length - 1;
      if (isLast && rule.when !== undefined && Object.keys(rule.when).length > 0) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'when'], message: 'the last rule is the default and must have no when' });
      }
      if (!isLast && (rule.when === undefined || Object.keys(rule.when).length === 0)) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'when'], message: 'only the last rule may match everything' });
      }
    });
  });

export type PolicyDocument = z.infer<typeof policySchema>;
export type PolicyDocumentInput = z.input<typeof policySchema>;
