import { CompiledPolicy } from './compiled-policy.js';
import { loadDefaultPolicy } from './default-policy.js';

/**
 * Where producers get the policy they route with. `current()` is synchronous and cheap: it is called
 * once per request. The Redis policy store implements it with hot switching; a static source serves
 * tools and tests.
 */
export interface PolicySource {
  current(): CompiledPolicy;
  /** Loads the first policy; `current()` may be called once it resolved. Retried after a failure. */
  start?(): Promise<void>;
  close?(): Promise<void>;
}

/** A fixed policy. @default the shipped default policy as version 0 */
export function staticPolicySource(policy: CompiledPolicy = new CompiledPolicy(loadDefaultPolicy(), 0)): PolicySource {
  return { current: () => policy };
}
