import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactStore } from '../workers/index.js';
import { renderContactSheet, type ContactSheetCell } from './contact-sheet.js';
import type { ExperimentCell, ExperimentRecord } from './experiment-record.js';

const ms = (x: number | null) => (x === null ? '—' : `${Math.round(x)} ms`);
const pct = (x: number | null) => (x === null ? '—' : `${Math.round(x * 1000) / 10} %`);
const num = (x: number | null, digits = 3) => (x === null ? '—' : String(Math.round(x * 10 ** digits) / 10 ** digits));

function promptOf(record: ExperimentRecord, input: number): string {
  return String(record.inputs[input]?.prompt ?? `prompt ${input + 1}`);
}

/** The report for people: what ran, then one row per model. */
export function experimentMarkdown(record: ExperimentRecord): string {
  const lines = [
    `# Experiment ${record.name}`,
    '',
    `- id: \`${record.id}\`${record.rerunOf === undefined ? '' : ` (rerun of \`${record.rerunOf}\`)`}`,
    `- lane: ${record.lane}; models: ${record.models.join(', ')}`,
    `- ${record.inputs.length} prompts × ${record.seeds.length} seeds (${record.seeds.join(', ')}) × ${record.models.length} models = ${record.cells.length} jobs, at background priority`,
    `- ran ${new Date(record.createdAt).toISOString()} → ${new Date(record.finishedAt).toISOString()} by ${record.createdBy}`,
  ];
  if (record.reproduced !== undefined) {
    const r = record.reproduced;
    lines.push(`- reproduction: ${r.identical} images identical byte for byte, ${r.differing} differing, ${r.missing} missing`);
  }
  lines.push('', '| model | jobs | failed | failures by code | e2e p50 | e2e p95 | inference p50 | inference p95 | cost units (per image) | text checked | mean CER | OCR pass |', '|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const model of record.models) {
    const s = record.summary[model]!;
    const codes = Object.entries(s.failuresByCode).map(([code, n]) => `${code} ${n}`).join(', ') || '—';
    lines.push(`| ${model} | ${s.jobs} | ${s.failed} | ${codes} | ${ms(s.endToEndMs.p50)} | ${ms(s.endToEndMs.p95)} | ${ms(s.inferenceMs.p50)} | ${ms(s.inferenceMs.p95)} | ${num(s.costUnits.total, 2)} (${num(s.costUnits.perImage, 2)}) | ${s.text.checked} | ${num(s.text.meanCer)} | ${pct(s.text.passRate)} |`);
  }
  lines.push('', '## Models as the workers described them', '');
  for (const model of record.models) lines.push(`- ${model}: ${JSON.stringify(record.modelVersions[model])}`);
  lines.push('', '![contact sheet](contact-sheet.png)', '');
  return lines.join('\n');
}

function caption(cell: ExperimentCell): ContactSheetCell['caption'] {
  if (cell.state === 'failed') return cell.error?.code ?? 'failed';
  const latency = ms(cell.timings?.endToEndMs ?? null);
  return cell.text === undefined ? latency : `${latency} · CER ${cell.text.cer.toFixed(2)}`;
}

/** Writes `report.md`, `report.json` and `contact-sheet.png` into `dir`; the images are read from the store. */
export async function writeExperimentReport(record: ExperimentRecord, store: ArtifactStore, dir: string): Promise<{ markdown: string; json: string; contactSheet: string }> {
  await mkdir(dir, { recursive: true });
  const rows = record.inputs.flatMap((_, input) => record.seeds.map((seed) => ({ input, seed })));
  const cells = await Promise.all(
    rows.map(({ input, seed }) =>
      Promise.all(
        record.models.map(async (model): Promise<ContactSheetCell> => {
          const cell = record.cells.find((c) => c.input === input && c.seed === seed && c.model === model);
          if (cell === undefined) return { caption: 'not run', alarm: true };
          const image = cell.image === undefined ? undefined : await store.get(cell.image.key);
          return { ...(image === undefined ? {} : { image }), caption: caption(cell), alarm: cell.state === 'failed' || cell.text?.passed === false };
        }),
      ),
    ),
  );
  const sheet = await renderContactSheet({ columns: record.models, rows: rows.map(({ input, seed }) => `${promptOf(record, input)} · seed ${seed}`), cells });
  const paths = { markdown: join(dir, 'report.md'), json: join(dir, 'report.json'), contactSheet: join(dir, 'contact-sheet.png') };
  await Promise.all([writeFile(paths.markdown, experimentMarkdown(record)), writeFile(paths.json, `${JSON.stringify(record, null, 2)}\n`), writeFile(paths.contactSheet, sheet)]);
  return paths;
}
