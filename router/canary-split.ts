import { FleetError, type Lane } from '../contract/index.js';
import type { PolicyDocument, PolicyRule } from './policy-schema.js';

/** What a canary moves: the share of `lane`'s traffic that `fromModel` serves, to `model`. */
export interface CanaryTarget {
  lane: Lane;
  model: string;
  fromModel: string;
}

/**
 * The rules a canary on `lane` splits: every rule that sends to `lane` a single model (no split), that model being
 * `fromModel` when given. Without `fromModel` the lane must be served by one model, which becomes the baseline.
 * @throws FleetError E_VALIDATION when no rule serves the lane that way, or several models do and none was named.
 */
export function findBaselineRules(document: PolicyDocument, lane: Lane, fromModel?: string): { fromModel: string; ruleIds: string[] } {
  const direct = document.rules.filter((r) => r.split === undefined && r.lane === lane);
  const models = [...new Set(direct.map((r) => r.model!))];
  const baseline = fromModel ?? (models.length === 1 ? models[0] : undefined);
  if (baseline === undefined) {
    const found = models.length === 0 ? 'no rule sends it to a single model' : `rules send it to ${models.join(', ')}`;
    throw new FleetError('E_VALIDATION', `lane ${lane}: ${found}; name the baseline with --from-model`, { field: 'fromModel' });
  }
  const ruleIds = direct.filter((r) => r.model === baseline).map((r) => r.id);
  if (ruleIds.length === 0) throw new FleetError('E_VALIDATION', `no rule of the active policy sends lane ${lane} to model ${baseline} alone`, { field: 'fromModel' });
  return { fromModel: baseline, ruleIds };
}

/**
 * `document` with the canary's rules sending `sharePercent` % of their traffic to `target.model`. Each rule keeps
 * its id, so an account's bucket (a hash of account and rule id) stays put, and the canary takes the top of the
 * bucket range: an account on the canary at 5 % is still on it at 25 %. 0 % and 100 % are single targets.
 */
export function withCanaryShare(document: PolicyDocument, ruleIds: readonly string[], target: CanaryTarget, sharePercent: number): PolicyDocument {
  if (!(sharePercent >= 0 && sharePercent <= 100)) throw new RangeError(`sharePercent must be 0–100, got ${sharePercent}`);
  const rules = document.rules.map((rule): PolicyRule => {
    if (!ruleIds.includes(rule.id)) return rule;
    const base = rule.when === undefined ? { id: rule.id } : { id: rule.id, when: rule.when };
    if (sharePercent === 0) return { ...base, lane: target.lane, model: target.fromModel };
    if (sharePercent === 100) return { ...base, lane: target.lane, model: target.model };
    return {
      ...base,
      split: [
        { lane: target.lane, model: target.fromModel, weight: 100 - sharePercent },
        { lane: target.lane, model: target.model, weight: sharePercent },
      ],
    };
  });
  if (!ruleIds.every((id) => rules.some((r) => r.id === id))) {
    throw new FleetError('E_VALIDATION', `the active policy no longer has the canary's rules ${ruleIds.join(', ')}`, { field: 'rules' });
  }
  return { ...document, rules };
}
