import { isDeepStrictEqual } from 'node:util';
import type { Lane, RedisClient } from '../contract/index.js';
import { evaluateGates, parseGates, type Gate, type GateVerdict } from './canary-gates.js';
import { resolveCanaryControllerOptions, type CanaryControllerOptions } from './canary-options.js';
import { withCanaryShare } from './canary-split.js';
import { CanaryStore, FINISHED_STATUSES, type CanaryCommand, type CanaryDecision, type CanaryEvidence, type CanaryState } from './canary-store.js';
import { figuresOf, subtractModelCounts } from './model-figures.js';
import { PolicyStore } from './policy-store.js';
import { readModelCounts } from './read-model-counts.js';
import { RedisLease } from './redis-lease.js';

export interface CanaryLaneControllerOptions extends CanaryControllerOptions {
  redis: RedisClient;
  prefix: string;
  lane: Lane;
  /** Told of every decision (the CLI logs them and counts rollbacks for Prometheus). @default none */
  onDecision?: (decision: CanaryDecision, state: CanaryState) => void;
}

/**
 * Moves one lane's canary through its steps: each tick takes people's commands, then reads the step's window
 * (the canary's and the baseline's per-model counts now, minus their counts when the step began), and rolls back
 * at once when a gate fails, or promotes to the next step when every gate held for `intervalMs` over at least
 * `minSamples` jobs. Every share change is a policy version whose comment says why and whose evidence holds the
 * figures. All state is in Redis (see CanaryStore), so a controller that restarts carries on from the same step
 * and window; the lane's lease (`run`) keeps it to one controller per lane.
 */
export class CanaryController {
  readonly lane: Lane;
  private readonly options;
  private readonly canaries: CanaryStore;
  private readonly policies: PolicyStore;
  private readonly lease: RedisLease;

  constructor(options: CanaryLaneControllerOptions) {
    this.options = { ...resolveCanaryControllerOptions(options), redis: options.redis, prefix: options.prefix, onDecision: options.onDecision };
    this.lane = options.lane;
    this.canaries = new CanaryStore(options.redis, options.prefix);
    this.policies = new PolicyStore(options.redis, options.prefix, this.options.now);
    this.lease = new RedisLease(options.redis, this.canaries.key(options.lane, 'lock'), this.options.leaseMs);
  }

  /**
   * Holds the lane's lease and ticks every `pollIntervalMs` until `signal` aborts (or, with `untilFinished`, the
   * canary has finished). Waits for the lease while another controller has it; a lost lease (this process
   * stalled past it) is taken again before the next tick.
   */
  async run(options: { signal?: AbortSignal; untilFinished?: boolean } = {}): Promise<CanaryState | null> {
    const { signal, untilFinished = false } = options;
    let state: CanaryState | null = null;
    try {
      while (signal?.aborted !== true) {
        if (await this.lease.acquire()) {
          state = await this.tick();
          if (untilFinished && (state === null || FINISHED_STATUSES.includes(state.status))) return state;
        }
        await this.options.sleep(this.options.pollIntervalMs, signal);
      }
      return state;
    } finally {
      await this.lease.release().catch(() => {});
    }
  }

  /** Runs one tick under the lease when no controller holds it (a person's command with no controller running). */
  async tickIfFree(): Promise<{ ran: boolean; state: CanaryState | null }> {
    if (!(await this.lease.acquire())) return { ran: false, state: await this.canaries.get(this.lane) };
    try {
      return { ran: true, state: await this.tick() };
    } finally {
      await this.lease.release();
    }
  }

  /** One decision round (the caller holds the lease). Returns the state after it, or null when the lane has no canary. */
  async tick(): Promise<CanaryState | null> {
    const state = await this.canaries.get(this.lane);
    if (state === null) return null;
    if (FINISHED_STATUSES.includes(state.status)) {
      await this.canaries.takeCommands(this.lane);
      return state;
    }
    for (const { command, by } of await this.canaries.takeCommands(this.lane)) {
      await this.obey(state, command, by);
      if (FINISHED_STATUSES.includes(state.status)) break;
    }
    if (state.status === 'running') {
      if (state.step < 0) await this.enterStep(state, 0, 'step', 'first step', undefined, this.options.author);
      else await this.judge(state);
    }
    await this.canaries.save(state);
    return state;
  }

  private async obey(state: CanaryState, command: CanaryCommand, by: string): Promise<void> {
    const share = this.shareOf(state);
    if (command === 'pause' && state.status === 'running') {
      state.status = 'paused';
      this.decide(state, { action: 'pause', step: state.step, sharePercent: share, reason: `paused by ${by}: held at ${share} %`, by });
    } else if (command === 'resume' && state.status === 'paused') {
      state.status = 'running';
      // Traffic seen while paused was never judged against the gates: the step's window starts again.
      if (state.step >= 0) await this.startWindow(state);
      this.decide(state, { action: 'resume', step: state.step, sharePercent: share, reason: `resumed by ${by}: the step's window starts again`, by });
    } else if (command === 'abort') {
      const version = await this.applyShare(state, 0, `canary ${state.plan.model} on ${state.plan.lane}: aborted by ${by} at ${share} %, back to ${state.plan.fromModel}`, undefined);
      state.status = 'aborted';
      this.decide(state, { action: 'abort', step: state.step, sharePercent: 0, policyVersion: version, reason: `aborted by ${by} at ${share} %`, by });
    } else if (command === 'promote') {
      await this.enterStep(state, state.plan.steps.length - 1, 'promote', `promoted by ${by} from ${share} %`, undefined, by);
    }
  }

  /** Reads the step's window and decides: roll back, move on, or wait. */
  private async judge(state: CanaryState): Promise<void> {
    const { evidence, verdict } = await this.readWindow(state);
    state.last = { at: this.options.now(), verdict: verdict.verdict, reason: verdict.reason, evidence };
    const share = this.shareOf(state);
    const at = `${share} % (step ${state.step + 1}/${state.plan.steps.length})`;
    if (verdict.verdict === 'fail') {
      const comment = `canary ${state.plan.model} on ${state.plan.lane}: rolled back at ${at} to ${state.plan.fromModel}: ${verdict.reason}`;
      const version = await this.applyShare(state, 0, comment, { change: this.describe(state, 'rollback'), ...evidence });
      state.status = 'rolled-back';
      this.decide(state, { action: 'rollback', step: state.step, sharePercent: 0, policyVersion: version, reason: verdict.reason, evidence, by: this.options.author });
      return;
    }
    const served = this.options.now() - (state.stepStartedAt ?? 0);
    if (verdict.verdict === 'pass' && served >= state.plan.intervalMs) {
      await this.enterStep(state, state.step + 1, 'step', `every gate held at ${at} over ${evidence.canary.samples} canary jobs: ${verdict.reason}`, evidence, this.options.author);
    }
  }

  /** Applies step `index`'s share as a policy version; the last step is the promotion and ends the canary. */
  private async enterStep(state: CanaryState, index: number, action: 'step' | 'promote', why: string, evidence: CanaryEvidence | undefined, by: string): Promise<void> {
    const share = state.plan.steps[index]!;
    const final = index === state.plan.steps.length - 1;
    const what = final ? `promoted to 100 %, replacing ${state.plan.fromModel}` : `step ${index + 1}/${state.plan.steps.length}: ${share} %`;
    const comment = `canary ${state.plan.model} on ${state.plan.lane}: ${what} (${why})`;
    const version = await this.applyShare(state, share, comment, evidence === undefined ? { change: this.describe(state, action, index) } : { change: this.describe(state, action, index), ...evidence });
    state.step = index;
    if (final) state.status = 'promoted';
    else await this.startWindow(state);
    this.decide(state, { action: final && action === 'step' ? 'promoted' : action, step: index, sharePercent: share, policyVersion: version, reason: why, ...(evidence === undefined ? {} : { evidence }), by });
  }

  private async startWindow(state: CanaryState): Promise<void> {
    const now = this.options.now();
    const [canary, baseline] = await Promise.all([this.countsOf(state.plan.model, now, now), this.countsOf(state.plan.fromModel, now, now)]);
    state.stepStartedAt = now;
    state.snapshot = { canary, baseline };
  }

  private async readWindow(state: CanaryState): Promise<{ evidence: CanaryEvidence; verdict: GateVerdict }> {
    const fromMs = state.stepStartedAt!;
    const toMs = this.options.now();
    const [canaryNow, baselineNow] = await Promise.all([this.countsOf(state.plan.model, fromMs, toMs), this.countsOf(state.plan.fromModel, fromMs, toMs)]);
    const canary = figuresOf(subtractModelCounts(canaryNow, state.snapshot!.canary));
    const baseline = figuresOf(subtractModelCounts(baselineNow, state.snapshot!.baseline));
    const gates: Gate[] = parseGates(state.plan.gates);
    const verdict = evaluateGates(gates, canary, baseline, state.plan.minSamples);
    return { evidence: { window: { fromMs, toMs }, canary, baseline, gates: verdict.results, minSamples: state.plan.minSamples }, verdict };
  }

  private countsOf(model: string, fromMs: number, toMs: number) {
    return readModelCounts(this.options.redis, this.options.prefix, this.lane, model, fromMs, toMs);
  }

  /**
   * Sets the canary's rules to `share` % in a new policy version, unless the active version already says so (a
   * controller that stopped between applying and saving its state does not apply twice).
   */
  private async applyShare(state: CanaryState, share: number, comment: string, evidence: Record<string, unknown> | undefined): Promise<number> {
    const active = await this.policies.active();
    const document = withCanaryShare(active.document, state.ruleIds, state.plan, share);
    if (isDeepStrictEqual(document, active.document)) return active.version;
    const version = await this.policies.apply(document, { author: this.options.author, comment, ...(evidence === undefined ? {} : { evidence }) });
    return version.version;
  }

  private shareOf(state: CanaryState): number {
    return state.step < 0 ? 0 : state.plan.steps[state.step]!;
  }

  private describe(state: CanaryState, action: string, step = state.step): Record<string, unknown> {
    return { id: state.id, lane: state.plan.lane, model: state.plan.model, fromModel: state.plan.fromModel, action, step: step + 1, steps: state.plan.steps, sharePercent: action === 'rollback' ? 0 : state.plan.steps[step] };
  }

  private decide(state: CanaryState, decision: Omit<CanaryDecision, 'at'>): void {
    const full = { at: this.options.now(), ...decision };
    state.decisions.push(full);
    this.options.onDecision?.(full, state);
  }
}
