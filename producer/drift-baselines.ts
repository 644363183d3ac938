import { FleetError, fleetKey, NotFoundError, type RedisClient } from '../contract/index.js';
import { DRIFT_FEATURES, driftTotal, type DriftCounts } from '../router/index.js';

/** A saved distribution of request features, what later traffic is compared against. */
export interface DriftBaseline {
  /** 1–64 characters of [A-Za-z0-9._-]. */
  name: string;
  /** Epoch ms. */
  savedAt: number;
  /** Where the counts came from: the ingress's counts over a window, or a file of requests (a policy test set). */
  source: { kind: 'window'; windowMs: number } | { kind: 'file'; path: string };
  /** Requests counted. */
  requests: number;
  counts: DriftCounts;
}

const BASELINE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Baselines in Redis: `<prefix>:drift:baselines` (a hash, name → JSON) and `<prefix>:drift:active-baseline` (the
 * name drift is measured against by default: the last one saved).
 */
export class DriftBaselineStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  /** Stores `baseline` (replacing one of the same name) and makes it the active one. */
  async save(baseline: DriftBaseline): Promise<void> {
    if (!BASELINE_NAME.test(baseline.name)) throw new FleetError('E_VALIDATION', `baseline name must be 1–64 characters of [A-Za-z0-9._-], got ${JSON.stringify(baseline.name)}`, { field: 'name' });
    if (driftTotal(baseline.counts) === 0) throw new FleetError('E_VALIDATION', `baseline ${baseline.name} would be empty: no requests were counted`, { field: 'counts' });
    await this.redis.hset(this.key('baselines'), baseline.name, JSON.stringify(baseline));
    await this.redis.set(this.key('active-baseline'), baseline.name);
  }

  /** The baseline of that name. @throws NotFoundError */
  async get(name: string): Promise<DriftBaseline> {
    const stored = await this.redis.hget(this.key('baselines'), name);
    if (stored === null) throw new NotFoundError(`drift baseline ${name}`);
    return parseBaseline(stored);
  }

  /** The active baseline, or undefined when none was saved. */
  async active(): Promise<DriftBaseline | undefined> {
    const name = await this.redis.get(this.key('active-baseline'));
    if (name === null) return undefined;
    const stored = await this.redis.hget(this.key('baselines'), name);
    return stored === null ? undefined : parseBaseline(stored);
  }

  /** Every baseline, oldest first, and the active one's name. */
  async list(): Promise<{ baselines: DriftBaseline[]; active: string | undefined }> {
    const [all, active] = await Promise.all([this.redis.hgetall(this.key('baselines')), this.redis.get(this.key('active-baseline'))]);
    return { baselines: Object.values(all).map(parseBaseline).sort((a, b) => a.savedAt - b.savedAt), active: active ?? undefined };
  }

  private key(name: string): string {
    return fleetKey(this.prefix, 'drift', name);
  }
}

function parseBaseline(stored: string): DriftBaseline {
  const baseline = JSON.parse(stored) as DriftBaseline;
  // A baseline saved before a feature existed compares that feature against nothing (no score), not against an error.
  for (const feature of DRIFT_FEATURES) baseline.counts[feature] ??= {};
  return baseline;
}
