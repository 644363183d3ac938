import { DRIFT_FEATURES, driftTotal, type DriftCounts, type DriftFeature } from './drift-features.js';
import { populationStability, stabilityVerdict, type StabilityVerdict } from './population-stability.js';

/** One feature compared: its PSI and every bin's share on each side. */
export interface FeatureDrift {
  feature: DriftFeature;
  /** null when either side has no requests. */
  psi: number | null;
  verdict: StabilityVerdict | 'no data';
  /** Bins of either side, largest move first; shares are 0–1. */
  bins: Array<{ bin: string; baseline: number; now: number }>;
}

/** Every feature of `now` against `baseline`. */
export function compareDrift(baseline: DriftCounts, now: DriftCounts): FeatureDrift[] {
  const baselineTotal = driftTotal(baseline);
  const nowTotal = driftTotal(now);
  return DRIFT_FEATURES.map((feature) => {
    const psi = populationStability(baseline[feature], now[feature]);
    const bins = [...new Set([...Object.keys(baseline[feature]), ...Object.keys(now[feature])])]
      .map((bin) => ({ bin, baseline: share(baseline[feature][bin], baselineTotal), now: share(now[feature][bin], nowTotal) }))
      .sort((a, b) => Math.abs(b.now - b.baseline) - Math.abs(a.now - a.baseline) || a.bin.localeCompare(b.bin));
    return { feature, psi, verdict: psi === null ? 'no data' : stabilityVerdict(psi), bins };
  });
}

function share(n: number | undefined, total: number): number {
  return total === 0 ? 0 : (n ?? 0) / total;
}
