// Runs once before the test suite: builds what the tests need and is missing.
// The model builder is idempotent: models already built by this builder version are skipped (a few ms).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledFleetBin, removeStaleCompiledFleets } from '../test/helpers/compiled-fleet.js';
import { buildModels } from './build-models.js';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const report = await buildModels({ outDir: join(repositoryRoot, 'models') });
if (report.built.length > 0) console.log(`test-setup: built models ${report.built.join(', ')} into ./models`);
// The CLI the tests run as processes, compiled for the sources as they are (see test/helpers/compiled-fleet.ts).
compiledFleetBin();
removeStaleCompiledFleets();
