import type { CanaryState } from '../router/index.js';
import { formatDuration } from './duration.js';

/** `fleet canary status` for people: the plan, where it is, the last reading's verdict, the decisions. */
export function formatCanaryStatus(state: CanaryState, now = Date.now()): string {
  const { plan } = state;
  const share = state.step < 0 ? 0 : plan.steps[state.step]!;
  const lines = [
    `${plan.lane}: ${plan.model} replacing ${plan.fromModel} — ${state.status}, ${share} % (step ${state.step + 1}/${plan.steps.length}: ${plan.steps.join(' → ')} %)`,
    `  gates ${plan.gates}, at least ${plan.minSamples} jobs and ${formatDuration(plan.intervalMs)} per step; rules ${state.ruleIds.join(', ')}`,
  ];
  if (state.stepStartedAt !== null && (state.status === 'running' || state.status === 'paused')) lines.push(`  step began ${formatDuration(Math.max(0, now - state.stepStartedAt))} ago`);
  if (state.last !== undefined) {
    const { canary, baseline } = state.last.evidence;
    lines.push(`  last reading: ${state.last.verdict} — ${state.last.reason}`);
    lines.push(`    canary ${canary.samples} jobs, errors ${pct(canary.errorRate)}, p95 ${ms(canary.endToEndP95Ms)}; baseline ${baseline.samples} jobs, errors ${pct(baseline.errorRate)}, p95 ${ms(baseline.endToEndP95Ms)}`);
  }
  for (const d of state.decisions) {
    lines.push(`  ${new Date(d.at).toISOString()} ${d.action} → ${d.sharePercent} %${d.policyVersion === undefined ? '' : ` (policy v${d.policyVersion})`}: ${d.reason}`);
  }
  return lines.join('\n');
}

function pct(x: number | null): string {
  return x === null ? '—' : `${Math.round(x * 1000) / 10} %`;
}

function ms(x: number | null): string {
  return x === null ? '—' : `${Math.round(x)}ms`;
}
