import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { encodeImage } from '../../workers/pipelines/post-process.js';
import type { RawImage } from '../../workers/pipelines/index.js';

function gradient(width: number, height: number): RawImage {
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    pixels[i * 3] = i % width;
    pixels[i * 3 + 1] = Math.floor(i / width);
    pixels[i * 3 + 2] = 128;
  }
  return { pixels, width, height, channels: 3 };
}

describe('encodeImage', () => {
  it('writes a lossless PNG and a WebP thumbnail at most 256 px', async () => {
    const image = gradient(640, 384);
    const encoded = await encodeImage(image, { format: 'png' });
    assert.equal(encoded.contentType, 'image/png');
    const { data, info } = await sharp(encoded.data).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [640, 384, 3]);
    assert.deepEqual(new Uint8Array(data), image.pixels);
    assert.ok(encoded.thumbnail);
    assert.deepEqual([encoded.thumbnail.width, encoded.thumbnail.height], [256, 154]);
    assert.equal((await sharp(encoded.thumbnail.data).metadata()).format, 'webp');
  });

  it('writes WebP on request, without a thumbnail when told', async () => {
    const encoded = await encodeImage(gradient(64, 64), { format: 'webp', thumbnail: false });
    assert.equal(encoded.contentType, 'image/webp');
    assert.equal((await sharp(encoded.data).metadata()).format, 'webp');
    assert.equal(encoded.thumbnail, undefined);
    await assert.rejects(encodeImage(gradient(8, 8), { quality: 0 }), RangeError);
  });
});
