import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FONT_DIRECTORY } from './font-catalogue.js';
import { escapeXml } from './xml-escape.js';

let configured: string | undefined;

/**
 * Points fontconfig (inside sharp's libvips, used by librsvg/Pango to draw SVG text) at the fonts this
 * project installs, by writing a `fonts.conf` under the system temp directory and setting
 * `FONTCONFIG_FILE` for this process. Generic families (`sans-serif`, `serif`, `monospace`) map to DejaVu.
 *
 * Fontconfig reads its configuration once, on the first text it draws in the process, so this must run
 * before anything in the process renders text with sharp; `TypographyRenderer.create` calls it first.
 * The config holds only the project's fonts, so text drawn by this process looks the same on every machine.
 * Idempotent; returns the config path.
 */
export function ensureFontConfig(directory: string = join(tmpdir(), `image-fleet-fontconfig-${process.getuid?.() ?? 'user'}`)): string {
  if (configured !== undefined) return configured;
  mkdirSync(join(directory, 'cache'), { recursive: true });
  const file = join(directory, 'fonts.conf');
  const alias = (generic: string, family: string): string =>
    `  <alias><family>${generic}</family><prefer><family>${family}</family></prefer></alias>`;
  // Written aside and renamed, so a process starting at the same moment never reads half a file.
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(
    partial,
    [
      '<?xml version="1.0"?>',
      '<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">',
      '<fontconfig>',
      `  <dir>${escapeXml(FONT_DIRECTORY)}</dir>`,
      `  <cachedir>${escapeXml(join(directory, 'cache'))}</cachedir>`,
      alias('sans-serif', 'DejaVu Sans'),
      alias('serif', 'DejaVu Serif'),
      alias('monospace', 'DejaVu Sans Mono'),
      '</fontconfig>',
      '',
    ].join('\n'),
  );
  renameSync(partial, file);
  process.env.FONTCONFIG_FILE = file;
  configured = file;
  return file;
}
