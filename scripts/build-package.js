#!/usr/bin/env node
// `npm run build` and `prepare`: compiles the library part of the package — producer/, router/, contract/ — to
// dist/ as JavaScript with type declarations, so another project imports `image-fleet/producer` from plain Node.
// Incremental: an unchanged tree rebuilds in about a second. The CLI and the workers run from the TypeScript
// sources through tsx and need no build.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  // Installed without dev dependencies: a shipped dist/ is used as it is.
  if (existsSync(join(root, 'dist', 'producer', 'index.js'))) process.exit(0);
  console.error('build-package: typescript is not installed and dist/ is missing; run npm install (with dev dependencies)');
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
// The shipped default policy is read next to the compiled router, as next to its source.
cpSync(join(root, 'router', 'policies'), join(root, 'dist', 'router', 'policies'), { recursive: true });
