#!/usr/bin/env node
// Runs the suite with node's test runner on the TypeScript sources (through tsx).
// Usage: node scripts/run-tests.js [unit|integration|PATH...]
// Integration tests read REDIS_URL (default redis://127.0.0.1:6379); .ci/run makes sure one answers.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(dir) {
  let out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const groups = args.length === 0 ? ['unit', 'integration'] : args;
const files = groups.flatMap((g) => (g === 'unit' || g === 'integration' ? collect(join('test', g)) : [g]));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const setup = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/test-setup.ts'], { stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit', env: process.env },
);
process.exit(result.status ?? 1);
