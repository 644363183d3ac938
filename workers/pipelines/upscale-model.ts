import ort from 'onnxruntime-node';
import { FleetError } from '../../contract/index.js';
import type { ModelSession } from '../engine/onnx-session-factory.js';
import { UPSCALE_SCALES, type UpscaleScale } from '../models/model-manifest.js';
import { runForFloatOutput } from './run-session.js';

/** What the upscale pipeline needs to know about a super-resolution model. */
export interface UpscaleModelDescription {
  inputName: string;
  outputName: string;
  /** Output side / input side. */
  scale: UpscaleScale;
  /** The input's declared height and width when both are fixed numbers (official Real-ESRGAN exports: 64×64). */
  staticTile: { heightPx: number; widthPx: number } | undefined;
  /** The input's declared batch when it is a fixed number (usually 1). */
  fixedBatch: number | undefined;
  /**
   * Input sides must be a multiple of this: the pixel-unshuffle factor of models that fold 2×2 (or 4×4) blocks
   * into channels before their body (RealESRGAN_x2plus: 2). 1 when any size runs.
   */
  sizeMultiple: number;
  /** Element type of the input as exported; the session boundary converts float32 to it. */
  precision: 'float32' | 'float16';
  /** Pixel values span [0, valueRange]: 1 for Real-ESRGAN-style exports, 255 for UpscalerJS's RDN models (declared, else 1). */
  valueRange: 1 | 255;
  /** Receptive field radius in input pixels, when known (declared or read from the graph). */
  receptiveFieldPx: number | undefined;
}

/** Facts a manifest or a loader already knows; each one given skips its probe. */
export interface DeclaredUpscaleFacts {
  scale?: UpscaleScale;
  valueRange?: 1 | 255;
  sizeMultiple?: number;
  receptiveFieldPx?: number;
}

const PROBE_SIDE = 9;
const SIZE_MULTIPLES = [1, 2, 4, 8];

function modelShape(session: ModelSession, message: string): FleetError {
  return new FleetError('E_MODEL_SHAPE', `${session.modelPath}: ${message}`, { details: { file: session.modelPath } });
}

/** A smooth colour ramp with a little texture, in [0.15, 0.85]. */
function probeImage(height: number, width: number, batch: number): Float32Array {
  const plane = height * width;
  const data = new Float32Array(batch * 3 * plane);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = 0.5 + 0.25 * Math.sin((x + 2 * c) / 3) * Math.cos((y - c) / 4) + 0.1 * ((x * 7 + y * 3 + c) % 5) / 4 - 0.05;
        for (let n = 0; n < batch; n++) data[n * 3 * plane + c * plane + y * width + x] = v;
      }
    }
  }
  return data;
}

async function probe(session: ModelSession, inputName: string, outputName: string, data: Float32Array, dims: number[]) {
  return runForFloatOutput(session, { [inputName]: new ort.Tensor('float32', data, dims) }, outputName);
}

/**
 * Works out how to drive a super-resolution session from its declared input/output dims and types, plus cheap probe
 * runs for what neither they nor `declared` say: the scale and the size multiple (a pixel-unshuffle model refuses
 * sides that are not a multiple of its factor, so the smallest probe side it accepts shows the factor). A static input
 * shape fixes the tile and is probed at that shape only. The value range is not probed: ReLU super-resolution
 * networks are close to scale-equivariant (f(255·x) ≈ 255·f(x): the README's *Upscale lane* has the measurement),
 * so no probe tells [0,1] from [0,255], and a wrong guess costs little. Undeclared, it is [0,1], the PyTorch and
 * Real-ESRGAN convention.
 * @throws FleetError E_MODEL_SHAPE when the model is not one-input/one-output [N,3,H,W] float, or a probe cannot
 *   find a size it accepts or a scale in 2, 3, 4, 8.
 */
export async function describeUpscaleModel(session: ModelSession, declared: DeclaredUpscaleFacts = {}): Promise<UpscaleModelDescription> {
  if (session.inputs.length !== 1 || session.outputs.length !== 1) {
    throw modelShape(
      session,
      `an upscale model has one input [N,3,H,W] and one output; found inputs [${session.inputs.map((t) => t.name).join(', ')}] outputs [${session.outputs.map((t) => t.name).join(', ')}]`,
    );
  }
  const input = session.inputs[0]!;
  const outputName = session.outputs[0]!.name;
  const precision = input.type === undefined || input.type === 'float32' ? 'float32' : input.type === 'float16' ? 'float16' : undefined;
  if (precision === undefined || (input.dims.length !== 0 && input.dims.length !== 4) || (typeof input.dims[1] === 'number' && input.dims[1] !== 3)) {
    throw modelShape(session, `input ${input.name} is ${input.type} [${input.dims.join(',')}], expected float32 or float16 [N,3,H,W]`);
  }
  const [batchDim, , heightDim, widthDim] = input.dims;
  const fixedBatch = typeof batchDim === 'number' ? batchDim : undefined;
  const staticTile = typeof heightDim === 'number' && typeof widthDim === 'number' ? { heightPx: heightDim, widthPx: widthDim } : undefined;
  const batch = fixedBatch ?? 1;

  let scale = declared.scale;
  let sizeMultiple = declared.sizeMultiple ?? (staticTile === undefined ? undefined : 1);
  const outDims = session.outputs[0]!.dims;
  if (scale === undefined && staticTile !== undefined && typeof outDims[2] === 'number' && typeof outDims[3] === 'number') {
    scale = checkScale(session, outDims[2] / staticTile.heightPx, outDims[3] / staticTile.widthPx);
  }

  // One probe shape serves every question: the static shape, or the smallest side the model accepts.
  let probeHeight = staticTile?.heightPx ?? PROBE_SIDE * (sizeMultiple ?? 1);
  let probeWidth = staticTile?.widthPx ?? probeHeight;
  let probed: { data: Float32Array; dims: readonly number[] } | undefined;
  let probeInput = probeImage(probeHeight, probeWidth, batch);
  const needProbe = scale === undefined || sizeMultiple === undefined;
  if (needProbe && sizeMultiple === undefined) {
    const failures: unknown[] = [];
    for (const multiple of SIZE_MULTIPLES) {
      probeHeight = probeWidth = PROBE_SIDE * multiple;
      probeInput = probeImage(probeHeight, probeWidth, batch);
      try {
        probed = await probe(session, input.name, outputName, probeInput, [batch, 3, probeHeight, probeWidth]);
        sizeMultiple = multiple;
        break;
      } catch (error) {
        failures.push(error);
      }
    }
    if (sizeMultiple === undefined) {
      throw new FleetError('E_MODEL_SHAPE', `${session.modelPath}: the model ran on no probe of side ${SIZE_MULTIPLES.map((m) => PROBE_SIDE * m).join(', ')}`, {
        cause: failures.at(-1),
        details: { file: session.modelPath },
      });
    }
  } else if (needProbe) {
    probed = await probe(session, input.name, outputName, probeInput, [batch, 3, probeHeight, probeWidth]);
  }
  if (scale === undefined) scale = checkScale(session, probed!.dims[2]! / probeHeight, probed!.dims[3]! / probeWidth);

  return {
    inputName: input.name,
    outputName,
    scale,
    staticTile,
    fixedBatch,
    sizeMultiple: sizeMultiple ?? 1,
    precision,
    valueRange: declared.valueRange ?? 1,
    receptiveFieldPx: declared.receptiveFieldPx,
  };
}

function checkScale(session: ModelSession, vertical: number, horizontal: number): UpscaleScale {
  const found = UPSCALE_SCALES.find((s) => s === vertical && s === horizontal);
  if (found === undefined) throw modelShape(session, `output is ${vertical}× by ${horizontal}× the input; an upscaler scales both sides by 2, 3, 4 or 8`);
  return found;
}
