import { describeSizes, type ModelDescription, type SurveyedModel } from '../workers/index.js';
import { formatBytes } from './duration.js';
import { createTable } from './table.js';

/** One model as `fleet models --json` prints it: what the loader derived, and the contract check's verdict. */
export interface ModelReport {
  name: string;
  /** `ok`, or the error code that stops the model (`E_MODEL_SHAPE`, `E_MODEL_LOAD`). */
  verdict: 'ok' | string;
  /** Why it is refused, naming the file and the tensor. */
  problem?: string;
  file?: string;
  kind?: ModelDescription['kind'];
  family?: string;
  pipelineClass?: string;
  exporter?: string;
  precision?: string;
  scheduler?: string;
  defaultSteps?: number;
  maxSteps?: number;
  guidanceScale?: number;
  sizes?: string;
  scale?: number;
  weightBytes?: number;
  activationBytesPerMegapixel?: number;
  costUnitsPerImage?: number;
  lanes?: readonly string[];
  /** Operators only CUDA runs, when some graph uses them (the model is refused on a CPU worker). */
  needsCuda?: string[];
  derivedFrom?: ModelDescription['derivedFrom'];
}

export function modelReport({ name, model, error }: SurveyedModel): ModelReport {
  if (model === undefined) {
    return { name, verdict: error?.code ?? 'E_MODEL_LOAD', problem: error?.message, ...(typeof error?.details?.file === 'string' ? { file: error.details.file } : {}) };
  }
  const common = {
    name,
    verdict: 'ok',
    kind: model.kind,
    weightBytes: model.residentBytes,
    activationBytesPerMegapixel: model.activationBytesPerMegapixel,
    costUnitsPerImage: model.costUnitsPerImage,
    lanes: model.lanes,
    sizes: describeSizes(model.sizes),
    derivedFrom: model.derivedFrom,
  };
  if (model.kind === 'upscale') return { ...common, scale: model.scale };
  const needsCuda = [...new Set(Object.values(model.cudaOnlyOperators).flat())];
  return {
    ...common,
    family: model.family,
    pipelineClass: model.pipelineClass.className,
    exporter: model.exporter,
    precision: model.precision,
    scheduler: model.scheduler.name,
    defaultSteps: model.defaultSteps,
    maxSteps: model.maxSteps,
    guidanceScale: model.guidanceScale,
    ...(needsCuda.length > 0 ? { needsCuda } : {}),
  };
}

const FAMILY_LABEL: Record<string, string> = { sd: 'SD', sdxl: 'SDXL', sd3: 'SD3' };

const SCHEDULER_LABEL: Array<[RegExp, string]> = [
  [/^FlowMatchEulerDiscreteScheduler/, 'flow Euler'],
  [/^EulerAncestralDiscreteScheduler/, 'Euler a'],
  [/^EulerDiscreteScheduler \(for (\w+)Scheduler\)/, 'Euler ($1)'],
  [/^EulerDiscreteScheduler/, 'Euler'],
  [/^LCMScheduler/, 'LCM'],
  [/^DDIMScheduler/, 'DDIM'],
];

function schedulerLabel(name: string | undefined): string {
  for (const [pattern, label] of SCHEDULER_LABEL) if (name !== undefined && pattern.test(name)) return name.replace(pattern, label);
  return name ?? '';
}

/** The table `fleet models` prints (fits 100 columns), then one line per refused model saying why. */
export function renderModelReports(reports: readonly ModelReport[]): string {
  const table = createTable(['model', 'family', 'scheduler', 'steps', 'sizes', 'weights', 'lanes', 'runs'], { compact: true });
  for (const r of reports) {
    if (r.verdict !== 'ok') {
      table.push([r.name, '', '', '', '', '', '', 'no']);
      continue;
    }
    const family = r.kind === 'upscale' ? `upscale ×${r.scale}` : `${FAMILY_LABEL[r.family!] ?? r.family!} ${r.precision}`;
    const steps = r.kind === 'upscale' ? '' : `${r.defaultSteps}≤${r.maxSteps} g${r.guidanceScale}`;
    const weights = `${formatBytes(r.weightBytes ?? 0)}${r.derivedFrom?.residentBytes === 'manifest' ? '*' : ''}`;
    table.push([r.name, family, schedulerLabel(r.scheduler), steps, (r.sizes ?? '').replace(' px per side, multiple of ', '/'), weights, (r.lanes ?? []).join(','), r.needsCuda ? 'CUDA' : 'ok']);
  }
  const notes = reports.flatMap((r) => {
    if (r.verdict !== 'ok') return [`${r.name}: ${r.verdict} ${r.problem ?? ''}`];
    if (r.needsCuda) return [`${r.name}: runs only on a CUDA worker (${r.needsCuda.join(', ')})`];
    return [];
  });
  const declared = reports.some((r) => r.derivedFrom?.residentBytes === 'manifest') ? ['* weights as declared in manifest.json (otherwise: the bytes of its ONNX files)'] : [];
  return [table.toString(), ...declared, ...notes].join('\n');
}
