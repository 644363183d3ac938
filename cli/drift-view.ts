import { PSI_EMPTY_BIN_SHARE, PSI_THRESHOLDS, type FeatureDrift } from '../router/index.js';
import type { DriftBaseline } from '../producer/index.js';
import { formatDuration } from './duration.js';

/** Columns of a bar row: bin label, then a share and its bar for each side (fits 100 columns). */
const BIN_WIDTH = 24;
const BAR_WIDTH = 27;
/** Bins shown per moved feature, largest moves first. */
const MAX_BINS = 8;

export interface DriftView {
  windowMs: number;
  windowRequests: number;
  baseline: DriftBaseline;
  features: FeatureDrift[];
}

/** `fleet drift` as text: a line per feature with its PSI and verdict, then the bars of the features that moved. */
export function renderDrift(view: DriftView): string {
  const { baseline } = view;
  const from = baseline.source.kind === 'file' ? `from ${baseline.source.path}` : `over ${formatDuration(baseline.source.windowMs)} of traffic`;
  const lines = [
    `prompt drift: the last ${formatDuration(view.windowMs)} (${view.windowRequests} requests) against baseline ${baseline.name}`,
    `  (${baseline.requests} requests ${from}, saved ${new Date(baseline.savedAt).toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
    `PSI (population stability index): under ${PSI_THRESHOLDS.moderate} stable, ${PSI_THRESHOLDS.moderate}–${PSI_THRESHOLDS.significant} moderate, over ${PSI_THRESHOLDS.significant} significant`,
    `  (a bin empty on one side counts as a ${PSI_EMPTY_BIN_SHARE * 100} % share)`,
    '',
    `${'feature'.padEnd(18)}${'PSI'.padStart(8)}  verdict`,
    ...view.features.map((f) => `${f.feature.padEnd(18)}${(f.psi === null ? '—' : f.psi.toFixed(3)).padStart(8)}  ${f.verdict}`),
  ];
  if (view.windowRequests === 0) lines.push('', 'no requests were counted in the window: nothing to compare');
  for (const f of view.features.filter((d) => d.verdict === 'moderate' || d.verdict === 'significant')) {
    lines.push('', `${f.feature}: PSI ${f.psi!.toFixed(3)}, ${f.verdict}`, `  ${''.padEnd(BIN_WIDTH)} ${'baseline'.padStart(6).padEnd(BAR_WIDTH + 9)}${'now'.padStart(6)}`);
    for (const bin of f.bins.slice(0, MAX_BINS)) {
      lines.push(`  ${label(bin.bin)} ${percent(bin.baseline)} ${bar(bin.baseline).padEnd(BAR_WIDTH)}  ${percent(bin.now)} ${bar(bin.now)}`.trimEnd());
    }
    if (f.bins.length > MAX_BINS) lines.push(`  … ${f.bins.length - MAX_BINS} more bins (--json has them all)`);
  }
  return lines.join('\n');
}

function label(bin: string): string {
  return bin.length > BIN_WIDTH ? `${bin.slice(0, BIN_WIDTH - 1)}…` : bin.padEnd(BIN_WIDTH);
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`.padStart(6);
}

/** A share as a bar of full blocks; a share too small for one block still shows a sliver. */
function bar(share: number): string {
  const blocks = Math.round(share * BAR_WIDTH);
  return blocks === 0 && share > 0 ? '▏' : '█'.repeat(blocks);
}
