export { policySchema, whenSchema, ruleSchema, targetSchema } from './policy-schema.js';
export type { PolicyDocument, PolicyDocumentInput, PolicyRule, PolicyWhen, RouteTarget } from './policy-schema.js';
export { parsePolicy } from './parse-policy.js';
export { CompiledPolicy, type RouteDecision } from './compiled-policy.js';
export { extractFeatures, findQuotedText, compileWordMatcher, type RequestFeatures } from './request-features.js';
export { canaryBucket, BUCKETS } from './canary-bucket.js';
export { loadDefaultPolicy, DEFAULT_POLICY_PATH } from './default-policy.js';
export { staticPolicySource, type PolicySource } from './policy-source.js';
