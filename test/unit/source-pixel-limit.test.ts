import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { readSourceImage } from '../../workers/consumer/read-source-image.js';
import { maxPixelsOf } from '../../workers/models/model-manifest.js';
import { decodeSource } from '../../workers/pipelines/index.js';
import { FileStore } from '../../workers/stores/file-store.js';

const png = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#808080' } }).png().toBuffer();

test("maxPixelsOf: a range's largest square, a list's largest entry", () => {
  assert.equal(maxPixelsOf({ min: 16, max: 1024, multipleOf: 1 }), 1024 * 1024);
  assert.equal(maxPixelsOf({ list: [{ width: 512, height: 512 }, { width: 768, height: 512 }] }), 768 * 512);
});

test('decodeSource refuses an image over its pixel limit with E_SOURCE, and decodes one within it', async () => {
  const big = await png(1100, 1000);
  await assert.rejects(decodeSource(big, { maxPixels: 1024 * 1024 }), (error: { code?: string; cause?: Error }) => error.code === 'E_SOURCE' && /pixel limit/i.test(String(error.cause?.message)));
  const decoded = await decodeSource(big, { maxPixels: 1100 * 1000 });
  assert.deepEqual([decoded.width, decoded.height], [1100, 1000]);
});

test('readSourceImage: a source over the model sizes fails E_VALIDATION naming its size; a missing one E_SOURCE; a fitting one is read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-source-'));
  try {
    const store = new FileStore(dir);
    const model = { name: 'upscale-x2', sizes: { min: 16, max: 1024, multipleOf: 1 } };
    await store.put('big.png', await png(2000, 20), 'image/png');
    await store.put('fits.png', await png(40, 30), 'image/png');
    await store.put('text.png', Buffer.from('not an image'), 'image/png');
    await assert.rejects(readSourceImage(store, 'big.png', model), (error: { code?: string; field?: string; message: string }) => error.code === 'E_VALIDATION' && error.field === 'source' && /2000x20/.test(error.message));
    await assert.rejects(readSourceImage(store, 'absent.png', model), { code: 'E_SOURCE' });
    await assert.rejects(readSourceImage(store, 'text.png', model), { code: 'E_SOURCE' });
    assert.equal((await readSourceImage(store, 'fits.png', model)).length > 0, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
