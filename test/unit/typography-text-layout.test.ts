import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import {
  compositeText,
  ensureFontConfig,
  FontMetrics,
  layoutText,
  type PixelBox,
  resolveFontFace,
  solidBackground,
  TEXT_LAYOUT_DEFAULTS,
  type TextAlign,
  type TextLayout,
} from '../../workers/typography/index.js';

ensureFontConfig();
const face = resolveFontFace('DejaVu Sans', 700);
let metrics: FontMetrics;
before(async () => {
  metrics = await FontMetrics.load(face.file);
});

const CASES: { text: string; box: PixelBox }[] = [
  { text: 'Grand Opening', box: { left: 50, top: 100, width: 400, height: 120 } },
  { text: 'Annual Charity Gala Dinner and Silent Auction Benefiting the Children’s Hospital', box: { left: 20, top: 20, width: 460, height: 200 } },
  { text: 'Keep Calm\nand Carry On', box: { left: 100, top: 300, width: 300, height: 150 } },
  { text: '$19.99', box: { left: 10, top: 10, width: 480, height: 60 } },
  { text: 'Pneumonoultramicroscopic', box: { left: 200, top: 200, width: 200, height: 200 } },
];

function assertInside(layout: TextLayout, box: PixelBox): void {
  const pad = TEXT_LAYOUT_DEFAULTS.paddingEm * layout.fontSizePx;
  const epsilon = 1e-6;
  for (const line of layout.lines) {
    assert.ok(line.x >= box.left + pad - epsilon, `line ${JSON.stringify(line.text)} starts left of the box`);
    assert.ok(line.x + line.widthPx <= box.left + box.width - pad + epsilon, `line ${JSON.stringify(line.text)} ends right of the box`);
  }
  assert.ok(layout.block.top >= box.top + pad - epsilon && layout.block.top + layout.block.height <= box.top + box.height - pad + epsilon);
}

describe('resolveFontFace', () => {
  it('maps aliases and unknown families, and picks the nearest weight', () => {
    assert.deepEqual(pick(resolveFontFace('serif', 700)), ['DejaVu Serif', 700, false]);
    assert.deepEqual(pick(resolveFontFace('dejavu-sans-mono', 400)), ['DejaVu Sans Mono', 400, false]);
    assert.deepEqual(pick(resolveFontFace('Comic Sans', 700)), ['DejaVu Sans', 700, true]);
    assert.deepEqual(pick(resolveFontFace('DejaVu Sans', 100)), ['DejaVu Sans', 200, false]);
    assert.deepEqual(pick(resolveFontFace('DejaVu Sans', 300)), ['DejaVu Sans', 400, false]);
    assert.deepEqual(pick(resolveFontFace('DejaVu Serif', 900)), ['DejaVu Serif', 700, false]);
  });
  const pick = (face: ReturnType<typeof resolveFontFace>): [string, number, boolean] => [face.family, face.weight, face.fallback];
});

describe('layoutText', () => {
  it('fits every line inside the box, at the largest size that fits', () => {
    for (const { text, box } of CASES) {
      const layout = layoutText(text, box, metrics, 'center');
      assert.equal(layout.overflow, false, text);
      assertInside(layout, box);
      assert.equal(layout.brokenWords, false, text);
      // One step larger does not fit (without breaking words): the search found the largest size.
      const larger = layoutText(text, box, metrics, 'center', { minFontSizePx: layout.fontSizePx + TEXT_LAYOUT_DEFAULTS.fontSizeStepPx });
      assert.ok(larger.overflow || larger.brokenWords, `${text} would also fit at ${larger.fontSizePx}px`);
    }
  });

  it('wraps long text and keeps explicit line breaks', () => {
    const long = layoutText(CASES[1]!.text, CASES[1]!.box, metrics, 'center');
    assert.ok(long.lines.length >= 2);
    assert.equal(long.lines.map((l) => l.text).join(' '), CASES[1]!.text);
    const twoLines = layoutText('Keep Calm\nand Carry On', { left: 0, top: 0, width: 2000, height: 400 }, metrics, 'left');
    assert.deepEqual(twoLines.lines.map((l) => l.text), ['Keep Calm', 'and Carry On']);
  });

  it('aligns lines left, centre or right', () => {
    const box = { left: 40, top: 40, width: 600, height: 300 };
    const text = 'Live Music\nEvery Friday Night';
    const byAlign = (align: TextAlign): TextLayout => layoutText(text, box, metrics, align);
    const pad = (layout: TextLayout): number => TEXT_LAYOUT_DEFAULTS.paddingEm * layout.fontSizePx;
    const left = byAlign('left');
    for (const line of left.lines) assert.ok(Math.abs(line.x - (box.left + pad(left))) < 1e-9);
    const right = byAlign('right');
    for (const line of right.lines) assert.ok(Math.abs(line.x + line.widthPx - (box.left + box.width - pad(right))) < 1e-9);
    const centre = byAlign('center');
    for (const line of centre.lines) assert.ok(Math.abs(line.x + line.widthPx / 2 - (box.left + box.width / 2)) < 1e-9);
    assert.notEqual(left.lines[0]!.x, right.lines[0]!.x);
  });

  it('is deterministic', () => {
    const { text, box } = CASES[1]!;
    assert.deepEqual(layoutText(text, box, metrics, 'right'), layoutText(text, box, metrics, 'right'));
  });

  it('breaks a word only when it is wider than the box at every size', () => {
    const box = { left: 0, top: 0, width: 120, height: 200 };
    const layout = layoutText('Pneumonoultramicroscopic', box, metrics, 'center');
    assert.equal(layout.brokenWords, true);
    assert.equal(layout.overflow, false);
    assert.ok(layout.lines.length >= 2);
    assert.equal(layout.lines.map((l) => l.text).join(''), 'Pneumonoultramicroscopic');
    assertInside(layout, box);
    assert.equal(layoutText('Pneumonoultramicroscopic', { ...box, width: 400 }, metrics, 'center').brokenWords, false);
  });

  it('reports overflow when even the smallest size does not fit', () => {
    const layout = layoutText('Far too much text for a tiny box', { left: 0, top: 0, width: 30, height: 12 }, metrics, 'center');
    assert.equal(layout.overflow, true);
    assert.equal(layout.fontSizePx, TEXT_LAYOUT_DEFAULTS.minFontSizePx);
  });

  it('measures every shipped face as the renderer draws it', async () => {
    const background = await solidBackground({ r: 255, g: 255, b: 255 })(512, 512, 0);
    const box = { left: 30, top: 30, width: 450, height: 150 };
    for (const [family, weight] of [['DejaVu Sans', 200], ['DejaVu Sans', 400], ['DejaVu Serif', 400], ['DejaVu Serif', 700], ['DejaVu Sans Mono', 400], ['DejaVu Sans Mono', 700]] as const) {
      const shipped = resolveFontFace(family, weight);
      assert.deepEqual([shipped.family, shipped.weight, shipped.fallback], [family, weight, false]);
      const layout = layoutText('Quiz: 7 Wavy Jackdaws', box, await FontMetrics.load(shipped.file), 'left');
      const drawn = await compositeText(background, layout, { face: shipped, color: '#000000' });
      const { info } = await sharp(drawn.pixels, { raw: { width: 512, height: 512, channels: 3 } })
        .trim({ background: '#ffffff', threshold: 10 })
        .toBuffer({ resolveWithObject: true });
      const inkRight = -(info.trimOffsetLeft ?? 0) + info.width;
      const measuredRight = layout.lines[0]!.x + layout.lines[0]!.widthPx;
      // Ink ends within a tenth of an em of the measured advance (the last glyph's side bearing).
      assert.ok(Math.abs(inkRight - measuredRight) < 0.1 * layout.fontSizePx, `${family} ${weight}: ink ends at ${inkRight}, measured ${measuredRight}`);
      assert.ok(inkRight <= box.left + box.width, `${family} ${weight} overflows`);
    }
  });

  it('draws ink only inside the box (measured widths match the renderer)', async () => {
    const background = await solidBackground({ r: 255, g: 255, b: 255 })(512, 512, 0);
    for (const { text, box } of CASES) {
      for (const align of ['left', 'right'] as const) {
        const layout = layoutText(text, box, metrics, align);
        const drawn = await compositeText(background, layout, { face, color: '#000000' });
        const { info } = await sharp(drawn.pixels, { raw: { width: 512, height: 512, channels: 3 } })
          .trim({ background: '#ffffff', threshold: 10 })
          .toBuffer({ resolveWithObject: true });
        const inkLeft = -(info.trimOffsetLeft ?? 0);
        const inkTop = -(info.trimOffsetTop ?? 0);
        const message = `${text} (${align}): ink ${inkLeft},${inkTop} ${info.width}×${info.height} outside box ${JSON.stringify(box)}`;
        assert.ok(inkLeft >= box.left && inkTop >= box.top, message);
        assert.ok(inkLeft + info.width <= box.left + box.width && inkTop + info.height <= box.top + box.height, message);
        // The ink fills the padded box's width to within a few pixels on the aligned side.
        const pad = TEXT_LAYOUT_DEFAULTS.paddingEm * layout.fontSizePx;
        const widest = Math.max(...layout.lines.map((l) => l.widthPx));
        assert.ok(info.width > widest - 0.2 * layout.fontSizePx, `${message}: narrower than measured ${widest}`);
        if (align === 'left') assert.ok(inkLeft - (box.left + pad) < 0.15 * layout.fontSizePx, message);
      }
    }
  });
});
