import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Producer } from '../../producer/index.js';
import { FLEET_BIN, waitUntil } from '../helpers/fleet-cli.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const account = { id: 'acct-watch', tier: 'pro' as const };

describe('fleet watch in a detached 80×24 tmux session', { skip: hasTmux ? false : 'tmux is not installed (apt-get install -y tmux): fleet watch was not exercised on a terminal' }, () => {
  const prefix = testPrefix();
  const socket = `fleet-test-${prefix}`;
  const dir = mkdtempSync(join(tmpdir(), 'fleet-watch-'));
  let producer: Producer;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  let loading = true;
  let load: Promise<void>;
  const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });

  before(async () => {
    fleet = await startTestWorker(prefix, { lanes: ['flash'] });
    producer = await startTestProducer(prefix);
    load = (async () => {
      for (let i = 0; loading; i++) {
        await Promise.all([0, 1, 2].map((j) => producer.enqueue({ prompt: `watch ${i}-${j}`, width: 256, height: 256, account })));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
  });
  after(async () => {
    loading = false;
    await load;
    tmux('kill-server');
    await producer.close();
    await fleet.stop();
    await cleanupPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  test('draws the lanes, charts and workers within 80 columns, and q quits with exit 0', async (t) => {
    const rcFile = join(dir, 'rc');
    const command = `env LANG=C.UTF-8 REDIS_URL='${REDIS_URL}' '${process.execPath}' '${FLEET_BIN}' watch --prefix '${prefix}'; echo $? > '${rcFile}'`;
    const started = tmux('new-session', '-d', '-s', 'watch', '-x', '80', '-y', '24', command);
    assert.equal(started.status, 0, started.stderr);

    let pane = '';
    await waitUntil('watch to draw a frame with a completed job', () => {
      pane = tmux('capture-pane', '-p', '-t', 'watch').stdout;
      return /^flash\s+ok\s+\d+\s+\d+\s+\d+\s+\d+\s+[1-9]/m.test(pane);
      // The worker loads its models before the first job completes: on a loaded 2-core machine, tens of seconds.
    }, 60_000, 250);
    await new Promise((r) => setTimeout(r, 1500));
    pane = tmux('capture-pane', '-p', '-t', 'watch').stdout;
    t.diagnostic(`captured pane:\n${pane}`);

    const lines = pane.replace(/\n+$/, '').split('\n');
    assert.ok(lines.length <= 24);
    for (const line of lines) assert.ok([...line].length <= 80, `wider than 80 columns: ${JSON.stringify(line)}`);
    assert.match(lines[0]!, new RegExp(`^fleet watch · ${prefix} · policy v1 · .*q: quit$`));
    assert.match(pane, /^depth \(wait\+active\+delayed\)/m);
    assert.match(pane, /^p95 end-to-end per minute/m);
    assert.match(pane, /^flash\s+[·▁▂▃▄▅▆▇█]+\s+\d+ max \d+$/m, 'a depth sparkline for flash');
    assert.match(pane, /^typography no worker/m);
    assert.match(pane, /^workers: 1 online$/m);

    tmux('send-keys', '-t', 'watch', 'q');
    await waitUntil('watch to exit after q', () => existsSync(rcFile), 10_000, 100);
    assert.equal(readFileSync(rcFile, 'utf8').trim(), '0');
    await waitUntil('the tmux session to end', () => tmux('has-session', '-t', 'watch').status !== 0, 5_000, 100);
  });
});
