#!/usr/bin/env node
// Runs the suite with node's test runner on the TypeScript sources (through tsx).
// Usage: node scripts/run-tests.js [--typecheck] [unit|integration|PATH...]
//   --typecheck   also type-checks (tsc --noEmit) while the tests run; the run fails if either fails.
// Integration tests read REDIS_URL (default redis://127.0.0.1:6379); .ci/run makes sure one answers.
//
// Files start longest first, by their test time in the last run (kept in node_modules/.cache; integration files
// before unit files where there is none), so that the short files fill the end instead of one long file
// running alone there.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * Files run at once, each in its own process. Many files spend much of their time waiting (for a batch's
 * latency, a worker's start, a child command), so on a 2-core machine a third file keeps both cores busy; the
 * timing-sensitive checks compare with an idle control process or with bounds far above their work.
 */
const CONCURRENCY = 3;
const DURATIONS = join(ROOT, 'node_modules', '.cache', 'image-fleet-tests', 'durations.json');

// node:test starts each file with this process's flags: the runner itself runs under tsx.
if (!process.execArgv.some((flag, i, all) => /(^|=|[/\\])tsx([/\\]|$)/.test(flag) || (flag === '--import' && all[i + 1] === 'tsx'))) {
  const self = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(self.status ?? 1);
}

function collect(dir) {
  let out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

function readDurations() {
  try {
    return JSON.parse(readFileSync(DURATIONS, 'utf8'));
  } catch {
    return {};
  }
}

const args = process.argv.slice(2);
const typecheck = args.includes('--typecheck');
const groups = args.filter((a) => a !== '--typecheck');
const files = (groups.length === 0 ? ['integration', 'unit'] : groups).flatMap((g) =>
  g === 'unit' || g === 'integration' ? collect(join(ROOT, 'test', g)) : [resolve(g)],
);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const durations = readDurations();
const known = (file) => durations[relative(ROOT, file)];
// A stable sort: files without a figure keep their place behind those with one, integration before unit.
const ordered = [...files].sort((a, b) => (known(b) ?? -1) - (known(a) ?? -1));

const tsc = typecheck
  ? spawn(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json'), '--noEmit'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  : undefined;
const tscOutput = [];
tsc?.stdout.on('data', (d) => tscOutput.push(d));
tsc?.stderr.on('data', (d) => tscOutput.push(d));
const tscExit = tsc === undefined ? Promise.resolve(0) : new Promise((resolve) => tsc.on('close', (code) => resolve(code ?? 1)));

const setup = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'test-setup.ts')], { stdio: 'inherit' });
if (setup.status !== 0) {
  tsc?.kill();
  process.exit(setup.status ?? 1);
}

let failed = false;
const testTime = new Map();
const stream = run({ files: ordered, concurrency: CONCURRENCY });
stream.on('test:fail', () => (failed = true));
stream.on('test:pass', (event) => {
  if (event.nesting === 0 && event.file) testTime.set(event.file, (testTime.get(event.file) ?? 0) + event.details.duration_ms / 1000);
});
const report = stream.compose(new spec());
report.pipe(process.stdout);
await finished(report);

if (!failed) {
  for (const [file, seconds] of testTime) durations[relative(ROOT, file)] = Math.round(seconds * 10) / 10;
  mkdirSync(join(DURATIONS, '..'), { recursive: true });
  writeFileSync(DURATIONS, `${JSON.stringify(durations, null, 1)}\n`);
}
const tscCode = await tscExit;
if (tsc !== undefined) {
  process.stdout.write(Buffer.concat(tscOutput));
  console.log(tscCode === 0 ? 'typecheck: no errors' : `typecheck: tsc exited ${tscCode}`);
}
process.exitCode = failed || tscCode !== 0 ? 1 : 0;
