import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { FleetError } from '../../contract/index.js';
import {
  characterErrorRate,
  compositeText,
  ensureFontConfig,
  FontMetrics,
  gradientBackground,
  layoutText,
  normaliseForComparison,
  type OcrChecker,
  type PixelBox,
  resolveFontFace,
  resolveTextSpec,
  solidBackground,
  type TextLayout,
  TypographyRenderer,
} from '../../workers/typography/index.js';
import type { RawImage } from '../../workers/pipelines/index.js';

ensureFontConfig();
const SIZE = 512;
const face = resolveFontFace('DejaVu Sans', 700);
const box: PixelBox = { left: 51, top: 179, width: 410, height: 154 };
let renderer: TypographyRenderer;
let ocr: OcrChecker;
let metrics: FontMetrics;

// One renderer (and so one OCR model load) for the whole file.
before(async () => {
  renderer = await TypographyRenderer.create();
  ocr = renderer.ocr;
  metrics = await FontMetrics.load(face.file);
});

async function draw(text: string, background: RawImage, color: string): Promise<{ image: RawImage; layout: TextLayout; region: PixelBox }> {
  const layout = layoutText(text, box, metrics, 'center');
  const image = await compositeText(background, layout, { face, color });
  const margin = layout.fontSizePx / 2;
  const region = { left: layout.block.left - margin, top: layout.block.top - margin, width: layout.block.width + 2 * margin, height: layout.block.height + 2 * margin };
  return { image, layout, region };
}

describe('OCR check', () => {
  it('reads back text drawn over a colourful background', async () => {
    const background = await gradientBackground(SIZE, SIZE, 7);
    const expected = 'Grand Opening: May 3, 2025';
    const { image, layout, region } = await draw(expected, background, '#ffffff');
    const check = await ocr.check(image, region, expected, layout.fontSizePx, 0.05);
    assert.ok(check.cer <= 0.05, `read ${JSON.stringify(check.read)}, cer ${check.cer}`);
    assert.equal(check.passed, true);
  });

  it('catches a swapped letter with the exact CER', async () => {
    const background = await solidBackground({ r: 245, g: 240, b: 225 })(SIZE, SIZE, 0);
    const expected = 'Fresh Bread Daily';
    const drawn = 'Fresh Brexd Daily';
    const { image, layout, region } = await draw(drawn, background, '#000000');
    const check = await ocr.check(image, region, expected, layout.fontSizePx, 0.05);
    // It reads what was drawn; against the expected text that is one substitution in 15 compared
    // characters (spaces are not compared by default).
    assert.equal(normaliseForComparison(check.read), normaliseForComparison(drawn));
    assert.equal(normaliseForComparison(expected, { whitespace: 'ignore' }).length, 15);
    assert.equal(check.cer, 1 / 15);
    assert.equal(check.passed, false);
    assert.equal(characterErrorRate(expected, check.read), 1 / 17);
  });

  it('catches text with no contrast (CER 1)', async () => {
    const background = await solidBackground({ r: 0x80, g: 0x80, b: 0x80 })(SIZE, SIZE, 0);
    const { image, layout, region } = await draw('Invisible Ink', background, '#808080');
    const check = await ocr.check(image, region, 'Invisible Ink', layout.fontSizePx, 0.05);
    assert.equal(check.read, '');
    assert.equal(check.cer, 1);
    assert.equal(check.passed, false);
  });
});

describe('TypographyRenderer', () => {
  it('passes on the first attempt when the text reads right', async () => {
    const before = renderer.counters;
    const spec = resolveTextSpec({ prompt: 'a bakery poster saying "Fresh Bread Daily"' })!;
    const result = await renderer.render(await gradientBackground(SIZE, SIZE, 3), spec);
    assert.deepEqual(
      { passed: result.text.passed, attempts: result.text.attempts, expected: result.text.expected },
      { passed: true, attempts: 1, expected: 'Fresh Bread Daily' },
    );
    assert.ok(result.text.cer <= 0.05);
    assert.deepEqual([result.width, result.height], [SIZE, SIZE]);
    assert.equal(result.image.subarray(1, 4).toString(), 'PNG');
    const after = renderer.counters;
    assert.equal(after.checks - before.checks, 1);
    assert.equal(after.firstTryPasses - before.firstTryPasses, 1);
    assert.equal(after.finalPasses - before.finalPasses, 1);
  });

  it('re-renders with a safer layout when the first attempt cannot be read, and reports the attempts', async () => {
    // The requested colour is the background's own: the first render is invisible.
    const background = await solidBackground({ r: 0x33, g: 0x66, b: 0xcc })(SIZE, SIZE, 0);
    const spec = resolveTextSpec({ prompt: 'x', text: { content: 'Summer Sale', color: '#3366cc' } })!;
    const result = await renderer.render(background, spec);
    assert.equal(result.attempts[0]!.passed, false);
    assert.equal(result.attempts[0]!.cer, 1);
    assert.equal(result.text.passed, true);
    assert.ok(result.text.attempts >= 2 && result.text.attempts <= 3);
    assert.equal(result.attempts.length, result.text.attempts);
    assert.notEqual(result.attempts.at(-1)!.safety, 'as-requested');
    assert.equal(normaliseForComparison(result.text.read), 'summer sale');
  });

  it("throws E_TEXT_CHECK after the attempts when onFail is 'fail', and flags otherwise", async () => {
    const single = await TypographyRenderer.create({ maxAttempts: 1 });
    const background = await solidBackground({ r: 200, g: 30, b: 30 })(SIZE, SIZE, 0);
    const failing = resolveTextSpec({ prompt: 'x', text: { content: 'Stop', color: '#c81e1e', onFail: 'fail' } })!;
    await assert.rejects(single.render(background, failing), (error: unknown) => {
      assert.ok(error instanceof FleetError);
      assert.equal(error.code, 'E_TEXT_CHECK');
      assert.equal(error.field, 'text.content');
      return true;
    });
    const flagged = await single.render(background, { ...failing, onFail: 'flag' });
    assert.deepEqual({ passed: flagged.text.passed, attempts: flagged.text.attempts }, { passed: false, attempts: 1 });
    assert.deepEqual(single.counters, { renders: 2, checks: 2, firstTryPasses: 0, finalPasses: 0, finalFailures: 2 });
  });
});
