import { FleetError, groupKey, LANES, type Lane, type RedisClient } from '../contract/index.js';
import type { GateResult } from './canary-gates.js';
import type { ResolvedCanaryPlan } from './canary-options.js';
import type { ModelCounts, ModelFigures } from './model-figures.js';

/**
 * Where a canary is: `running` (moving step by step), `paused` (held at its share, gates not read), and the ends:
 * `promoted` (100 %), `rolled-back` (a gate failed: back to 0 %), `aborted` (by a person: back to 0 %).
 */
export type CanaryStatus = 'running' | 'paused' | 'promoted' | 'rolled-back' | 'aborted';
export const FINISHED_STATUSES: readonly CanaryStatus[] = ['promoted', 'rolled-back', 'aborted'];

/** What people may ask a running canary (`fleet canary pause|resume|abort|promote`). */
export type CanaryCommand = 'pause' | 'resume' | 'abort' | 'promote';

/** One decision, as kept in the canary's state (and, for the ones that change the share, in the policy history). */
export interface CanaryDecision {
  at: number;
  action: 'step' | 'rollback' | 'promoted' | 'abort' | 'promote' | 'pause' | 'resume';
  /** Index into `steps` the canary is at after the decision (-1: none yet). */
  step: number;
  sharePercent: number;
  /** The policy version the decision activated, when it changed the share. */
  policyVersion?: number;
  reason: string;
  /** The step window's figures and gate results that decided it. */
  evidence?: CanaryEvidence;
  by: string;
}

export interface CanaryEvidence {
  window: { fromMs: number; toMs: number };
  canary: ModelFigures;
  baseline: ModelFigures;
  gates: GateResult[];
  minSamples: number;
}

/** A canary's whole state, one JSON value in Redis: what a restarted controller carries on from. */
export interface CanaryState {
  id: string;
  plan: ResolvedCanaryPlan & { fromModel: string };
  /** The rules of the policy the canary splits (their ids keep accounts' buckets). */
  ruleIds: string[];
  status: CanaryStatus;
  /** Index into `plan.steps` of the share in force; -1 before the first step is applied. */
  step: number;
  /** When the current step began (its window's start), epoch ms. */
  stepStartedAt: number | null;
  /** The canary's and the baseline's counts at `stepStartedAt`: a window is a later reading minus these. */
  snapshot: { canary: ModelCounts; baseline: ModelCounts } | null;
  /** The last reading's verdict, for `fleet canary status`. */
  last?: { at: number; verdict: string; reason: string; evidence: CanaryEvidence };
  decisions: CanaryDecision[];
  createdAt: number;
  createdBy: string;
}

/**
 * Canary state in Redis, one per lane: `{<prefix>:canary}:<lane>` (the state), `:<lane>:commands` (a list of
 * people's requests the controller takes in order), `:<lane>:lock` (the controller's lease), `:<lane>:past` (the
 * finished canaries, newest last).
 */
export class CanaryStore {
  constructor(
    private readonly redis: RedisClient,
    readonly prefix: string,
  ) {}

  key(lane: Lane, part?: 'commands' | 'lock' | 'past'): string {
    return part === undefined ? groupKey(this.prefix, 'canary', lane) : groupKey(this.prefix, 'canary', lane, part);
  }

  async get(lane: Lane): Promise<CanaryState | null> {
    const raw = await this.redis.get(this.key(lane));
    return raw === null ? null : (JSON.parse(raw) as CanaryState);
  }

  /** The canary of every lane that has one (finished ones too). */
  async all(): Promise<CanaryState[]> {
    const states = await Promise.all(LANES.map((lane) => this.get(lane)));
    return states.filter((s): s is CanaryState => s !== null);
  }

  /**
   * Stores a new canary; one that finished is moved to `:past` first.
   * @throws FleetError E_CONFLICT when the lane has a canary still running or paused.
   */
  async create(state: CanaryState): Promise<void> {
    const lane = state.plan.lane;
    const key = this.key(lane);
    for (let attempt = 0; attempt < 5; attempt++) {
      await this.redis.watch(key);
      const current = await this.get(lane);
      if (current !== null && !FINISHED_STATUSES.includes(current.status)) {
        await this.redis.unwatch();
        throw new FleetError('E_CANARY_CONFLICT', `lane ${lane} already has a canary (${current.plan.model}, ${current.status}): abort or promote it first`);
      }
      const multi = this.redis.multi();
      if (current !== null) multi.rpush(this.key(lane, 'past'), JSON.stringify(current));
      multi.del(this.key(lane, 'commands'));
      multi.set(key, JSON.stringify(state));
      if ((await multi.exec()) !== null) return;
    }
    throw new FleetError('E_CANARY_CONFLICT', `lane ${lane}: the canary state kept changing while starting; try again`);
  }

  /** Writes the state (only the lane's lock holder does). */
  async save(state: CanaryState): Promise<void> {
    await this.redis.set(this.key(state.plan.lane), JSON.stringify(state));
  }

  async pushCommand(lane: Lane, command: CanaryCommand, by: string): Promise<void> {
    await this.redis.rpush(this.key(lane, 'commands'), JSON.stringify({ command, by }));
  }

  /** Takes every pending command, oldest first. */
  async takeCommands(lane: Lane): Promise<Array<{ command: CanaryCommand; by: string }>> {
    const key = this.key(lane, 'commands');
    const [[, raw]] = ((await this.redis.multi().lrange(key, 0, -1).del(key).exec()) ?? [[null, []]]) as [[Error | null, string[]]];
    return (raw ?? []).map((line) => JSON.parse(line) as { command: CanaryCommand; by: string });
  }
}
