import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import sharp from 'sharp';
import {
  buildTextSvg,
  chooseTextColour,
  contrastRatio,
  ensureFontConfig,
  escapeXml,
  FontMetrics,
  layoutText,
  luminancesUnder,
  parseHexColour,
  relativeLuminance,
  resolveFontFace,
  solidBackground,
  WCAG_AA_CONTRAST,
} from '../../workers/typography/index.js';

ensureFontConfig();

describe('escapeXml', () => {
  it('escapes the five XML special characters', () => {
    assert.equal(escapeXml(`<a href="x">Tom & Jerry's</a>`), '&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;');
  });
});

describe('buildTextSvg', () => {
  it('escapes text so markup in it is drawn, not parsed', async () => {
    const face = resolveFontFace('DejaVu Sans', 700);
    const metrics = await FontMetrics.load(face.file);
    const hostile = `</text><script>alert("x")</script> & <b>'bold'</b>`;
    const layout = layoutText(hostile, { left: 0, top: 0, width: 800, height: 200 }, metrics, 'left');
    const svg = buildTextSvg(layout, { face, color: '#000000', plate: { color: '#ffffff', opacity: 1, paddingEm: 0.3 } }, layout.box);
    assert.ok(!svg.includes('<script>') && !svg.includes('<b>'));
    assert.equal(svg.match(/<text /g)?.length, layout.lines.length);
    // librsvg parses it and draws something.
    const { info } = await sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).trim({ threshold: 10 }).toBuffer({ resolveWithObject: true });
    assert.ok(info.width > 100);
  });
});

describe('contrast', () => {
  it('computes WCAG luminance and contrast', () => {
    assert.equal(relativeLuminance(parseHexColour('#000')), 0);
    assert.equal(relativeLuminance(parseHexColour('#ffffff')), 1);
    assert.equal(contrastRatio(1, 0), 21);
    assert.ok(Math.abs(contrastRatio(relativeLuminance(parseHexColour('#777777')), 1) - 4.48) < 0.01);
  });

  it('chooses a colour with contrast >= 4.5 on any uniform background', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), async (r, g, b) => {
        const background = await solidBackground({ r, g, b })(16, 16, 0);
        const chosen = chooseTextColour(luminancesUnder(background, { left: 0, top: 0, width: 16, height: 16 }));
        const actual = contrastRatio(relativeLuminance(parseHexColour(chosen.color)), relativeLuminance({ r, g, b }));
        assert.ok(actual >= WCAG_AA_CONTRAST, `${chosen.color} on rgb(${r},${g},${b}) has contrast ${actual}`);
        assert.ok(Math.abs(actual - chosen.contrast) < 1e-4); // luminances are kept as float32
      }),
      { numRuns: 200 },
    );
  });

  it('picks dark text on light backgrounds and light text on dark ones', async () => {
    const box = { left: 0, top: 0, width: 8, height: 8 };
    const light = await solidBackground({ r: 250, g: 240, b: 200 })(8, 8, 0);
    const dark = await solidBackground({ r: 20, g: 30, b: 60 })(8, 8, 0);
    assert.equal(chooseTextColour(luminancesUnder(light, box)).color, '#000000');
    assert.equal(chooseTextColour(luminancesUnder(dark, box)).color, '#ffffff');
  });
});
