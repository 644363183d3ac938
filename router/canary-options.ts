import { FleetError, HOUR, MINUTE, SECOND, type Lane } from '../contract/index.js';
import { DEFAULT_GATES, parseGates } from './canary-gates.js';

/** What `fleet canary start` asks for: one new model brought in on one lane, step by step. */
export interface CanaryPlanOptions {
  lane: Lane;
  /** The new model. */
  model: string;
  /** The model it replaces. @default the one model the active policy sends the lane to */
  fromModel?: string;
  /**
   * Shares of the lane's traffic the new model gets, %, one policy version each, ascending; the last must be 100
   * (reaching it is the promotion). @default [5, 25, 50, 100]
   */
  steps?: number[];
  /**
   * Least time at each step before it may be promoted, ms (a failing gate rolls back at once, whatever the time).
   * At most 2 hours, so a step's window stays within the per-minute series' TTL. @default 10 minutes
   */
  intervalMs?: number;
  /** Gates every step must pass (see `parseGates`). @default 'p95<=1.2x,errors<=1%,ocrPass>=97%,cost<=1.1x' */
  gates?: string;
  /**
   * Finished jobs (completed or failed for good) the canary must have in a step's window before its gates decide
   * anything, in either direction; relative gates need as many baseline jobs. @default 100
   */
  minSamples?: number;
}

export type ResolvedCanaryPlan = Required<Omit<CanaryPlanOptions, 'fromModel'>> & { fromModel: string | undefined };

export const CANARY_PLAN_DEFAULTS = {
  steps: [5, 25, 50, 100],
  intervalMs: 10 * MINUTE,
  gates: DEFAULT_GATES,
  minSamples: 100,
} satisfies Required<Omit<CanaryPlanOptions, 'lane' | 'model' | 'fromModel'>>;

export function resolveCanaryPlan(options: CanaryPlanOptions): ResolvedCanaryPlan {
  const plan = { ...CANARY_PLAN_DEFAULTS, ...options, fromModel: options.fromModel };
  const { steps, intervalMs, minSamples } = plan;
  if (steps.length === 0 || steps.some((s, i) => !(s > 0 && s <= 100) || (i > 0 && s <= steps[i - 1]!))) {
    throw new FleetError('E_VALIDATION', `steps must be ascending shares in (0, 100], got ${steps.join(',')}`, { field: 'steps' });
  }
  if (steps[steps.length - 1] !== 100) throw new FleetError('E_VALIDATION', `the last step must be 100 (the promotion), got ${steps.join(',')}`, { field: 'steps' });
  if (!(intervalMs > 0 && intervalMs <= 2 * HOUR)) throw new FleetError('E_VALIDATION', `intervalMs must be in (0, 2 h], got ${intervalMs}`, { field: 'interval' });
  if (!Number.isInteger(minSamples) || minSamples < 1) throw new FleetError('E_VALIDATION', `minSamples must be an integer >= 1, got ${minSamples}`, { field: 'minSamples' });
  if (options.model === options.fromModel) throw new FleetError('E_VALIDATION', `model and fromModel are both ${options.model}`, { field: 'model' });
  parseGates(plan.gates);
  return plan;
}

/** How the controller process runs. */
export interface CanaryControllerOptions {
  /** How often the gates are read and commands picked up, ms. @default 5 seconds */
  pollIntervalMs?: number;
  /**
   * How long the lane's lock outlives the controller's last renewal, ms: a controller that dies is replaced this
   * long after. Must exceed `pollIntervalMs` (the lock is renewed once per poll) plus a tick's time. @default 30 seconds
   */
  leaseMs?: number;
  /** Written as the author of the policy versions. @default 'fleet-canary' */
  author?: string;
  /** Epoch ms. @default Date.now */
  now?: () => number;
  /** Waits; resolves early when `signal` aborts. @default a timer */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const CANARY_CONTROLLER_DEFAULTS = {
  pollIntervalMs: 5 * SECOND,
  leaseMs: 30 * SECOND,
  author: 'fleet-canary',
  now: Date.now,
  sleep: (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
} satisfies Required<CanaryControllerOptions>;

export function resolveCanaryControllerOptions(options: CanaryControllerOptions): Required<CanaryControllerOptions> {
  const resolved = { ...CANARY_CONTROLLER_DEFAULTS, ...options };
  if (!(resolved.pollIntervalMs > 0)) throw new RangeError(`pollIntervalMs must be > 0, got ${resolved.pollIntervalMs}`);
  if (!(resolved.leaseMs > resolved.pollIntervalMs)) throw new RangeError(`leaseMs must be > pollIntervalMs (${resolved.pollIntervalMs}), got ${resolved.leaseMs}`);
  return resolved;
}
