import type { Registry } from 'prom-client';
import { FleetError, type ImageFormat, type TextCheckReport } from '../../contract/index.js';
import { type AttemptSafety, planAttempt, styleFor } from './attempt-plan.js';
import { luminancesUnder } from './contrast-colour.js';
import { FONT_FAMILIES } from './font-catalogue.js';
import { ensureFontConfig } from './font-config.js';
import { fontError, probeBackground, probeSpec, type FontProbe } from './font-probe.js';
import { FontMetrics } from './font-metrics.js';
import { OcrChecker, type OcrCheckerOptions } from './ocr-checker.js';
import { type RawImage, sharpFromRaw } from '../pipelines/raw-image.js';
import { decodeImage, type ImageInput } from './decode-image.js';
import { compositeText } from './text-compositor.js';
import { layoutText, type PixelBox, type TextLayout, type TextLayoutOptions } from './text-layout.js';
import type { ResolvedTextSpec } from './text-spec.js';
import { type TextCheckEvent, type TypographyCounters, TypographyCounterSet } from './typography-counters.js';

export interface TypographyRendererOptions {
  /** Largest character error rate that passes the check. @default 0.05 */
  maxCer?: number;
  /** Renders tried per request: the first, then safer ones (see `AttemptSafety`). @default 3 */
  maxAttempts?: number;
  /** Outline an automatic colour on backgrounds too mixed for black or white alone. @default true */
  autoOutline?: boolean;
  /** Encoding of the returned image. @default 'png' */
  format?: ImageFormat;
  /** Font fitting. @default TEXT_LAYOUT_DEFAULTS */
  layout?: TextLayoutOptions;
  /** The OCR models and their tuning. @default OCR_CHECKER_DEFAULTS */
  ocr?: OcrCheckerOptions;
  /** A prom-client registry to publish the counters on. @default none (read `counters` instead) */
  registry?: Registry;
  /** Called after every OCR check. @default none */
  onCheck?: (event: TextCheckEvent) => void;
}

export type ResolvedTypographyRendererOptions = Required<Omit<TypographyRendererOptions, 'registry' | 'onCheck'>> &
  Pick<TypographyRendererOptions, 'registry' | 'onCheck'>;

export const TYPOGRAPHY_RENDERER_DEFAULTS = {
  maxCer: 0.05,
  maxAttempts: 3,
  autoOutline: true,
  format: 'png',
  layout: {},
  ocr: {},
} satisfies Omit<ResolvedTypographyRendererOptions, 'registry' | 'onCheck'>;

export function resolveTypographyRendererOptions(options: TypographyRendererOptions = {}): ResolvedTypographyRendererOptions {
  const resolved = { ...TYPOGRAPHY_RENDERER_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (!(resolved.maxCer >= 0 && resolved.maxCer <= 1)) throw new RangeError(`maxCer must be 0–1, got ${resolved.maxCer}`);
  if (!Number.isInteger(resolved.maxAttempts) || resolved.maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be an integer >= 1, got ${resolved.maxAttempts}`);
  }
  if (resolved.format !== 'png' && resolved.format !== 'webp') throw new RangeError(`format must be 'png' or 'webp', got ${String(resolved.format)}`);
  return resolved;
}

/** One render and its OCR check. */
export interface TextAttempt {
  attempt: number;
  safety: AttemptSafety;
  fontSizePx: number;
  lines: string[];
  color: string;
  /** WCAG contrast of the text against most of what is behind it (its plate, outline or the background). */
  contrast: number;
  read: string;
  cer: number;
  passed: boolean;
  /** Time of the OCR check alone. */
  checkMs: number;
}

export interface TypographyRenderResult {
  /** The image with its text layer, encoded as `format`. */
  image: Buffer;
  format: ImageFormat;
  width: number;
  height: number;
  /** The check report the job result carries (`expected`, `read`, `cer`, `passed`, `attempts`). */
  text: TextCheckReport;
  /** Font actually drawn (`fallback` when the requested family is not shipped). */
  font: { family: string; weight: number; fallback: boolean };
  /** Every attempt, in order; the last is the one returned. */
  attempts: TextAttempt[];
}

/**
 * The typography lane's text layer: lays out and draws a `ResolvedTextSpec` over a background, reads it
 * back with OCR and, while the character error rate is above `maxCer`, draws it again more safely,
 * up to `maxAttempts` renders. With `onFail: 'fail'` a final failure throws `FleetError('E_TEXT_CHECK')`;
 * with `'flag'` the last render is returned with `text.passed: false`.
 * Create one per process with `TypographyRenderer.create` (it loads the OCR models once).
 */
export class TypographyRenderer {
  static async create(options: TypographyRendererOptions = {}): Promise<TypographyRenderer> {
    const resolved = resolveTypographyRendererOptions(options);
    const fontConfigFile = ensureFontConfig();
    const ocr = await OcrChecker.load(resolved.ocr);
    return new TypographyRenderer(ocr, resolved, fontConfigFile);
  }

  readonly #ocr: OcrChecker;
  readonly #options: ResolvedTypographyRendererOptions;
  readonly #counters: TypographyCounterSet;
  readonly #fontConfigFile: string;

  private constructor(ocr: OcrChecker, options: ResolvedTypographyRendererOptions, fontConfigFile: string) {
    this.#ocr = ocr;
    this.#options = options;
    this.#counters = new TypographyCounterSet(options.registry);
    this.#fontConfigFile = fontConfigFile;
  }

  /** This process's fontconfig file (a private temp folder: see `ensureFontConfig`). */
  get fontConfigFile(): string {
    return this.#fontConfigFile;
  }

  /**
   * Draws a probe word in every family the lane ships and reads it back with the OCR: a worker runs this at start.
   * @throws FleetError E_FONT naming the families whose text did not read back
   */
  async probeFonts(): Promise<FontProbe[]> {
    const probes: FontProbe[] = [];
    for (const family of FONT_FAMILIES) probes.push(await this.#probe(family));
    const failed = probes.filter((p) => !p.passed);
    if (failed.length > 0) throw fontError(failed, this.#fontConfigFile);
    return probes;
  }

  /** Totals since creation: renders, checks, first-try passes, final passes and failures. */
  get counters(): TypographyCounters {
    return this.#counters.snapshot();
  }

  /** The OCR checker in use (shared by every renderer of the process with the same OCR options). */
  get ocr(): OcrChecker {
    return this.#ocr;
  }

  async render(backgroundInput: ImageInput, spec: ResolvedTextSpec): Promise<TypographyRenderResult> {
    const { raw, ...rest } = await this.renderRaw(backgroundInput, spec);
    const encoder = await sharpFromRaw(raw);
    const image = await (this.#options.format === 'webp' ? encoder.webp({ lossless: true }) : encoder.png()).toBuffer();
    return { image, format: this.#options.format, ...rest };
  }

  /** As `render`, but returns the final image as raw RGB (for callers that encode it themselves). */
  async renderRaw(backgroundInput: ImageInput, spec: ResolvedTextSpec): Promise<Omit<TypographyRenderResult, 'image' | 'format'> & { raw: RawImage }> {
    const background = await decodeImage(backgroundInput);
    const { attempts, final } = await this.#draw(background, spec, this.#options.maxAttempts, true);
    const last = attempts.at(-1)!;
    this.#counters.recordRender(last.passed, attempts.length);
    const text: TextCheckReport = { expected: spec.content, read: last.read, cer: last.cer, passed: last.passed, attempts: attempts.length };
    if (!last.passed) {
      // Text that does not read back is the text's fault only if this font draws readable text at all.
      const probe = await this.#probe(final.plan.face.family);
      if (!probe.passed) throw fontError([probe], this.#fontConfigFile);
    }
    if (!last.passed && spec.onFail === 'fail') {
      throw new FleetError(
        'E_TEXT_CHECK',
        `the drawn text did not read back right after ${attempts.length} attempts (character error rate ${last.cer.toFixed(3)} > ${this.#options.maxCer}); ` +
          'try a larger text box, fewer words or a plainer background',
        { field: 'text.content', details: { text } },
      );
    }
    return {
      raw: final.image,
      width: background.width,
      height: background.height,
      text,
      font: { family: final.plan.face.family, weight: final.plan.face.weight, fallback: final.plan.face.fallback },
      attempts,
    };
  }

  /** Draws and checks up to `maxAttempts` times, until one passes; `counted`: in the counters and `onCheck`. */
  async #draw(background: RawImage, spec: ResolvedTextSpec, maxAttempts: number, counted: boolean): Promise<{ attempts: TextAttempt[]; final: { image: RawImage; plan: ReturnType<typeof planAttempt> } }> {
    const attempts: TextAttempt[] = [];
    let final: { image: RawImage; plan: ReturnType<typeof planAttempt> } | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const plan = planAttempt(attempt, spec, background.width, background.height);
      const metrics = await FontMetrics.load(plan.face.file);
      const layout = layoutText(spec.content, plan.box, metrics, spec.align, this.#options.layout);
      const style = styleFor(plan, spec.color, luminancesUnder(background, layout.block), { autoOutline: this.#options.autoOutline });
      const image = await compositeText(background, layout, style);
      const check = await this.#ocr.check(image, readingRegion(layout), spec.content, layout.fontSizePx, this.#options.maxCer);
      const event = { attempt, cer: check.cer, passed: check.passed, durationMs: check.durationMs };
      if (counted) {
        this.#counters.recordCheck(event);
        this.#options.onCheck?.(event);
      }
      attempts.push({
        attempt,
        safety: plan.safety,
        fontSizePx: layout.fontSizePx,
        lines: layout.lines.map((line) => line.text),
        color: style.color,
        contrast: style.contrast,
        read: check.read,
        cer: check.cer,
        passed: check.passed,
        checkMs: check.durationMs,
      });
      final = { image, plan };
      if (check.passed) break;
    }
    return { attempts, final: final! };
  }

  async #probe(family: string): Promise<FontProbe> {
    const { attempts } = await this.#draw(probeBackground(), probeSpec(family), 1, false);
    const { read, cer, passed } = attempts[0]!;
    return { family, read, cer, passed };
  }
}

/** The region the OCR examines: the text block with half an em of context around it. */
function readingRegion(layout: TextLayout): PixelBox {
  const margin = layout.fontSizePx * 0.5;
  return { left: layout.block.left - margin, top: layout.block.top - margin, width: layout.block.width + 2 * margin, height: layout.block.height + 2 * margin };
}

