import { addBuckets, emptyBuckets, MODEL_COUNTER_FIELDS, quantileOf, type BucketCounts, type ModelMetric } from '../contract/index.js';

/**
 * What the workers counted for one model on one lane over a window (sums of the per-minute series in
 * contract/model-stats.ts). Counts only add and subtract, so a window between two readings is one reading minus
 * the other, to the instant, whatever the minute boundaries.
 */
export interface ModelCounts {
  completed: number;
  failed: number;
  costMilliUnits: number;
  textChecked: number;
  textPassed: number;
  textCerMilli: number;
  /** Jobs failed for good, by error code. */
  failedByCode: Record<string, number>;
  /** Bucket counts (LATENCY_BUCKET_BOUNDS_MS layout) per metric. */
  histograms: Record<ModelMetric, BucketCounts>;
}

/** A model's figures over a window, as gates read them and people see them. */
export interface ModelFigures {
  /** Jobs finished (completed + failed for good). */
  samples: number;
  completed: number;
  failed: number;
  /** failed / samples; null with no sample. */
  errorRate: number | null;
  failedByCode: Record<string, number>;
  /** End-to-end and inference percentiles, ms (null when nothing was observed). */
  endToEndP50Ms: number | null;
  endToEndP95Ms: number | null;
  inferenceP50Ms: number | null;
  inferenceP95Ms: number | null;
  /** Mean cost units per completed job; null with none completed. */
  costPerJob: number | null;
  textChecked: number;
  /** Share of OCR checks that passed; null with no check. */
  ocrPassRate: number | null;
  /** Mean character error rate of the OCR checks; null with no check. */
  meanCer: number | null;
}

export function emptyModelCounts(): ModelCounts {
  return {
    completed: 0,
    failed: 0,
    costMilliUnits: 0,
    textChecked: 0,
    textPassed: 0,
    textCerMilli: 0,
    failedByCode: {},
    histograms: { endToEnd: emptyBuckets(), inference: emptyBuckets() },
  };
}

/** Adds one per-minute stats hash (`{ completed: "3", "failed:E_INFERENCE": "1", … }`) into `into`. */
export function addStatsHash(into: ModelCounts, hash: Record<string, string>): ModelCounts {
  for (const [field, value] of Object.entries(hash)) {
    const n = Number(value);
    if (!Number.isFinite(n)) continue;
    if (field.startsWith('failed:')) into.failedByCode[field.slice('failed:'.length)] = (into.failedByCode[field.slice('failed:'.length)] ?? 0) + n;
    else if ((MODEL_COUNTER_FIELDS as readonly string[]).includes(field)) into[field as (typeof MODEL_COUNTER_FIELDS)[number]] += n;
  }
  return into;
}

export function addHistogramHash(into: ModelCounts, metric: ModelMetric, hash: Record<string, string>): ModelCounts {
  addBuckets(into.histograms[metric], hash);
  return into;
}

/** `later − earlier`: what was counted between two readings of the same series. */
export function subtractModelCounts(later: ModelCounts, earlier: ModelCounts): ModelCounts {
  const out = emptyModelCounts();
  for (const field of MODEL_COUNTER_FIELDS) out[field] = later[field] - earlier[field];
  for (const code of new Set([...Object.keys(later.failedByCode), ...Object.keys(earlier.failedByCode)])) {
    const n = (later.failedByCode[code] ?? 0) - (earlier.failedByCode[code] ?? 0);
    if (n !== 0) out.failedByCode[code] = n;
  }
  for (const metric of Object.keys(out.histograms) as ModelMetric[]) {
    out.histograms[metric] = later.histograms[metric].map((n, i) => n - (earlier.histograms[metric][i] ?? 0));
  }
  return out;
}

export function figuresOf(counts: ModelCounts): ModelFigures {
  const samples = counts.completed + counts.failed;
  const round = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return {
    samples,
    completed: counts.completed,
    failed: counts.failed,
    errorRate: samples === 0 ? null : counts.failed / samples,
    failedByCode: { ...counts.failedByCode },
    endToEndP50Ms: round(quantileOf(counts.histograms.endToEnd, 0.5)),
    endToEndP95Ms: round(quantileOf(counts.histograms.endToEnd, 0.95)),
    inferenceP50Ms: round(quantileOf(counts.histograms.inference, 0.5)),
    inferenceP95Ms: round(quantileOf(counts.histograms.inference, 0.95)),
    costPerJob: counts.completed === 0 ? null : counts.costMilliUnits / 1000 / counts.completed,
    textChecked: counts.textChecked,
    ocrPassRate: counts.textChecked === 0 ? null : counts.textPassed / counts.textChecked,
    meanCer: counts.textChecked === 0 ? null : counts.textCerMilli / 1000 / counts.textChecked,
  };
}
