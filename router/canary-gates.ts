import { FleetError } from '../contract/index.js';
import type { ModelFigures } from './model-figures.js';

/** What a gate compares: a figure of the canary against a limit, absolute or relative to the baseline's same figure. */
export const GATE_METRICS = {
  /** End-to-end p95, ms. */
  p95: (f: ModelFigures) => f.endToEndP95Ms,
  /** Inference p95, ms. */
  inferenceP95: (f: ModelFigures) => f.inferenceP95Ms,
  /** Share of jobs failed for good. */
  errors: (f: ModelFigures) => f.errorRate,
  /** Share of OCR checks passed (typography); a window with no check leaves the gate out. */
  ocrPass: (f: ModelFigures) => f.ocrPassRate,
  /** Mean cost units per completed job. */
  cost: (f: ModelFigures) => f.costPerJob,
} as const;
export type GateMetric = keyof typeof GATE_METRICS;

/** One parsed gate: `p95<=1.2x` is `{ metric: 'p95', op: '<=', limit: 1.2, relative: true }`. */
export interface Gate {
  /** As written, for people. */
  text: string;
  metric: GateMetric;
  op: '<=' | '>=' | '<' | '>';
  /** The number: a factor of the baseline when `relative`, else a value in the metric's unit (a share for `%`). */
  limit: number;
  relative: boolean;
}

/** How one gate came out over a window. `held` is null when the figure is missing (no OCR check in the window). */
export interface GateResult {
  gate: string;
  canary: number | null;
  baseline: number | null;
  /** The value the canary's figure was held to. */
  threshold: number | null;
  held: boolean | null;
}

/**
 * A window's verdict: `insufficient` until the canary (and, for relative gates, the baseline) has `minSamples`
 * finished jobs; then `fail` when any gate does not hold, else `pass`.
 */
export interface GateVerdict {
  verdict: 'insufficient' | 'pass' | 'fail';
  results: GateResult[];
  /** Why, in one line (the failed gates, or the samples still missing). */
  reason: string;
}

/** The default gates of `fleet canary start`. */
export const DEFAULT_GATES = 'p95<=1.2x,errors<=1%,ocrPass>=97%,cost<=1.1x';

const GATE = /^\s*([A-Za-z0-9]+)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+)\s*(x|%|ms)?\s*$/;

/**
 * Parses `p95<=1.2x,errors<=1%,ocrPass>=97%,cost<=1.1x`: `x` is a factor of the baseline's figure, `%` a share,
 * `ms` (or no unit) an absolute value.
 * @throws FleetError E_VALIDATION naming the gate that does not parse.
 */
export function parseGates(spec: string): Gate[] {
  const gates = spec.split(',').filter((g) => g.trim() !== '').map((text): Gate => {
    const match = GATE.exec(text);
    if (match === null) throw new FleetError('E_VALIDATION', `gate ${JSON.stringify(text)} does not parse: write metric, <= or >=, a number and x, % or ms (p95<=1.2x, errors<=1%)`, { field: 'gate' });
    const [, metric, op, number, unit] = match;
    if (!(metric! in GATE_METRICS)) throw new FleetError('E_VALIDATION', `gate ${JSON.stringify(text)}: unknown metric ${metric} (known: ${Object.keys(GATE_METRICS).join(', ')})`, { field: 'gate' });
    const value = Number(number);
    return { text: text.trim(), metric: metric as GateMetric, op: op as Gate['op'], relative: unit === 'x', limit: unit === '%' ? value / 100 : value };
  });
  if (gates.length === 0) throw new FleetError('E_VALIDATION', 'at least one gate is needed', { field: 'gate' });
  return gates;
}

/** Every gate over one window of canary and baseline figures (see GateVerdict). */
export function evaluateGates(gates: readonly Gate[], canary: ModelFigures, baseline: ModelFigures, minSamples: number): GateVerdict {
  const results = gates.map((gate) => evaluateGate(gate, canary, baseline));
  const needsBaseline = gates.some((g) => g.relative);
  if (canary.samples < minSamples || (needsBaseline && baseline.samples < minSamples)) {
    const missing = [`canary ${canary.samples}/${minSamples}`, ...(needsBaseline ? [`baseline ${baseline.samples}/${minSamples}`] : [])];
    return { verdict: 'insufficient', results, reason: `not enough traffic yet (${missing.join(', ')} jobs)` };
  }
  const failed = results.filter((r) => r.held === false);
  if (failed.length > 0) return { verdict: 'fail', results, reason: failed.map(describeResult).join('; ') };
  return { verdict: 'pass', results, reason: results.map(describeResult).join('; ') };
}

function evaluateGate(gate: Gate, canary: ModelFigures, baseline: ModelFigures): GateResult {
  const read = GATE_METRICS[gate.metric];
  const [c, b] = [read(canary), read(baseline)];
  const threshold = gate.relative ? (b === null ? null : gate.limit * b) : gate.limit;
  if (c === null || threshold === null) return { gate: gate.text, canary: c, baseline: b, threshold, held: null };
  const held = gate.op === '<=' ? c <= threshold : gate.op === '>=' ? c >= threshold : gate.op === '<' ? c < threshold : c > threshold;
  return { gate: gate.text, canary: c, baseline: b, threshold, held };
}

/** `errors<=1%: canary 0.3 vs threshold 0.01 (baseline 0) FAILED`. */
export function describeResult(r: GateResult): string {
  const n = (x: number | null) => (x === null ? 'n/a' : String(Math.round(x * 1000) / 1000));
  const outcome = r.held === null ? 'not applicable' : r.held ? 'held' : 'FAILED';
  return `${r.gate}: canary ${n(r.canary)} vs threshold ${n(r.threshold)} (baseline ${n(r.baseline)}) ${outcome}`;
}
