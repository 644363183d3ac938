import { randomUUID } from 'node:crypto';
import { FleetError, type RedisClient } from '../contract/index.js';
import { resolveCanaryPlan, type CanaryPlanOptions } from './canary-options.js';
import { findBaselineRules } from './canary-split.js';
import { CanaryStore, type CanaryState } from './canary-store.js';
import { PolicyStore } from './policy-store.js';

/**
 * Records a new canary for its lane, against the active policy: which rules it splits and which model is the
 * baseline. Nothing is routed yet: the lane's controller applies the first step at its next tick.
 * @throws FleetError E_VALIDATION for a bad plan or a lane the policy does not send to one baseline model,
 *   E_CANARY_CONFLICT when the lane already has a canary running or paused.
 */
export async function startCanary(redis: RedisClient, prefix: string, options: CanaryPlanOptions, by: string, now = Date.now()): Promise<CanaryState> {
  const plan = resolveCanaryPlan(options);
  const active = await new PolicyStore(redis, prefix).active();
  const { fromModel, ruleIds } = findBaselineRules(active.document, plan.lane, plan.fromModel);
  if (fromModel === plan.model) throw new FleetError('E_VALIDATION', `lane ${plan.lane} is already served by ${plan.model}: nothing to bring in`, { field: 'model' });
  const state: CanaryState = {
    id: `canary-${randomUUID().slice(0, 8)}`,
    plan: { ...plan, fromModel },
    ruleIds,
    status: 'running',
    step: -1,
    stepStartedAt: null,
    snapshot: null,
    decisions: [],
    createdAt: now,
    createdBy: by,
  };
  await new CanaryStore(redis, prefix).create(state);
  return state;
}
