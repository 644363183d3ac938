import type { ErrorCode } from './errors.js';
import type { JobData } from './job.js';
import { type LatencyMetric } from './latency-histogram.js';
import { groupKey } from './queue-names.js';

/**
 * Per-model series beside the per-lane ones (see latency-histogram.ts): the same bucket layout, per minute, in
 * the same `{<prefix>:metrics}` hash tag, so every worker's counts add up and one pipeline reads a window. The
 * canary controller compares a lane's canary and baseline models with them; `fleet status` keeps the lane ones.
 *
 * `{<prefix>:metrics}:mhist:<lane>:<model>:<metric>:<minute>` hash bucket index → count, for MODEL_METRICS.
 * `{<prefix>:metrics}:mstats:<lane>:<model>:<minute>` hash of MODEL_COUNTER_FIELDS and `failed:<E_CODE>`.
 */

/** The latencies kept per model: end to end (what a user waits) and inference (what the model costs). */
export const MODEL_METRICS = ['endToEnd', 'inference'] as const satisfies readonly LatencyMetric[];
export type ModelMetric = (typeof MODEL_METRICS)[number];

/**
 * Counters per model and minute. `failed` counts jobs that failed for good (a retried attempt is not a
 * failure of the job); `costMilliUnits` is cost units × 1000 (HINCRBY takes integers); `textChecked` and
 * `textPassed` count the typography OCR checks, `textCerMilli` the sum of their character error rates × 1000.
 */
export const MODEL_COUNTER_FIELDS = ['completed', 'failed', 'costMilliUnits', 'textChecked', 'textPassed', 'textCerMilli'] as const;
export type ModelCounterField = (typeof MODEL_COUNTER_FIELDS)[number];

/** The field of a per-model failure count by code. */
export function failedByCodeField(code: ErrorCode): string {
  return `failed:${code}`;
}

export function modelHistogramKey(prefix: string, lane: string, model: string, metric: ModelMetric, minute: number): string {
  return groupKey(prefix, 'metrics', 'mhist', lane, model, metric, String(minute));
}

export function modelStatsKey(prefix: string, lane: string, model: string, minute: number): string {
  return groupKey(prefix, 'metrics', 'mstats', lane, model, String(minute));
}

/** Jobs of `fleet experiment` carry a rule id with this prefix (they are routed by the experiment, not a policy). */
export const EXPERIMENT_RULE_PREFIX = 'experiment:';

/**
 * Whether a job counts in the per-model series. Experiment jobs do not: a side-by-side run of a candidate must
 * not move the figures a canary of the same model is judged on.
 */
export function countsInModelSeries(data: Pick<JobData, 'policy'>): boolean {
  return !data.policy.rule.startsWith(EXPERIMENT_RULE_PREFIX);
}
