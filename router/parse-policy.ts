import { FleetError } from '../contract/index.js';
import { policySchema, type PolicyDocument } from './policy-schema.js';

/**
 * Validates a policy document. Throws `E_POLICY_INVALID` whose `field` is the exact path of the
 * first error (`rules.2.split.0.weight`); every issue is in `details.issues`.
 */
export function parsePolicy(input: unknown): PolicyDocument {
  if (input !== null && typeof input === 'object' && 'models' in input) {
    const message = "cost units come from the models themselves (each model's costUnitsPerImage, published in the workers' catalogue): remove the policy's models table";
    throw new FleetError('E_POLICY_INVALID', `policy invalid at models: ${message}`, { field: 'models', details: { issues: [{ field: 'models', message }] } });
  }
  const parsed = policySchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const field = [...issue.path.map(String), ...keys.slice(0, 1)].join('.') || '(policy)';
    return { field, message: issue.code === 'unrecognized_keys' ? `unknown field ${keys.join(', ')}` : issue.message };
  });
  const first = issues[0]!;
  throw new FleetError('E_POLICY_INVALID', `policy invalid at ${first.field}: ${first.message}`, {
    field: first.field,
    details: { issues },
  });
}
