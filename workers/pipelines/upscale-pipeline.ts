import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { FleetError } from '../../contract/index.js';
import type { UpscaleModel } from '../models/model-description.js';
import { describeSizes, isSizeAllowed } from '../models/model-manifest.js';
import type { ModelSession } from '../engine/onnx-session-factory.js';
import type { UpscaleOptions, UpscalePipeline } from './pipeline-types.js';
import { writeWindowAsPlanar, type RawImage } from './raw-image.js';
import { runForFloatOutput } from './run-session.js';
import { planAxis, type AxisTile } from './tile-plan.js';

const DEFAULT_TILES_PER_BATCH = 4;

function isRawImage(source: Uint8Array | RawImage): source is RawImage {
  return !(source instanceof Uint8Array);
}

/** Decodes any image sharp reads into 8-bit sRGB without alpha. @throws FleetError E_SOURCE */
export async function decodeSource(source: Uint8Array): Promise<RawImage> {
  try {
    const { data, info } = await sharp(source).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
  } catch (error) {
    throw new FleetError('E_SOURCE', 'the upscale source could not be decoded as an image', { cause: error });
  }
}

/**
 * Tiled super-resolution over one session whose single input is [N,3,H,W] in [0,1] and whose single output is
 * [N,3,sH,sW]. Names are read from the session (exports call them `input`/`output`, `image`/`upscaled`, …).
 */
export function createUpscalePipeline(model: UpscaleModel, session: ModelSession): UpscalePipeline {
  if (session.inputs.length !== 1 || session.outputs.length !== 1) {
    throw new FleetError(
      'E_MODEL_SHAPE',
      `${session.modelPath}: an upscale model has one input [N,3,H,W] and one output; found inputs [${session.inputs.map((t) => t.name).join(', ')}] outputs [${session.outputs.map((t) => t.name).join(', ')}]`,
      { details: { file: session.modelPath } },
    );
  }
  const input = session.inputs[0]!;
  const outputName = session.outputs[0]!.name;
  if ((input.type !== undefined && input.type !== 'float32') || (input.dims.length !== 0 && input.dims.length !== 4)) {
    throw new FleetError('E_MODEL_SHAPE', `${session.modelPath}: input ${input.name} is ${input.type} [${input.dims.join(',')}], expected float32 [N,3,H,W]`, {
      details: { file: session.modelPath },
    });
  }
  const scale = model.scale;
  const fixedBatch = typeof input.dims[0] === 'number' ? input.dims[0] : undefined;

  async function runTiles(image: RawImage, tiles: Array<{ x: AxisTile; y: AxisTile }>, output: Uint8Array, outWidth: number): Promise<void> {
    const { x: first } = tiles[0]!;
    const tileWidth = first.length;
    const tileHeight = tiles[0]!.y.length;
    const plane = tileWidth * tileHeight;
    const batch = new Float32Array(tiles.length * 3 * plane);
    tiles.forEach((tile, i) => writeWindowAsPlanar(image, tile.x.start, tile.y.start, tileWidth, tileHeight, batch, i * 3 * plane));
    const { data, dims } = await runForFloatOutput(session, { [input.name]: new ort.Tensor('float32', batch, [tiles.length, 3, tileHeight, tileWidth]) }, outputName);
    const outTileWidth = tileWidth * scale;
    const outTileHeight = tileHeight * scale;
    if (dims[0] !== tiles.length || dims[1] !== 3 || dims[2] !== outTileHeight || dims[3] !== outTileWidth) {
      throw new FleetError(
        'E_MODEL_SHAPE',
        `${session.modelPath}: output is [${dims.join(',')}] for a [${tiles.length},3,${tileHeight},${tileWidth}] input; the model says scale ${scale}`,
        { details: { file: session.modelPath } },
      );
    }
    const outPlane = outTileWidth * outTileHeight;
    tiles.forEach((tile, i) => {
      const base = i * 3 * outPlane;
      for (let y = tile.y.keepStart * scale; y < tile.y.keepEnd * scale; y++) {
        const tileRow = (y - tile.y.start * scale) * outTileWidth - tile.x.start * scale;
        for (let x = tile.x.keepStart * scale; x < tile.x.keepEnd * scale; x++) {
          const p = base + tileRow + x;
          const o = (y * outWidth + x) * 3;
          for (let c = 0; c < 3; c++) {
            const v = Math.round(data[p + c * outPlane]! * 255);
            output[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
          }
        }
      }
    });
  }

  async function upscale(source: Uint8Array | RawImage, options: UpscaleOptions = {}): Promise<RawImage> {
    const image = isRawImage(source) ? source : await decodeSource(source);
    if (image.pixels.length !== image.width * image.height * 3) {
      throw new FleetError('E_SOURCE', `raw source has ${image.pixels.length} bytes for ${image.width}x${image.height} RGB`);
    }
    if (!isSizeAllowed(model.sizes, image.width, image.height)) {
      throw new FleetError('E_VALIDATION', `${model.name} takes sources of ${describeSizes(model.sizes)}; got ${image.width}x${image.height}`, {
        field: 'source',
      });
    }
    const tileSize = options.tileSizePx ?? model.tile.sizePx;
    const overlap = Math.min(options.tileOverlapPx ?? model.tile.overlapPx, tileSize - 1);
    const perBatch = fixedBatch ?? options.tilesPerBatch ?? DEFAULT_TILES_PER_BATCH;
    if (!Number.isInteger(perBatch) || perBatch < 1) throw new RangeError(`tilesPerBatch must be an integer >= 1, got ${perBatch}`);

    const columns = planAxis(image.width, tileSize, overlap);
    const rows = planAxis(image.height, tileSize, overlap);
    const outWidth = image.width * scale;
    const output = new Uint8Array(outWidth * image.height * scale * 3);
    // planAxis gives every tile of an axis the same length, so all tiles share one shape and batch freely.
    const tiles = rows.flatMap((y) => columns.map((x) => ({ x, y })));
    for (let i = 0; i < tiles.length; i += perBatch) {
      await runTiles(image, tiles.slice(i, i + perBatch), output, outWidth);
    }
    return { pixels: output, width: outWidth, height: image.height * scale, channels: 3 };
  }

  return {
    kind: 'upscale',
    model,
    scale,
    upscale,
    release: () => session.release(),
  };
}
