/**
 * Population stability index (PSI) of two distributions over the same bins:
 * `Σ (actual − expected) × ln(actual / expected)` over shares of each side's total. It is 0 for identical
 * distributions and grows with the shift; the usual reading (credit-risk practice, where the index comes from):
 * under 0.1 stable, 0.1 to 0.25 a moderate shift worth a look, over 0.25 a significant shift.
 */
export const PSI_THRESHOLDS = { moderate: 0.1, significant: 0.25 } as const;

/**
 * The share a bin empty on one side counts as (0.01 %): the index has ln(actual / expected) in it, infinite for an
 * empty bin. With it, a bin that goes from nothing to 40 % of traffic adds 0.4 × ln(0.4 / 0.0001) ≈ 3.3.
 */
export const PSI_EMPTY_BIN_SHARE = 1e-4;

export type StabilityVerdict = 'stable' | 'moderate' | 'significant';

/** The PSI of `actual` against `expected` (counts per bin); null when either side counted nothing. */
export function populationStability(expected: Readonly<Record<string, number>>, actual: Readonly<Record<string, number>>): number | null {
  const expectedTotal = sum(expected);
  const actualTotal = sum(actual);
  if (expectedTotal === 0 || actualTotal === 0) return null;
  let psi = 0;
  for (const bin of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    const e = Math.max((expected[bin] ?? 0) / expectedTotal, PSI_EMPTY_BIN_SHARE);
    const a = Math.max((actual[bin] ?? 0) / actualTotal, PSI_EMPTY_BIN_SHARE);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/** How a PSI reads against `PSI_THRESHOLDS` (a value on a threshold takes the lower verdict). */
export function stabilityVerdict(psi: number): StabilityVerdict {
  if (psi > PSI_THRESHOLDS.significant) return 'significant';
  if (psi > PSI_THRESHOLDS.moderate) return 'moderate';
  return 'stable';
}

function sum(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((total, n) => total + n, 0);
}
