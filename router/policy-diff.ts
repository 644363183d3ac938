import { isDeepStrictEqual } from 'node:util';
import type { PolicyDocument, PolicyRule } from './policy-schema.js';

/** One difference between two policies, for people (`fleet policy diff`). */
export interface PolicyChange {
  kind: 'rule-added' | 'rule-removed' | 'rule-changed' | 'rule-moved' | 'words-added' | 'words-removed' | 'name-changed';
  /** The rule id, model name or word list the change is about. */
  subject: string;
  before?: unknown;
  after?: unknown;
}

/** Structural differences from `a` to `b`: rules by id (content and order), typographic words. */
export function diffPolicies(a: PolicyDocument, b: PolicyDocument): PolicyChange[] {
  const changes: PolicyChange[] = [];
  if (a.name !== b.name) changes.push({ kind: 'name-changed', subject: 'name', before: a.name, after: b.name });
  const rulesA = new Map(a.rules.map((r, i) => [r.id, { rule: r, index: i }]));
  const rulesB = new Map(b.rules.map((r, i) => [r.id, { rule: r, index: i }]));
  for (const [id, { rule }] of rulesA) if (!rulesB.has(id)) changes.push({ kind: 'rule-removed', subject: id, before: describeRule(rule) });
  for (const [id, { rule, index }] of rulesB) {
    const old = rulesA.get(id);
    if (old === undefined) changes.push({ kind: 'rule-added', subject: id, after: describeRule(rule) });
    else {
      if (!isDeepStrictEqual(old.rule, rule)) changes.push({ kind: 'rule-changed', subject: id, before: describeRule(old.rule), after: describeRule(rule) });
      if (old.index !== index) changes.push({ kind: 'rule-moved', subject: id, before: old.index + 1, after: index + 1 });
    }
  }
  const wordsA = new Set(a.typographicWords);
  const wordsB = new Set(b.typographicWords);
  const added = [...wordsB].filter((w) => !wordsA.has(w));
  const removed = [...wordsA].filter((w) => !wordsB.has(w));
  if (added.length > 0) changes.push({ kind: 'words-added', subject: 'typographicWords', after: added });
  if (removed.length > 0) changes.push({ kind: 'words-removed', subject: 'typographicWords', before: removed });
  return changes;
}

/** A rule in one line: `when {…} → lane/model` or `→ 75 % lane/model, 25 % lane/model`. */
export function describeRule(rule: PolicyRule): string {
  const when = rule.when === undefined ? 'always' : `when ${JSON.stringify(rule.when)}`;
  if (rule.split === undefined) return `${when} → ${rule.lane}/${rule.model}`;
  const total = rule.split.reduce((s, t) => s + t.weight, 0);
  return `${when} → ${rule.split.map((t) => `${Math.round((t.weight / total) * 1000) / 10} % ${t.lane}/${t.model}`).join(', ')}`;
}
