import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Producer } from '../../producer/index.js';
import { FLEET_BIN } from '../helpers/fleet-cli.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startTestProducer } from '../helpers/producer.js';

/** Starts `fleet board --port 0` and resolves with its URL, from its `fleet board listening` log line. */
function startBoard(prefix: string, env: NodeJS.ProcessEnv = {}): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FLEET_BIN, 'board', '--prefix', prefix, '--port', '0'], { env: { ...process.env, REDIS_URL, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`fleet board did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.includes('fleet board listening'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve({ url: (JSON.parse(line) as { url: string }).url, child });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk));
    child.on('exit', (code) => reject(new Error(`fleet board exited ${code}: ${out}`)));
  });
}

describe('fleet board: bull-board over the lanes, with their {prefix:lane} queue prefixes', () => {
  const prefix = testPrefix();
  let producer: Producer;
  const children: ChildProcess[] = [];

  before(async () => {
    producer = await startTestProducer(prefix);
    await producer.enqueue({ prompt: 'a board preview', account: { id: 'a1', tier: 'pro' } });
    await producer.enqueue({ prompt: 'an export for the board', intent: 'export', account: { id: 'a1', tier: 'pro' } });
  });
  after(async () => {
    for (const child of children) child.kill('SIGTERM');
    await producer.close();
    await cleanupPrefix(prefix);
  });

  test('lists the four lanes with the jobs waiting in them', async () => {
    const { url, child } = await startBoard(prefix);
    children.push(child);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'loopback by default');
    const response = await fetch(`${url}api/queues`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { queues: Array<{ name: string; counts: Record<string, number> }> };
    const byName = new Map(body.queues.map((q) => [q.name, q]));
    assert.deepEqual([...byName.keys()].sort(), ['flash', 'large', 'typography', 'upscale']);
    const waiting = (name: string) => (byName.get(name)!.counts.waiting ?? 0) + (byName.get(name)!.counts.prioritized ?? 0);
    assert.equal(waiting('flash'), 1);
    assert.equal(waiting('large'), 1);
    assert.equal(waiting('upscale'), 0);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
  });

  test('behind FLEET_TOKEN: 401 without it, 200 with it as a Bearer token or a Basic password', async () => {
    const { url, child } = await startBoard(prefix, { FLEET_TOKEN: 'board-secret' });
    children.push(child);
    const without = await fetch(`${url}api/queues`);
    assert.equal(without.status, 401);
    assert.match(without.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.equal((await fetch(`${url}api/queues`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await fetch(`${url}api/queues`, { headers: { authorization: 'Bearer board-secret' } })).status, 200);
    const basic = `Basic ${Buffer.from('ops:board-secret').toString('base64')}`;
    assert.equal((await fetch(`${url}api/queues`, { headers: { authorization: basic } })).status, 200);
  });
});
