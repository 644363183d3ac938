import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import type { ModelSession, SessionFactory } from '../engine/onnx-session-factory.js';
import { type RawImage, sharpFromRaw } from '../pipelines/raw-image.js';
import type { PixelBox } from './text-layout.js';

/** One recognised line image. */
export interface RecognisedText {
  text: string;
  /** Mean probability of the emitted characters, 0–1 (1 for an empty read). */
  confidence: number;
}

/** The recogniser's input height, px. */
const INPUT_HEIGHT = 48;
/** Narrowest input, px (PaddleOCR's 320 × 48 default shape). */
const MIN_INPUT_WIDTH = 320;

/**
 * PP-OCRv4 text recognition (CTC, greedy decoding) of single-line crops.
 * Crops are resized to 48 px high, keeping their aspect ratio, and batched with right padding.
 */
export class TextRecognizer {
  static async load(modelPath: string, dictionaryPath: string, sessions: SessionFactory): Promise<TextRecognizer> {
    const [session, dictionaryText] = await Promise.all([sessions.create(modelPath), readFile(dictionaryPath, 'utf8')]);
    const characters = dictionaryText.split('\n').map((line) => line.replace(/\r$/, ''));
    if (characters.at(-1) === '') characters.pop();
    // Class 0 is the CTC blank; the model appends a space after the dictionary.
    return new TextRecognizer(session, ['', ...characters, ' ']);
  }

  readonly #session: ModelSession;
  readonly #classes: string[];

  /** Every character the model can emit. */
  get alphabet(): readonly string[] {
    return this.#classes.slice(1);
  }

  private constructor(session: ModelSession, classes: string[]) {
    this.#session = session;
    this.#classes = classes;
  }

  /** Reads each box of `image` as one line of text; results are in the order of `boxes`. */
  async recognise(image: RawImage, boxes: PixelBox[], maxBatchWidthPx = 2400): Promise<RecognisedText[]> {
    const crops = await Promise.all(boxes.map((box) => this.#prepare(image, box)));
    const results: RecognisedText[] = new Array(crops.length);
    // Batches of similar widths, so little of each batch is padding.
    const order = crops.map((_, i) => i).sort((a, b) => crops[a]!.width - crops[b]!.width);
    let batch: number[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const decoded = await this.#run(batch.map((i) => crops[i]!));
      batch.forEach((index, k) => (results[index] = decoded[k]!));
      batch = [];
    };
    for (const index of order) {
      const width = crops[index]!.width;
      if (batch.length > 0 && (width > crops[batch[0]!]!.width * 1.5 || width * (batch.length + 1) > maxBatchWidthPx)) await flush();
      batch.push(index);
    }
    await flush();
    return results;
  }

  async #prepare(image: RawImage, box: PixelBox): Promise<RawImage> {
    const left = Math.max(0, Math.round(box.left));
    const top = Math.max(0, Math.round(box.top));
    const width = Math.max(1, Math.min(image.width - left, Math.round(box.width)));
    const height = Math.max(1, Math.min(image.height - top, Math.round(box.height)));
    const targetWidth = Math.max(8, Math.ceil((INPUT_HEIGHT * width) / height));
    const data = await (await sharpFromRaw(image)).extract({ left, top, width, height }).resize(targetWidth, INPUT_HEIGHT, { fit: 'fill' }).raw().toBuffer();
    return { pixels: data, width: targetWidth, height: INPUT_HEIGHT, channels: 3 };
  }

  async #run(crops: RawImage[]): Promise<RecognisedText[]> {
    const width = Math.max(MIN_INPUT_WIDTH, ...crops.map((crop) => crop.width));
    const plane = INPUT_HEIGHT * width;
    // Zero in normalised space is mid-grey: PaddleOCR pads the same way.
    const input = new Float32Array(crops.length * 3 * plane);
    crops.forEach((crop, n) => {
      const base = n * 3 * plane;
      for (let y = 0; y < INPUT_HEIGHT; y++) {
        for (let x = 0; x < crop.width; x++) {
          const source = (y * crop.width + x) * 3;
          const target = base + y * width + x;
          input[target] = crop.pixels[source + 2]! / 127.5 - 1; // BGR, as PaddleOCR feeds OpenCV images
          input[target + plane] = crop.pixels[source + 1]! / 127.5 - 1;
          input[target + 2 * plane] = crop.pixels[source]! / 127.5 - 1;
        }
      }
    });
    const outputs = await this.#session.run({ [this.#session.inputs[0]!.name]: new ort.Tensor('float32', input, [crops.length, 3, INPUT_HEIGHT, width]) });
    const output = outputs[this.#session.outputs[0]!.name]!;
    const [, steps, classes] = output.dims as [number, number, number];
    const probabilities = output.data as Float32Array;
    return crops.map((crop, n) => {
      // Time steps past the crop's own width only saw padding.
      const usedSteps = Math.min(steps, Math.ceil((crop.width / width) * steps) + 1);
      return this.#decode(probabilities, n * steps * classes, usedSteps, classes);
    });
  }

  #decode(probabilities: Float32Array, offset: number, steps: number, classes: number): RecognisedText {
    let text = '';
    let confidenceSum = 0;
    let emitted = 0;
    let previous = -1;
    for (let t = 0; t < steps; t++) {
      const row = offset + t * classes;
      let best = 0;
      let bestProbability = probabilities[row]!;
      for (let c = 1; c < classes; c++) {
        const p = probabilities[row + c]!;
        if (p > bestProbability) {
          bestProbability = p;
          best = c;
        }
      }
      if (best !== 0 && best !== previous) {
        text += this.#classes[best] ?? '';
        confidenceSum += bestProbability;
        emitted++;
      }
      previous = best;
    }
    return { text, confidence: emitted === 0 ? 1 : confidenceSum / emitted };
  }
}
