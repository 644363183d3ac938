// Run as a child process (fontconfig reads its configuration once per process): fontconfig is pointed at a folder
// with no fonts before anything draws text, then a typography worker is started, and a text is rendered. Prints
// one JSON line: the codes each step failed with.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createMetricsRegistry } from '../../contract/index.js';
import { FileStore, FleetWorker } from '../../workers/index.js';
import { ensureFontConfig, resolveTextSpec, solidBackground, TypographyRenderer } from '../../workers/typography/index.js';
import { MODELS_DIR } from './worker.js';

const [redisUrl, prefix] = process.argv.slice(2) as [string, string];
ensureFontConfig(undefined, mkdtempSync(join(tmpdir(), 'fleet-no-fonts-')));
const codeOf = (error: unknown) => ({ code: (error as { code?: string }).code, message: (error as Error).message });

const worker = new FleetWorker({
  redisUrl,
  prefix,
  lanes: ['typography'],
  modelsDir: MODELS_DIR,
  store: new FileStore(mkdtempSync(join(tmpdir(), 'fleet-no-fonts-store-'))),
  logger: createLogger({ level: 'silent' }),
  registry: createMetricsRegistry({ role: 'worker' }),
});
const start = await worker.start().then(() => ({ code: 'started' }), codeOf);
await worker.stop();

const renderer = await TypographyRenderer.create();
const spec = resolveTextSpec({ prompt: 'a poster', text: { content: 'SUNSET BEATS', onFail: 'fail' } })!;
const render = await renderer.renderRaw(await solidBackground({ r: 40, g: 90, b: 160 })(512, 256), spec).then(() => ({ code: 'rendered' }), codeOf);
console.log(JSON.stringify({ start, render }));
process.exit(0);
