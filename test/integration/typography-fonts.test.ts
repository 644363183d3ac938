// Fonts per process (issue 17, point 6) and the text stage by capability (issue 22, point 6).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import type { TextCheckReport } from '../../contract/index.js';
import { REDIS_URL, testPrefix } from '../helpers/redis.js';
import { suiteProducer } from '../helpers/suite-producer.js';
import { startTestWorker } from '../helpers/worker.js';
import { spawnWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

const account = { id: 'acct-fonts', tier: 'pro' as const };

describe('typography fonts per process', () => {
  const prefix = testPrefix();
  const renders = mkdtempSync(join(tmpdir(), 'fleet-fonts-'));
  // One temp directory for both, as two checkouts of one user share: each process must still get its own config.
  const sharedTmp = mkdtempSync(join(tmpdir(), 'fleet-shared-tmp-'));
  const producer = suiteProducer(prefix, {}, [renders, sharedTmp]);

  test('two typography workers at once, one TMPDIR, each get a fontconfig folder of their own, probe their fonts at start, draw their text, and OCR reads it back on both', { timeout: 120_000 }, async () => {
    const workers: WorkerProcess[] = [0, 1].map(() => spawnWorkerProcess({ prefix, lanes: 'typography', storeUrl: `file://${renders}`, env: { TMPDIR: sharedTmp } }));
    try {
      await Promise.all(workers.map((w) => w.waitFor('worker running')));
      const configs = workers.map((w) => /"fontConfigFile":"([^"]+)"/.exec(w.output())?.[1]);
      assert.ok(configs.every((c) => c?.startsWith(sharedTmp)), `under TMPDIR: ${configs}`);
      assert.notEqual(configs[0], configs[1], "each worker's fontconfig file is its own");
      const words = ['SUNSET BEATS', 'NIGHT MARKET', 'OPEN STUDIO', 'HARBOR RUN', 'FRESH BREAD', 'CITY LIGHTS', 'SNOW DAY', 'BOOK FAIR'];
      const receipts = await Promise.all(words.map((content, i) => producer().enqueue({ prompt: 'a poster', text: { content }, seed: i, width: 512, height: 512, account })));
      const views = await Promise.all(receipts.map((r) => producer().waitForResult(r.id, { timeoutMs: 180_000 })));
      for (const [i, view] of views.entries()) {
        assert.equal(view.state, 'completed', JSON.stringify(view.error));
        const text = view.result!.text as TextCheckReport;
        assert.equal(text.passed, true, `${words[i]} read back as ${JSON.stringify(text.read)}`);
      }
      const servedBy = workers.map((w) => receipts.filter((r) => w.output().includes(`"jobId":"${r.id}"`) && w.output().includes('job completed')).length);
      console.log(`fonts per process: jobs completed with their text read back, per worker: ${servedBy.join(' and ')}`);
      assert.ok(servedBy.every((n) => n >= 1), `both workers drew text: ${servedBy}`);
    } finally {
      for (const w of workers) w.kill();
    }
  });

  test('fonts that do not resolve: the worker refuses to start with E_FONT, and a text that does not read back is E_FONT, not E_TEXT_CHECK', { timeout: 180_000 }, () => {
    const script = fileURLToPath(new URL('../helpers/broken-fonts-process.ts', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', script, REDIS_URL, testPrefix()], { encoding: 'utf8', timeout: 170_000 });
    assert.equal(child.status, 0, child.stderr);
    const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { start: { code: string; message?: string }; render: { code: string; message?: string } };
    assert.equal(result.start.code, 'E_FONT', JSON.stringify(result.start));
    assert.match(result.start.message!, /DejaVu Sans read back as/);
    assert.equal(result.render.code, 'E_FONT', JSON.stringify(result.render));
  });

  test('a worker serving typography only as an overflow lane draws and checks the text', { timeout: 180_000 }, async () => {
    const fleet = await startTestWorker(prefix, { lanes: ['upscale'], overflowLanes: ['typography'], overflowBacklog: 1, overflowAfterMs: 0, depthPollMs: 50 });
    try {
      const view = await producer().waitForResult((await producer().enqueue({ prompt: 'a poster', text: { content: 'OVERFLOW OK' }, width: 512, height: 512, account })).id, { timeoutMs: 120_000 });
      assert.equal(view.state, 'completed', JSON.stringify(view.error));
      const text = view.result!.text as TextCheckReport;
      assert.equal(text.expected, 'OVERFLOW OK');
      assert.equal(text.passed, true, `read back as ${JSON.stringify(text.read)}`);
    } finally {
      await fleet.stop();
    }
  });
});
