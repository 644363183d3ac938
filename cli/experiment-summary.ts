import type { ExperimentCell, ExperimentModelSummary } from './experiment-record.js';

/** Nearest-rank percentile of exact values; null with none. */
function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** One model's figures over its cells (see ExperimentModelSummary). */
export function summarizeModel(cells: readonly ExperimentCell[]): ExperimentModelSummary {
  const completed = cells.filter((c) => c.state === 'completed');
  const failuresByCode: Record<string, number> = {};
  for (const cell of cells) if (cell.error) failuresByCode[cell.error.code] = (failuresByCode[cell.error.code] ?? 0) + 1;
  const timing = (field: 'endToEndMs' | 'inferenceMs') => completed.map((c) => c.timings?.[field]).filter((ms): ms is number => ms !== undefined);
  const cost = completed.reduce((sum, c) => sum + (c.costUnits ?? 0), 0);
  const checks = completed.map((c) => c.text).filter((t) => t !== undefined);
  return {
    jobs: cells.length,
    completed: completed.length,
    failed: cells.length - completed.length,
    failuresByCode,
    endToEndMs: { p50: percentile(timing('endToEndMs'), 0.5), p95: percentile(timing('endToEndMs'), 0.95) },
    inferenceMs: { p50: percentile(timing('inferenceMs'), 0.5), p95: percentile(timing('inferenceMs'), 0.95) },
    costUnits: { total: cost, perImage: completed.length === 0 ? null : cost / completed.length },
    text: {
      checked: checks.length,
      meanCer: checks.length === 0 ? null : checks.reduce((s, t) => s + t.cer, 0) / checks.length,
      passRate: checks.length === 0 ? null : checks.filter((t) => t.passed).length / checks.length,
    },
  };
}
