import type { GenerateRequest } from '../contract/index.js';
import type { CompiledPolicy } from './compiled-policy.js';

/** How a candidate policy would place a set of requests, against the active one. */
export interface PolicyImpact {
  total: number;
  /** Requests whose lane or model would change. */
  changed: number;
  /** Count per `from → to` lane pair (only pairs that differ). */
  laneShifts: Record<string, number>;
  /** Count per `from → to` model pair (only pairs that differ). */
  modelShifts: Record<string, number>;
  /** Share of requests per lane under each policy. */
  lanes: { active: Record<string, number>; candidate: Record<string, number> };
  /**
   * Mean cost units per render under each policy, from the models' own cost units (`costUnitsOf`), over the
   * requests whose models both policies' costs are known for; `unknownCost` counts the others (left out).
   */
  costPerRender: { active: number; candidate: number; ratio: number; unknownCost: number };
  /** Requests that hit each rule of the candidate. */
  candidateRuleHits: Record<string, number>;
}

/**
 * How `candidate` would place `requests` against `active`.
 * @param costUnitsOf a model's cost units per image (its `costUnitsPerImage`), undefined when no model of that name is known
 */
export function comparePolicies(active: CompiledPolicy, candidate: CompiledPolicy, requests: readonly GenerateRequest[], costUnitsOf: (model: string) => number | undefined): PolicyImpact {
  const impact: PolicyImpact = {
    total: requests.length,
    changed: 0,
    laneShifts: {},
    modelShifts: {},
    lanes: { active: {}, candidate: {} },
    costPerRender: { active: 0, candidate: 0, ratio: 1, unknownCost: 0 },
    candidateRuleHits: {},
  };
  let costActive = 0;
  let costCandidate = 0;
  let costed = 0;
  let unknownCost = 0;
  for (const request of requests) {
    const a = active.evaluate(request);
    const c = candidate.evaluate(request);
    bump(impact.lanes.active, a.lane);
    bump(impact.lanes.candidate, c.lane);
    bump(impact.candidateRuleHits, c.rule);
    const [ca, cc] = [costUnitsOf(a.model), costUnitsOf(c.model)];
    if (ca === undefined || cc === undefined) unknownCost++;
    else {
      costActive += ca;
      costCandidate += cc;
      costed++;
    }
    if (a.lane !== c.lane) bump(impact.laneShifts, `${a.lane} → ${c.lane}`);
    if (a.model !== c.model) bump(impact.modelShifts, `${a.model} → ${c.model}`);
    if (a.lane !== c.lane || a.model !== c.model) impact.changed++;
  }
  const n = Math.max(costed, 1);
  impact.costPerRender = { active: costActive / n, candidate: costCandidate / n, ratio: costActive === 0 ? 1 : costCandidate / costActive, unknownCost };
  return impact;
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
