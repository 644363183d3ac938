import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FONT_DIRECTORY } from './font-catalogue.js';
import { escapeXml } from './xml-escape.js';

let configured: string | undefined;

/**
 * Points fontconfig (inside sharp's libvips, used by librsvg/Pango to draw SVG text) at the fonts this
 * project installs, by writing a `fonts.conf` in a folder private to this process (`mkdtemp` under the system
 * temp directory, removed at exit) and setting `FONTCONFIG_FILE` for this process. Generic families
 * (`sans-serif`, `serif`, `monospace`) map to DejaVu. A folder per process, not per user: fontconfig re-reads
 * its file while a process runs, so a shared path let another checkout's worker rewrite it under a running one.
 *
 * Fontconfig reads its configuration once, on the first text it draws in the process, so this must run
 * before anything in the process renders text with sharp; `TypographyRenderer.create` calls it first.
 * The config holds only the project's fonts, so text drawn by this process looks the same on every machine.
 * Idempotent (the first call's folders win); returns the config path.
 * @param fontDirectory where the fonts are. @default FONT_DIRECTORY (the `dejavu-fonts-ttf` package)
 */
export function ensureFontConfig(directory?: string, fontDirectory: string = FONT_DIRECTORY): string {
  if (configured !== undefined) return configured;
  const folder = directory ?? mkdtempSync(join(tmpdir(), 'image-fleet-fontconfig-'));
  if (directory === undefined) process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  mkdirSync(join(folder, 'cache'), { recursive: true });
  const file = join(folder, 'fonts.conf');
  const alias = (generic: string, family: string): string =>
    `  <alias><family>${generic}</family><prefer><family>${family}</family></prefer></alias>`;
  writeFileSync(
    file,
    [
      '<?xml version="1.0"?>',
      '<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">',
      '<fontconfig>',
      `  <dir>${escapeXml(fontDirectory)}</dir>`,
      `  <cachedir>${escapeXml(join(folder, 'cache'))}</cachedir>`,
      alias('sans-serif', 'DejaVu Sans'),
      alias('serif', 'DejaVu Serif'),
      alias('monospace', 'DejaVu Sans Mono'),
      '</fontconfig>',
      '',
    ].join('\n'),
  );
  process.env.FONTCONFIG_FILE = file;
  configured = file;
  return file;
}
