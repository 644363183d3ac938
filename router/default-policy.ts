import { readFileSync } from 'node:fs';
import { parsePolicy } from './parse-policy.js';
import type { PolicyDocument } from './policy-schema.js';

/** Where the shipped default policy lives (`router/policies/default.json`). */
export const DEFAULT_POLICY_PATH = new URL('./policies/default.json', import.meta.url);

/** The shipped default policy, validated. */
export function loadDefaultPolicy(): PolicyDocument {
  return parsePolicy(JSON.parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')));
}
