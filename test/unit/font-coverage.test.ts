import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { charactersOutsideTypographyFonts, typographyFontsCover } from '../../contract/index.js';
import { COVERAGE_MODULE_PATH, renderFontCoverageModule, typographyFontFiles } from '../../scripts/generate-font-coverage.js';

test('the committed coverage table is what the typography fonts hold (run scripts/generate-font-coverage.ts when they change)', async () => {
  assert.equal(readFileSync(COVERAGE_MODULE_PATH, 'utf8'), await renderFontCoverageModule());
});

const fcQuery = spawnSync('fc-query', ['--version'], { encoding: 'utf8' });

test('the table agrees with fontconfig, which draws the text, on every code point', { skip: fcQuery.error ? 'fc-query is not installed (Debian: fontconfig)' : false }, () => {
  const fromFontconfig = new Set<number>();
  for (const file of typographyFontFiles()) {
    const charset = spawnSync('fc-query', ['--format=%{charset}', file], { encoding: 'utf8' }).stdout;
    for (const range of charset.trim().split(/\s+/)) {
      const [first, last] = range.split('-').map((h) => parseInt(h, 16));
      for (let c = first!; c <= (last ?? first!); c++) fromFontconfig.add(c);
    }
  }
  assert.ok(fromFontconfig.size > 5000, `fontconfig lists ${fromFontconfig.size} code points`);
  const disagree: number[] = [];
  for (let c = 0; c <= 0x1ffff; c++) if (typographyFontsCover(c) !== fromFontconfig.has(c)) disagree.push(c);
  assert.deepEqual(disagree.slice(0, 10).map((c) => c.toString(16)), []);
});

test('DejaVu draws Latin, Greek, Cyrillic, Arabic and Hebrew, not CJK or Thai; line breaks and joiners are not drawn', () => {
  assert.deepEqual(charactersOutsideTypographyFonts('Grandma’s Café — ΑΒΓ Привет שלום مرحبا\n€ 4.50'), []);
  assert.deepEqual(charactersOutsideTypographyFonts('夏日 夏 サ 한 ไทย'), ['夏', '日', 'サ', '한', 'ไ', 'ท', 'ย']);
  assert.deepEqual(charactersOutsideTypographyFonts('a\u200db\ufe0f'), []);
});
