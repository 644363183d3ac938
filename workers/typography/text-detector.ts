import * as ort from 'onnxruntime-node';
import type { ModelSession, SessionFactory } from '../engine/onnx-session-factory.js';
import { type RawImage, sharpFromRaw } from '../pipelines/raw-image.js';
import type { PixelBox } from './text-layout.js';

/** Tuning of the DB (differentiable binarisation) post-processing, as in PaddleOCR. */
export interface TextDetectorOptions {
  /** A pixel is text when the model's probability is above this. @default 0.3 */
  pixelThreshold?: number;
  /** A region is kept when its mean probability is at least this. @default 0.6 */
  boxThreshold?: number;
  /** How far a shrunk text kernel is grown back: by area × ratio / perimeter. @default 1.5 */
  unclipRatio?: number;
}

export const TEXT_DETECTOR_DEFAULTS = { pixelThreshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5 } satisfies Required<TextDetectorOptions>;

/** A detected text region in the input image's pixels, axis-aligned, with the model's mean probability. */
export interface DetectedBox extends PixelBox {
  score: number;
}

const STRIDE = 32;
const MEAN = [0.485, 0.456, 0.406] as const;
const STD = [0.229, 0.224, 0.225] as const;

/**
 * PP-OCRv4 text detection: finds axis-aligned text regions. Rotated text is out of scope (the lane draws
 * horizontal lines), so connected components of the probability map stand in for PaddleOCR's contours.
 */
export class TextDetector {
  static async load(modelPath: string, sessions: SessionFactory, options: TextDetectorOptions = {}): Promise<TextDetector> {
    const session = await sessions.create(modelPath);
    return new TextDetector(session, { ...TEXT_DETECTOR_DEFAULTS, ...options });
  }

  readonly #session: ModelSession;
  readonly #options: Required<TextDetectorOptions>;

  private constructor(session: ModelSession, options: Required<TextDetectorOptions>) {
    this.#session = session;
    this.#options = options;
  }

  /** Text regions of `image` (any size; it is padded to multiples of 32 by repeating its edges, never resized). */
  async detect(image: RawImage): Promise<DetectedBox[]> {
    const width = Math.ceil(image.width / STRIDE) * STRIDE;
    const height = Math.ceil(image.height / STRIDE) * STRIDE;
    const padded =
      width === image.width && height === image.height
        ? image.pixels
        : await (await sharpFromRaw(image)).extend({ right: width - image.width, bottom: height - image.height, extendWith: 'copy' }).raw().toBuffer();
    const input = new Float32Array(3 * width * height);
    const plane = width * height;
    for (let i = 0; i < plane; i++) {
      // PaddleOCR feeds OpenCV's BGR order; channel c is normalised with MEAN[c], STD[c].
      input[i] = (padded[i * 3 + 2]! / 255 - MEAN[0]) / STD[0];
      input[plane + i] = (padded[i * 3 + 1]! / 255 - MEAN[1]) / STD[1];
      input[2 * plane + i] = (padded[i * 3]! / 255 - MEAN[2]) / STD[2];
    }
    const outputs = await this.#session.run({ [this.#session.inputs[0]!.name]: new ort.Tensor('float32', input, [1, 3, height, width]) });
    const probability = outputs[this.#session.outputs[0]!.name]!.data as Float32Array;
    return this.#boxes(probability, width, height).filter((box) => box.left < image.width && box.top < image.height).map((box) => clip(box, image));
  }

  #boxes(probability: Float32Array, width: number, height: number): DetectedBox[] {
    const { pixelThreshold, boxThreshold, unclipRatio } = this.#options;
    const labels = new Int32Array(width * height);
    const stack: number[] = [];
    const boxes: DetectedBox[] = [];
    let next = 0;
    for (let start = 0; start < labels.length; start++) {
      if (labels[start] !== 0 || probability[start]! <= pixelThreshold) continue;
      next++;
      labels[start] = next;
      stack.push(start);
      let x0 = width;
      let y0 = height;
      let x1 = -1;
      let y1 = -1;
      while (stack.length > 0) {
        const p = stack.pop()!;
        const x = p % width;
        const y = (p - x) / width;
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
        for (let dy = -1; dy <= 1; dy++) {
          const ny = y + dy;
          if (ny < 0 || ny >= height) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const nx = x + dx;
            if (nx < 0 || nx >= width) continue;
            const q = ny * width + nx;
            if (labels[q] === 0 && probability[q]! > pixelThreshold) {
              labels[q] = next;
              stack.push(q);
            }
          }
        }
      }
      const w = x1 - x0 + 1;
      const h = y1 - y0 + 1;
      if (Math.min(w, h) < 3) continue;
      let sum = 0;
      for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) sum += probability[y * width + x]!;
      const score = sum / (w * h);
      if (score < boxThreshold) continue;
      const grow = (w * h * unclipRatio) / (2 * (w + h));
      boxes.push({ left: x0 - grow, top: y0 - grow, width: w + 2 * grow, height: h + 2 * grow, score });
    }
    return boxes;
  }
}

function clip(box: DetectedBox, image: RawImage): DetectedBox {
  const left = Math.max(0, Math.round(box.left));
  const top = Math.max(0, Math.round(box.top));
  const right = Math.min(image.width, Math.round(box.left + box.width));
  const bottom = Math.min(image.height, Math.round(box.top + box.height));
  return { left, top, width: right - left, height: bottom - top, score: box.score };
}
