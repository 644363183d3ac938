// Evaluates the typography lane's text layer on a JSONL file of texts: renders each over a background,
// reads it back by OCR and prints pass rates, mean CER and OCR time per check.
// Usage: npm run eval:typography -- [--file F.jsonl] [--json] [--size 1024] [--limit N] [--out DIR] [--whitespace ignore|collapse]
//        [--background model|gradient]  (default model: the lane's typography-v1 diffusion pipeline from ./models)
// --whitespace sets how the check compares spaces (default: the checker's, 'ignore'); the mean CER with spaces
// compared is printed as well either way.
// Lines: { "text": "…", "align"?, "font"?, "weight"?, "color"?, "position"?, "onFail"? } (the request's
// `text` fields, with `text` standing for `content`), optionally "seed" for the background.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { textSpecSchema } from '../contract/index.js';
import { loadPipeline, ModelRepository, planRenderSize, resizeRaw } from '../workers/index.js';
import { type BackgroundProvider, characterErrorRate, gradientBackground, resolveTextSpec, TypographyRenderer } from '../workers/typography/index.js';
import { buildModels } from './build-models.js';

/**
 * The background under the text: by default the lane's own, from its diffusion pipeline (typography-v1,
 * rendered at a size it allows and resized as the worker does); `--background gradient` for a synthetic one.
 */
async function laneBackground(): Promise<BackgroundProvider> {
  await buildModels({ outDir: 'models' });
  const pipeline = await loadPipeline(await new ModelRepository('models').describe('typography-v1'));
  if (pipeline.kind !== 'diffusion') throw new Error('typography-v1 is not a diffusion model');
  const provider: BackgroundProvider = async (width, height, seed) => {
    const render = planRenderSize(pipeline.model.sizes, width, height);
    const [raw] = await pipeline.run([{ prompt: 'poster background, typography layout', seed, width: render.width, height: render.height }]);
    return resizeRaw(raw!, width, height);
  };
  Object.defineProperty(provider, 'name', { value: 'typography-v1 model' });
  return provider;
}

const { values } = parseArgs({
  options: {
    file: { type: 'string', default: 'scripts/data/typography-reference.jsonl' },
    json: { type: 'boolean', default: false },
    size: { type: 'string', default: '1024' },
    limit: { type: 'string' },
    out: { type: 'string' },
    whitespace: { type: 'string' },
    background: { type: 'string', default: 'model' },
  },
});
if (values.background !== 'model' && values.background !== 'gradient') throw new RangeError(`--background must be model or gradient, got ${values.background}`);
const background: BackgroundProvider = values.background === 'model' ? await laneBackground() : gradientBackground;
if (values.whitespace !== undefined && values.whitespace !== 'ignore' && values.whitespace !== 'collapse') {
  throw new RangeError(`--whitespace must be 'ignore' or 'collapse', got ${values.whitespace}`);
}
const size = Number(values.size);
if (!Number.isInteger(size) || size < 64 || size > 2048) throw new RangeError(`--size must be an integer 64–2048, got ${values.size}`);

interface Case {
  line: number;
  seed: number;
  text: ReturnType<typeof textSpecSchema.parse>;
}

const cases: Case[] = readFileSync(values.file, 'utf8')
  .split('\n')
  .map((raw, index) => ({ raw: raw.trim(), line: index + 1 }))
  .filter(({ raw }) => raw.length > 0)
  .map(({ raw, line }) => {
    const { text, seed, ...layout } = JSON.parse(raw) as { text: string; seed?: number } & Record<string, unknown>;
    const parsed = textSpecSchema.safeParse({ content: text, ...layout });
    if (!parsed.success) throw new Error(`${values.file}:${line}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return { line, seed: seed ?? line, text: parsed.data };
  })
  .slice(0, values.limit === undefined ? undefined : Number(values.limit));

const renderer = await TypographyRenderer.create(values.whitespace === undefined ? {} : { ocr: { whitespace: values.whitespace } });
if (values.out !== undefined) mkdirSync(values.out, { recursive: true });

// One untimed render first: ONNX Runtime's first run of a shape is slower than the steady state.
const warmUpSpec = resolveTextSpec({ prompt: '', text: { content: 'Warm up 123' } })!;
await renderer.render(await background(size, size, 0), warmUpSpec);
const countersBefore = renderer.counters;

const checkMs: number[] = [];
const renderMs: number[] = [];
const failures: { line: number; expected: string; read: string; cer: number }[] = [];
let cerSum = 0;
let cerWithSpacesSum = 0;
let firstTryPasses = 0;
let finalPasses = 0;
for (const c of cases) {
  const spec = resolveTextSpec({ prompt: '', text: c.text })!;
  const started = performance.now();
  const result = await renderer.render(await background(size, size, c.seed), spec);
  renderMs.push(performance.now() - started);
  checkMs.push(...result.attempts.map((a) => a.checkMs));
  cerSum += result.text.cer;
  cerWithSpacesSum += characterErrorRate(result.text.expected, result.text.read, {
    whitespace: 'collapse',
    isUnreadable: (char) => !renderer.ocr.canRead(char),
  });
  if (result.attempts[0]!.passed) firstTryPasses++;
  if (result.text.passed) finalPasses++;
  else failures.push({ line: c.line, expected: result.text.expected, read: result.text.read, cer: result.text.cer });
  if (!values.json && result.text.attempts > 1) {
    const tries = result.attempts.map((a) => `${a.safety} cer=${a.cer.toFixed(3)} read=${JSON.stringify(a.read)}`).join(' | ');
    console.log(`line ${c.line}: ${JSON.stringify(spec.content)} → ${tries}`);
  }
  if (values.out !== undefined) writeFileSync(join(values.out, `${String(c.line).padStart(3, '0')}.png`), result.image);
}

const total = cases.length;
const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
const summary = {
  total,
  passRate: total === 0 ? 0 : finalPasses / total,
  firstTryPassRate: total === 0 ? 0 : firstTryPasses / total,
  meanCer: total === 0 ? 0 : cerSum / total,
  meanCerWithSpaces: total === 0 ? 0 : cerWithSpacesSum / total,
  msPerCheck: mean(checkMs),
  p95MsPerCheck: percentile(checkMs, 0.95),
  checks: renderer.counters.checks - countersBefore.checks,
  msPerRender: mean(renderMs),
  failures,
};

if (values.json) {
  console.log(JSON.stringify(summary));
} else {
  console.log(`file              ${values.file} (${size}×${size}, background: ${background.name || 'custom'})`);
  console.log(`total             ${total}`);
  console.log(`first-try pass    ${(summary.firstTryPassRate * 100).toFixed(1)} %`);
  console.log(`final pass        ${(summary.passRate * 100).toFixed(1)} %`);
  console.log(`mean CER          ${summary.meanCer.toFixed(4)} (${summary.meanCerWithSpaces.toFixed(4)} with spaces compared)`);
  console.log(`OCR ms per check  ${summary.msPerCheck.toFixed(0)} (p95 ${summary.p95MsPerCheck.toFixed(0)}, ${summary.checks} checks)`);
  console.log(`ms per render     ${summary.msPerRender.toFixed(0)} (layout, drawing, every check and the encode)`);
  for (const f of failures) console.log(`FAILED line ${f.line}: expected ${JSON.stringify(f.expected)}, read ${JSON.stringify(f.read)} (cer ${f.cer.toFixed(3)})`);
}
