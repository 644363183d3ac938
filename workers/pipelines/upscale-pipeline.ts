import ort from 'onnxruntime-node';
import { loadSharp } from './sharp-loader.js';
import { FleetError } from '../../contract/index.js';
import type { UpscaleModel } from '../models/model-description.js';
import { describeSizes, isSizeAllowed, maxPixelsOf } from '../models/model-manifest.js';
import type { ModelSession } from '../engine/onnx-session-factory.js';
import type { UpscaleOptions, UpscalePipeline } from './pipeline-types.js';
import { reflectPad, writeWindowAsPlanar, type RawImage } from './raw-image.js';
import { runForFloatOutput } from './run-session.js';
import { planAxis, type AxisTile } from './tile-plan.js';
import type { UpscaleModelDescription } from './upscale-model.js';

const DEFAULT_TILES_PER_BATCH = 4;
/** Overlap when neither the manifest nor the graph bounds the receptive field (Real-ESRGAN's own tile_pad is 10). */
const FALLBACK_OVERLAP_PX = 16;

function isRawImage(source: Uint8Array | RawImage): source is RawImage {
  return !(source instanceof Uint8Array);
}

const roundUp = (value: number, multiple: number) => Math.ceil(value / multiple) * multiple;
const roundDown = (value: number, multiple: number) => Math.max(multiple, Math.floor(value / multiple) * multiple);

/**
 * Decodes any image sharp reads into 8-bit sRGB without alpha, refusing one of more than `maxPixels` before its
 * pixels are decoded.
 * @param options.what names the image in the error (`the upscale source`, `the edit source`); `field` is the request field.
 * @throws FleetError E_SOURCE
 */
export async function decodeSource(source: Uint8Array, options: { maxPixels?: number; what?: string; field?: string } = {}): Promise<RawImage> {
  const sharp = await loadSharp();
  const { maxPixels, what = 'the upscale source', field } = options;
  try {
    const { data, info } = await sharp(source, maxPixels === undefined ? {} : { limitInputPixels: maxPixels }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
  } catch (error) {
    throw new FleetError('E_SOURCE', `${what} could not be decoded as an image`, { cause: error, ...(field === undefined ? {} : { field }) });
  }
}

/** One axis of a run: the padded length the model sees and the tiles over it. */
interface AxisPlan {
  paddedLength: number;
  tiles: AxisTile[];
}

/**
 * Plans one axis. Tiles start on a multiple of `multiple` (so a pixel-unshuffle model sees the same block grid in
 * every tile as in a whole-image run) and overlap by at least `overlap`. A dynamic model's tiles grow to twice the
 * overlap when `tileSize` is smaller, so the overlap always fits; a static tile cannot grow, so there the overlap is
 * capped at half the tile (exact only while the receptive field fits in it). The image is reflect-padded at its end
 * when it is shorter than a static tile or not a multiple of `multiple`.
 */
function planRun(length: number, tileSize: number, isStatic: boolean, overlap: number, multiple: number): AxisPlan {
  const aligned = roundUp(overlap, multiple);
  const tile = isStatic ? tileSize : roundDown(Math.max(tileSize, 2 * aligned), multiple);
  const padded = isStatic ? Math.max(roundUp(length, multiple), tile) : roundUp(length, multiple);
  const tileLength = Math.min(tile, padded);
  const kept = Math.min(aligned, roundDown(Math.floor(tileLength / 2), multiple), tileLength - 1);
  return { paddedLength: padded, tiles: planAxis(padded, tileLength, Math.max(0, kept)) };
}

/**
 * Tiled super-resolution over one session shaped `[N,3,H,W] → [N,3,sH,sW]`, driven by `describeUpscaleModel`'s
 * description: static input shapes fix the tile (edges reflect-padded, output cropped), pixel-unshuffle models get
 * sides padded to their factor, fp16 exports are fed through the session's float32 boundary, and [0,255] models are
 * scaled in and out. Tiles overlap by twice the receptive field (plus the rounding of the split), so the kept part
 * of each tile equals a whole-image run.
 * @throws FleetError E_MODEL_SHAPE when the manifest's scale is not the model's.
 */
export function createUpscalePipeline(upscaler: UpscaleModel, session: ModelSession, model: UpscaleModelDescription): UpscalePipeline {
  if (model.scale !== upscaler.scale) {
    throw new FleetError('E_MODEL_SHAPE', `${session.modelPath}: the manifest says scale ${upscaler.scale}, the model's output is ${model.scale}× its input`, {
      details: { file: session.modelPath },
    });
  }
  const { scale, valueRange } = model;
  const derivedOverlap = upscaler.tile.overlapPx ?? (model.receptiveFieldPx === undefined ? FALLBACK_OVERLAP_PX : 2 * Math.ceil(model.receptiveFieldPx) + 2);

  async function runTiles(image: RawImage, tiles: Array<{ x: AxisTile; y: AxisTile }>, output: Uint8Array, outWidth: number, outHeight: number): Promise<void> {
    const tileWidth = tiles[0]!.x.length;
    const tileHeight = tiles[0]!.y.length;
    const plane = tileWidth * tileHeight;
    const batch = new Float32Array(tiles.length * 3 * plane);
    tiles.forEach((tile, i) => writeWindowAsPlanar(image, tile.x.start, tile.y.start, tileWidth, tileHeight, batch, i * 3 * plane, valueRange));
    const feeds = { [model.inputName]: new ort.Tensor('float32', batch, [tiles.length, 3, tileHeight, tileWidth]) };
    const { data, dims } = await runForFloatOutput(session, feeds, model.outputName);
    const outTileWidth = tileWidth * scale;
    const outTileHeight = tileHeight * scale;
    if (dims[0] !== tiles.length || dims[1] !== 3 || dims[2] !== outTileHeight || dims[3] !== outTileWidth) {
      throw new FleetError('E_MODEL_SHAPE', `${session.modelPath}: output is [${dims.join(',')}] for a [${tiles.length},3,${tileHeight},${tileWidth}] input at scale ${scale}`, {
        details: { file: session.modelPath },
      });
    }
    const outPlane = outTileWidth * outTileHeight;
    const gain = 255 / valueRange;
    tiles.forEach((tile, i) => {
      const base = i * 3 * outPlane;
      const yEnd = Math.min(tile.y.keepEnd * scale, outHeight);
      const xEnd = Math.min(tile.x.keepEnd * scale, outWidth);
      for (let y = tile.y.keepStart * scale; y < yEnd; y++) {
        const tileRow = (y - tile.y.start * scale) * outTileWidth - tile.x.start * scale;
        for (let x = tile.x.keepStart * scale; x < xEnd; x++) {
          const p = base + tileRow + x;
          const o = (y * outWidth + x) * 3;
          for (let c = 0; c < 3; c++) {
            const v = Math.round(data[p + c * outPlane]! * gain);
            output[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
          }
        }
      }
    });
  }

  async function upscale(source: Uint8Array | RawImage, options: UpscaleOptions = {}): Promise<RawImage> {
    const image = isRawImage(source) ? source : await decodeSource(source, { maxPixels: maxPixelsOf(upscaler.sizes) });
    if (image.pixels.length !== image.width * image.height * 3) {
      throw new FleetError('E_SOURCE', `raw source has ${image.pixels.length} bytes for ${image.width}x${image.height} RGB`);
    }
    if (!isSizeAllowed(upscaler.sizes, image.width, image.height)) {
      throw new FleetError('E_VALIDATION', `${upscaler.name} takes sources of ${describeSizes(upscaler.sizes)}; got ${image.width}x${image.height}`, {
        field: 'source',
      });
    }
    const tileSize = options.tileSizePx ?? upscaler.tile.sizePx;
    const overlap = options.tileOverlapPx ?? derivedOverlap;
    const perBatch = model.fixedBatch ?? options.tilesPerBatch ?? DEFAULT_TILES_PER_BATCH;
    if (!Number.isInteger(perBatch) || perBatch < 1) throw new RangeError(`tilesPerBatch must be an integer >= 1, got ${perBatch}`);

    const isStatic = model.staticTile !== undefined;
    const columns = planRun(image.width, model.staticTile?.widthPx ?? tileSize, isStatic, overlap, model.sizeMultiple);
    const rows = planRun(image.height, model.staticTile?.heightPx ?? tileSize, isStatic, overlap, model.sizeMultiple);
    const padded = reflectPad(image, columns.paddedLength, rows.paddedLength);
    const outWidth = image.width * scale;
    const outHeight = image.height * scale;
    const output = new Uint8Array(outWidth * outHeight * 3);
    // planAxis gives every tile of an axis the same length, so all tiles share one shape and batch freely.
    const tiles = rows.tiles.flatMap((y) => columns.tiles.map((x) => ({ x, y })));
    // A fixed-batch export takes exactly that many tiles a call: the last call repeats its final tile to fill up.
    for (let i = 0; i < tiles.length; i += perBatch) {
      const group = tiles.slice(i, i + perBatch);
      if (model.fixedBatch !== undefined) while (group.length < perBatch) group.push(group.at(-1)!);
      await runTiles(padded, group, output, outWidth, outHeight);
    }
    return { pixels: output, width: outWidth, height: outHeight, channels: 3 };
  }

  return {
    kind: 'upscale',
    model: upscaler,
    scale,
    upscale,
    release: () => session.release(),
  };
}
