import sharp, { type OverlayOptions } from 'sharp';

/** One cell of a contact sheet: an image (absent for a failed job) and its caption. */
export interface ContactSheetCell {
  image?: Buffer;
  caption: string;
  /** Drawn in red (a failed job, a failed OCR check). */
  alarm?: boolean;
}

export interface ContactSheetLayout {
  /** Column headings (the models). */
  columns: string[];
  /** Row headings (a prompt and its seed). */
  rows: string[];
  /** `cells[row][column]`. */
  cells: ContactSheetCell[][];
  /** Side of each image, px. @default 160 */
  cellPx?: number;
}

const LABEL_PX = 220;
const HEADER_PX = 28;
const CAPTION_PX = 22;
const GAP_PX = 8;

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function clip(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

/** A line of text as an SVG sharp renders (librsvg), `width`×`height` px. */
function textImage(text: string, width: number, height: number, options: { bold?: boolean; colour?: string } = {}): Buffer {
  const weight = options.bold ? 'bold' : 'normal';
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><text x="4" y="${Math.round(height * 0.7)}" font-family="DejaVu Sans, sans-serif" font-size="${Math.round(height * 0.55)}" font-weight="${weight}" fill="${options.colour ?? '#222'}">${escapeXml(text)}</text></svg>`,
  );
}

/**
 * The images of an experiment side by side: rows are prompts (× seeds), columns are models, each image captioned
 * (latency, CER, or the failure's code), because people judge images by looking at them. PNG.
 */
export async function renderContactSheet(layout: ContactSheetLayout): Promise<Buffer> {
  const cell = layout.cellPx ?? 160;
  const width = LABEL_PX + layout.columns.length * (cell + GAP_PX) + GAP_PX;
  const rowHeight = cell + CAPTION_PX + GAP_PX;
  const height = HEADER_PX + layout.rows.length * rowHeight + GAP_PX;
  const layers: OverlayOptions[] = [];
  const columnX = (c: number) => LABEL_PX + GAP_PX + c * (cell + GAP_PX);
  layout.columns.forEach((name, c) => layers.push({ input: textImage(clip(name, 22), cell, HEADER_PX, { bold: true }), left: columnX(c), top: 0 }));
  for (const [r, label] of layout.rows.entries()) {
    const top = HEADER_PX + r * rowHeight;
    layers.push({ input: textImage(clip(label, 34), LABEL_PX, CAPTION_PX), left: 0, top: top + Math.round(cell / 2) - CAPTION_PX });
    for (const [c, content] of (layout.cells[r] ?? []).entries()) {
      const left = columnX(c);
      const image = content.image === undefined
        ? await sharp({ create: { width: cell, height: cell, channels: 3, background: '#f3d6d6' } }).png().toBuffer()
        : await sharp(content.image).resize(cell, cell, { fit: 'contain', background: '#ffffff' }).png().toBuffer();
      layers.push({ input: image, left, top });
      layers.push({ input: textImage(clip(content.caption, 26), cell, CAPTION_PX, { colour: content.alarm ? '#b00020' : '#222' }), left, top: top + cell });
    }
  }
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } }).composite(layers).png().toBuffer();
}
