import type { Registry } from 'prom-client';
import type { TextStage } from './job-finisher.js';
import type { RawImage } from '../pipelines/index.js';
import type { RenderJob } from './render-job.js';
import type { Lane } from '../../contract/index.js';
import { resolveTextSpec, TypographyRenderer, type FontProbe, type TypographyRendererOptions } from '../typography/index.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';

/**
 * The typography lane's text step on top of `TypographyRenderer`: the text comes from `request.text` or
 * the prompt's quoted text; with none, the background is stored as it is and the report says nothing was
 * checked. The OCR models load once per process (on the first typography job).
 */
export class TypographyTextStage implements TextStage {
  private renderer: Promise<TypographyRenderer> | undefined;

  constructor(
    private readonly metrics: WorkerMetrics,
    private readonly options: TypographyRendererOptions & { registry?: Registry } = {},
  ) {}

  async apply(background: RawImage, renderJob: RenderJob): ReturnType<TextStage['apply']> {
    const spec = resolveTextSpec(renderJob.job.data.request);
    if (spec === null) {
      this.metrics.textChecks.inc({ result: 'unchecked' });
      return { image: background, report: { checked: false, reason: 'no text to draw: the request has no text field and the prompt no quoted text' } };
    }
    this.renderer ??= TypographyRenderer.create(this.options);
    const rendered = await (await this.renderer).renderRaw(background, spec);
    const report = rendered.text;
    if (report.passed && report.attempts === 1) this.metrics.textChecks.inc({ result: 'first_try_pass' });
    this.metrics.textChecks.inc({ result: report.passed ? 'final_pass' : 'final_fail' });
    return { image: rendered.raw, report };
  }

  /**
   * Loads the OCR models now instead of on the first job, and checks that the fonts resolve: a probe word drawn in
   * every family reads back (see `TypographyRenderer.probeFonts`).
   * @throws FleetError E_FONT when they do not
   */
  async warm(): Promise<{ fontConfigFile: string; probes: FontProbe[] }> {
    this.renderer ??= TypographyRenderer.create(this.options);
    const renderer = await this.renderer;
    return { fontConfigFile: renderer.fontConfigFile, probes: await renderer.probeFonts() };
  }
}

/**
 * Whether a worker serving `lanes` (its own and its overflow lanes alike) needs the text stage: whatever serves the
 * typography lane draws and checks its text, or it would store backgrounds without text and without a report.
 */
export function needsTextStage(lanes: readonly Lane[]): boolean {
  return lanes.includes('typography');
}
