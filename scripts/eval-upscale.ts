// Evaluates the upscalers on real photographs that npm packages ship, against sharp's bicubic.
// Usage: node --import tsx scripts/eval-upscale.ts [--models models] [--out bench/results] [--shipped-only]
//
// Protocol (as SR papers): crop, downscale by the scale factor with bicubic, upscale back (model | bicubic), compare
// with the original crop: luma PSNR and SSIM on BT.601 Y with a 4 px border cut. Every UpscalerJS variant is
// evaluated at ×2 and ×4 (unless --shipped-only), so the choice in scripts/onnx/upscale-catalog.ts can be checked;
// the shipped upscale-x2/x4 run from the built models folder through loadPipeline, as a worker runs them.
// Writes upscale-eval.{md,json} and one side-by-side PNG per shipped model (bicubic | model | original).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type Sharp } from 'sharp';
import { ModelRepository } from '../workers/models/model-repository.js';
import { parseUpscaleManifest } from '../workers/models/model-manifest.js';
import { upscaleModelFromManifest } from '../workers/models/upscale-model-from-manifest.js';
import { tilingFactsOfOnnx } from '../workers/models/onnx-tiling-facts.js';
import { createUpscalePipeline, describeUpscaleModel, loadPipeline, OnnxSessionFactory, type RawImage, type UpscalePipeline } from '../workers/pipelines/index.js';
import { buildModels } from './build-models.js';
import { lumaPsnr, lumaSsim } from './eval/luma-quality.js';
import { UPSCALE_CATALOG, UPSCALER_VARIANTS, variantSource } from './onnx/upscale-catalog.js';
import { convertUpscalerPackage, packageDir } from './tfjs/convert-upscaler-package.js';

const require = createRequire(import.meta.url);

interface Photo {
  name: string;
  source: string;
  image: RawImage;
}

async function raw(input: Sharp): Promise<RawImage> {
  const { data, info } = await input.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { pixels: new Uint8Array(data), width: info.width, height: info.height, channels: 3 };
}

/** Real photographs: the UpscalerJS packages' fixture, the USC-SIPI baboon, and 256² crops of @jimp/test-utils photos. */
async function loadPhotos(): Promise<Photo[]> {
  const jimp = join(packageDir('@jimp/test-utils'), 'images');
  const baboon = (require('baboon-image-uri') as string).split(',')[1]!;
  const crops: Array<[string, number, number]> = [['cops.jpg', 190, 60], ['fillbytes.jpg', 220, 200], ['panoramic.jpg', 4000, 260], ['panoramic.jpg', 7000, 260]];
  return [
    { name: 'flower', source: '@upscalerjs/esrgan-slim assets/fixture.png (128²)', image: await raw(sharp(join(packageDir('@upscalerjs/esrgan-slim'), 'assets/fixture.png'))) },
    { name: 'baboon', source: 'baboon-image-uri (128²)', image: await raw(sharp(Buffer.from(baboon, 'base64'))) },
    ...(await Promise.all(
      crops.map(async ([file, left, top]) => ({
        name: `${file.replace('.jpg', '')}@${left},${top}`,
        source: `@jimp/test-utils images/${file}, 256² at (${left}, ${top})`,
        image: await raw(sharp(join(jimp, file)).extract({ left, top, width: 256, height: 256 })),
      })),
    )),
  ];
}

async function resize(image: RawImage, width: number, height: number): Promise<RawImage> {
  return raw(sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(width, height, { kernel: 'cubic' }));
}

interface Row {
  model: string;
  scale: number;
  photo: string;
  bicubicPsnr: number;
  modelPsnr: number;
  bicubicSsim: number;
  modelSsim: number;
  msPerMegapixel: number;
}

async function evaluate(model: string, pipeline: UpscalePipeline, photos: Photo[], keep?: RawImage[][]): Promise<Row[]> {
  const rows: Row[] = [];
  const scale = pipeline.scale;
  for (const photo of photos) {
    const width = photo.image.width - (photo.image.width % scale);
    const height = photo.image.height - (photo.image.height % scale);
    const original = await raw(sharp(photo.image.pixels, { raw: { width: photo.image.width, height: photo.image.height, channels: 3 } }).extract({ left: 0, top: 0, width, height }));
    const low = await resize(original, width / scale, height / scale);
    const bicubic = await resize(low, width, height);
    await pipeline.upscale(low); // warm-up: the first run pays onnxruntime's allocations
    const started = performance.now();
    const upscaled = await pipeline.upscale(low);
    const elapsedMs = performance.now() - started;
    rows.push({
      model,
      scale,
      photo: photo.name,
      bicubicPsnr: lumaPsnr(bicubic, original),
      modelPsnr: lumaPsnr(upscaled, original),
      bicubicSsim: lumaSsim(bicubic, original),
      modelSsim: lumaSsim(upscaled, original),
      msPerMegapixel: elapsedMs / ((width * height) / 1e6),
    });
    keep?.push([bicubic, upscaled, original]);
  }
  return rows;
}

/** Rows of (bicubic | model | original), each photo at its own height, on white. */
async function sideBySide(triples: RawImage[][], file: string): Promise<void> {
  const gap = 8;
  const rowWidth = Math.max(...triples.map((t) => t[0]!.width)) * 3 + gap * 4;
  const height = triples.reduce((h, t) => h + t[0]!.height + gap, gap);
  const composites: import("sharp").OverlayOptions[] = [];
  let top = gap;
  for (const triple of triples) {
    triple.forEach((image, i) => {
      composites.push({ input: Buffer.from(image.pixels), raw: { width: image.width, height: image.height, channels: 3 }, left: gap + i * (image.width + gap), top });
    });
    top += triple[0]!.height + gap;
  }
  await sharp({ create: { width: rowWidth, height, channels: 3, background: '#ffffff' } }).composite(composites).png().toFile(file);
}

async function candidate(variant: string, scale: 2 | 4, factory: OnnxSessionFactory, dir: string): Promise<UpscalePipeline> {
  const source = variantSource(variant as (typeof UPSCALER_VARIANTS)[number], scale);
  const converted = await convertUpscalerPackage(source.packageName, source.definition);
  const path = join(dir, `${variant}-x${scale}.onnx`);
  await writeFile(path, converted.onnx);
  const session = await factory.create(path);
  const graph = tilingFactsOfOnnx(converted.onnx);
  const model = await describeUpscaleModel(session, { valueRange: converted.valueRange, receptiveFieldPx: graph.receptiveFieldPx ?? 0, sizeMultiple: graph.sizeMultiple });
  const manifest = parseUpscaleManifest(
    { schemaVersion: 1, pipeline: 'upscale', name: `${variant}-x${scale}`, lanes: ['upscale'], sizes: { min: 1, max: 4096 }, scale, valueRange: converted.valueRange, tile: { sizePx: 1024 }, residentBytes: 0, activationBytesPerMegapixel: 0, costUnitsPerImage: 1 },
    'eval candidate',
  );
  return createUpscalePipeline(upscaleModelFromManifest(manifest, dir), session, model);
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const fixed = (value: number, digits = 2) => value.toFixed(digits);

function summary(rows: Row[]) {
  const gains = rows.map((r) => r.modelPsnr - r.bicubicPsnr);
  return {
    meanGainDb: mean(gains),
    worstGainDb: Math.min(...gains),
    meanModelPsnr: mean(rows.map((r) => r.modelPsnr)),
    meanBicubicPsnr: mean(rows.map((r) => r.bicubicPsnr)),
    meanModelSsim: mean(rows.map((r) => r.modelSsim)),
    meanBicubicSsim: mean(rows.map((r) => r.bicubicSsim)),
    msPerMegapixel: mean(rows.map((r) => r.msPerMegapixel)),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { models: { type: 'string', default: 'models' }, out: { type: 'string', default: 'bench/results' }, 'shipped-only': { type: 'boolean', default: false } } });
  const outDir = resolve(values.out);
  await mkdir(outDir, { recursive: true });
  await buildModels({ outDir: values.models });
  const photos = await loadPhotos();
  const factory = new OnnxSessionFactory();
  const repository = new ModelRepository(values.models);
  const rows: Row[] = [];
  for (const entry of UPSCALE_CATALOG) {
    const pipeline = (await loadPipeline(await repository.describe(entry.name), { sessionFactory: factory })) as UpscalePipeline;
    const triples: RawImage[][] = [];
    rows.push(...(await evaluate(entry.name, pipeline, photos, triples)));
    await sideBySide(triples, join(outDir, `${entry.name}-side-by-side.png`));
    await pipeline.release();
  }
  if (!values['shipped-only']) {
    const scratch = await mkdtemp(join(tmpdir(), 'upscale-eval-'));
    for (const scale of [2, 4] as const) {
      for (const variant of UPSCALER_VARIANTS) {
        const pipeline = await candidate(variant, scale, factory, scratch);
        rows.push(...(await evaluate(`${variant} ×${scale}`, pipeline, photos)));
        await pipeline.release();
      }
    }
    await rm(scratch, { recursive: true, force: true });
  }
  const models = [...new Set(rows.map((r) => r.model))];
  const lines = [
    `# Upscale eval (${new Date().toISOString()})`,
    '',
    `Luma (BT.601 Y) PSNR/SSIM, 4 px border cut, against the original; low-resolution inputs made with sharp's bicubic. CPU: ${cpus()[0]?.model ?? '?'} × ${cpus().length}, onnxruntime CPU provider.`,
    '',
    'Photos: ' + photos.map((p) => `${p.name} (${p.source})`).join('; ') + '.',
    '',
    '| model | scale | mean PSNR gain over bicubic | worst gain | PSNR model / bicubic | SSIM model / bicubic | ms per output megapixel |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...models.map((model) => {
      const s = summary(rows.filter((r) => r.model === model));
      const scale = rows.find((r) => r.model === model)!.scale;
      return `| ${model} | ×${scale} | ${fixed(s.meanGainDb)} dB | ${fixed(s.worstGainDb)} dB | ${fixed(s.meanModelPsnr)} / ${fixed(s.meanBicubicPsnr)} dB | ${fixed(s.meanModelSsim, 4)} / ${fixed(s.meanBicubicSsim, 4)} | ${fixed(s.msPerMegapixel, 0)} |`;
    }),
    '',
    '| model | photo | bicubic PSNR | model PSNR | gain | bicubic SSIM | model SSIM |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.filter((r) => r.model.startsWith('upscale-')).map((r) => `| ${r.model} | ${r.photo} | ${fixed(r.bicubicPsnr)} | ${fixed(r.modelPsnr)} | ${fixed(r.modelPsnr - r.bicubicPsnr)} | ${fixed(r.bicubicSsim, 4)} | ${fixed(r.modelSsim, 4)} |`),
    '',
  ];
  await writeFile(join(outDir, 'upscale-eval.md'), lines.join('\n'));
  await writeFile(join(outDir, 'upscale-eval.json'), `${JSON.stringify({ photos: photos.map(({ name, source }) => ({ name, source })), rows }, null, 2)}\n`);
  console.log(lines.join('\n'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
