// A decompression bomb as an upscale source: a PNG of 12,000² in one colour is a few hundred KB on disk and
// 432 MB of RGB once decoded. The worker (a real `fleet worker` process) must refuse it from its header, so its
// peak RSS (VmHWM) stays near where it was.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { FileStore } from '../../workers/index.js';
import { testPrefix } from '../helpers/redis.js';
import { suiteProducer } from '../helpers/suite-producer.js';
import { spawnWorkerProcess } from '../helpers/worker-process.js';

const account = { id: 'acct-bomb', tier: 'pro' as const };
const MiB = 1024 * 1024;

describe('a decompression bomb as an upscale source', { skip: process.platform === 'linux' ? false : 'reads /proc' }, () => {
  const prefix = testPrefix();
  const renders = mkdtempSync(join(tmpdir(), 'fleet-bomb-'));
  const store = new FileStore(renders);
  const producer = suiteProducer(prefix, {}, [renders]);

  test('fails E_VALIDATION from its header; the worker does not decode it, and serves the next source', async () => {
    const bomb = await sharp({ create: { width: 12_000, height: 12_000, channels: 3, background: '#3070c0' } }).png({ compressionLevel: 9 }).toBuffer();
    await store.put('sources/bomb.png', bomb, 'image/png');
    await store.put('sources/small.png', await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c05028' } }).png().toBuffer(), 'image/png');

    const worker = spawnWorkerProcess({ prefix, lanes: 'upscale', storeUrl: `file://${renders}`, env: { LOG_LEVEL: 'info' } });
    try {
      await worker.waitFor('worker running');
      // A first upscale loads the model, so what follows measures the bomb and not the model's weights.
      const warm = await producer().waitForResult((await producer().enqueue({ prompt: 'upscale', intent: 'upscale', scale: 2, source: { key: 'sources/small.png' }, account })).id, { timeoutMs: 60_000 });
      assert.equal(warm.state, 'completed', JSON.stringify(warm.error));
      const before = worker.memory();

      const views = await Promise.all(
        [0, 1, 2].map(async () => producer().waitForResult((await producer().enqueue({ prompt: 'upscale', intent: 'upscale', scale: 2, source: { key: 'sources/bomb.png' }, account })).id, { timeoutMs: 60_000 })),
      );
      const afterBombs = worker.memory();
      for (const view of views) {
        assert.equal(view.state, 'failed');
        assert.equal(view.error?.code, 'E_VALIDATION');
        assert.match(view.error!.message, /12000x12000/);
        assert.equal(view.attempts, 1, 'not retried');
      }
      const next = await producer().waitForResult((await producer().enqueue({ prompt: 'upscale', intent: 'upscale', scale: 2, source: { key: 'sources/small.png' }, account })).id, { timeoutMs: 60_000 });
      assert.equal(next.state, 'completed');

      const peakRiseBytes = afterBombs.peakRssBytes - before.peakRssBytes;
      console.log(
        `decompression bomb: ${bomb.length} B PNG of 12000x12000, three at once; worker RSS ${Math.round(before.rssBytes / MiB)} -> ${Math.round(afterBombs.rssBytes / MiB)} MiB, ` +
          `peak ${Math.round(before.peakRssBytes / MiB)} -> ${Math.round(afterBombs.peakRssBytes / MiB)} MiB`,
      );
      // One decode alone is 432 MB of RGB; a header read costs the file's bytes.
      assert.ok(peakRiseBytes < 100 * MiB, `peak RSS rose ${Math.round(peakRiseBytes / MiB)} MiB`);
    } finally {
      worker.kill();
    }
  });
});
