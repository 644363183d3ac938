import type { CatalogueModel, Lane, ModelCatalogue } from '../contract/index.js';
import type { PolicyDocument, PolicyRule } from './policy-schema.js';

/** One target of a policy the fleet cannot serve. */
export interface PolicyTargetProblem {
  /** The rule's id. */
  rule: string;
  lane: Lane;
  model: string;
  message: string;
}

/**
 * The targets of `policy` that the workers' catalogue says cannot be served: a model no worker has, a model not
 * served on the rule's lane, an upscaler whose scale the rule's `scale` condition cannot ask for. A split target of
 * weight 0 takes no traffic and is not checked. An empty catalogue (no worker has published) makes every target a
 * problem: the caller decides whether to apply anyway (`fleet policy apply --force`, bringing up a fleet before its
 * workers).
 */
export function checkPolicyAgainstCatalogue(policy: PolicyDocument, catalogue: ModelCatalogue): PolicyTargetProblem[] {
  const problems: PolicyTargetProblem[] = [];
  for (const rule of policy.rules) {
    for (const { lane, model } of targetsOf(rule)) {
      const served = catalogue.models[model];
      const problem = served === undefined ? missing(model, catalogue) : mismatch(rule, lane, served);
      if (problem !== undefined) problems.push({ rule: rule.id, lane, model, message: `rule ${rule.id}: ${problem}` });
    }
  }
  return problems;
}

function targetsOf(rule: PolicyRule): Array<{ lane: Lane; model: string }> {
  if (rule.split !== undefined) return rule.split.filter((t) => t.weight > 0);
  return [{ lane: rule.lane!, model: rule.model! }];
}

function missing(model: string, catalogue: ModelCatalogue): string {
  if (catalogue.workers === 0) return `routes to model ${model}, but no worker has published its models yet`;
  return `routes to model ${model}, which no worker serves (served: ${Object.keys(catalogue.models).sort().join(', ') || 'none'})`;
}

function mismatch(rule: PolicyRule, lane: Lane, model: CatalogueModel): string | undefined {
  if (!model.lanes.includes(lane)) return `routes lane ${lane} to model ${model.name}, which workers serve only on ${model.lanes.join(', ')}`;
  if (model.kind === 'upscale' && model.scale !== undefined && rule.when?.scale !== undefined && !rule.when.scale.includes(model.scale as 2 | 4)) {
    return `sends scale ${rule.when.scale.join('/')} upscales to model ${model.name}, which upscales ×${model.scale}`;
  }
  return undefined;
}
