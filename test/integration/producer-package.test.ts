import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { laneQueuePrefix } from '../../contract/index.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const work = mkdtempSync(join(tmpdir(), 'fleet-package-'));
const prefix = testPrefix();
after(async () => {
  rmSync(work, { recursive: true, force: true });
  await cleanupPrefix(prefix);
});

// A fresh clone of this repository (what is committed), whose dependencies are installed as `npm ci` would; they
// are linked from this checkout instead of downloaded again. Then a fresh project installs it by path, which runs
// its `prepare` build, and plain Node (no tsx) imports image-fleet/producer and enqueues.
test('a fresh project runs npm install <path to a clone>, imports image-fleet/producer from plain Node and enqueues', { timeout: 240_000 }, async () => {
  const clone = join(work, 'image-fleet');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, clone], { stdio: 'pipe' });
  execFileSync('git', ['-C', clone, 'checkout', '--quiet', execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD']).toString().trim()], { stdio: 'pipe' });
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
  assert.equal(existsSync(join(clone, 'dist')), false, 'the clone already has a build');

  const project = join(work, 'editor-service');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'editor-service', version: '1.0.0', private: true, type: 'module' }));
  const install = spawnSync(NPM, ['install', clone, '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: project, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  assert.equal(install.status, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`);
  assert.ok(existsSync(join(clone, 'dist', 'producer', 'index.js')), 'prepare did not build dist/');
  assert.ok(existsSync(join(clone, 'dist', 'producer', 'index.d.ts')), 'no type declarations');

  writeFileSync(
    join(project, 'enqueue.mjs'),
    `import { createProducer } from 'image-fleet/producer';
import { LANES, ERROR_CODES } from 'image-fleet/contract';
const producer = createProducer({ redis: process.env.REDIS_URL, prefix: process.env.PREFIX });
// No ready(): enqueue waits for the connection itself.
const receipt = await producer.enqueue({ prompt: 'a red bicycle', account: { id: 'a1', tier: 'pro' } });
await producer.close();
console.log(JSON.stringify({ receipt, lanes: LANES, codes: Object.keys(ERROR_CODES).length }));
`,
  );
  const run = spawnSync(process.execPath, ['enqueue.mjs'], { cwd: project, encoding: 'utf8', env: { ...process.env, REDIS_URL, PREFIX: prefix, NODE_OPTIONS: '' }, timeout: 30_000 });
  assert.equal(run.status, 0, `plain node failed:\n${run.stdout}\n${run.stderr}`);
  const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { receipt: { id: string; lane: string; duplicate: boolean }; lanes: string[]; codes: number };
  assert.equal(out.receipt.lane, 'flash');
  assert.deepEqual(out.lanes, ['flash', 'large', 'typography', 'upscale']);
  assert.ok(out.codes > 20);
  const deep = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('image-fleet/producer/producer.js')"], { cwd: project, encoding: 'utf8' });
  assert.notEqual(deep.status, 0, 'a path outside the exports map resolved');

  const redis = new Redis(REDIS_URL);
  const queue = new Queue('flash', { connection: redis, prefix: laneQueuePrefix(prefix, 'flash') });
  try {
    assert.equal((await queue.getJob(out.receipt.id))?.data.request.prompt, 'a red bicycle');
  } finally {
    await queue.close();
    redis.disconnect();
  }
});
