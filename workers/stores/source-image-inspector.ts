import { loadSharp } from '../pipelines/sharp-loader.js';
import { FleetError, type SourceImageInspector } from '../../contract/index.js';
import type { ArtifactStore } from './artifact-store.js';

/** Bytes read first: PNG, GIF and baseline JPEG headers (EXIF included, mostly) sit well inside. */
const HEAD_BYTES = 64 * 1024;

/**
 * Reads a stored image's dimensions from its header (sharp's metadata: no pixel is decoded), for the producer's
 * check of an upscale source before enqueue. It reads the first {@link HEAD_BYTES} where the store can read a range,
 * and the whole object only when those do not hold the header (some WebP and JPEG files).
 */
export function storeSourceImageInspector(store: ArtifactStore): SourceImageInspector {
  // Loaded now, so that the first request with a source does not wait for it (a failure shows at that request).
  loadSharp().catch(() => {});
  return {
    async dimensions(key: string) {
      const head = store.readHead === undefined ? await store.get(key) : await store.readHead(key, HEAD_BYTES);
      const fromHead = await readDimensions(head);
      if (fromHead !== undefined) return fromHead;
      const whole = head.length >= HEAD_BYTES && store.readHead !== undefined ? await readDimensions(await store.get(key)) : undefined;
      if (whole !== undefined) return whole;
      throw new FleetError('E_SOURCE', `stored object ${key} is not an image sharp can read`, { field: 'source.key' });
    },
  };
}

async function readDimensions(bytes: Buffer): Promise<{ width: number; height: number } | undefined> {
  const sharp = await loadSharp();
  try {
    // The upscale pipeline decodes without applying EXIF orientation, so the stored width and height are what it sees.
    const { width, height } = await sharp(bytes).metadata();
    return width === undefined || height === undefined ? undefined : { width, height };
  } catch {
    return undefined;
  }
}
