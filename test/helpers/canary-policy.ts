import { loadDefaultPolicy, type PolicyDocument } from '../../router/index.js';

/** The default policy with 25 % of free-tier previews on flash-v2 (a canary). */
export function canaryPolicy(share = 25): PolicyDocument {
  const base = loadDefaultPolicy();
  const rules = [...base.rules];
  rules.splice(rules.length - 1, 0, {
    id: 'free-previews-canary',
    when: { tier: ['free'], intent: ['preview'] },
    split: [
      { lane: 'flash', model: 'flash-v1', weight: 100 - share },
      { lane: 'flash', model: 'flash-v2', weight: share },
    ],
  });
  return { ...base, name: `canary-flash-v2-${share}`, rules };
}
