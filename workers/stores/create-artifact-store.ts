import type { ArtifactStore } from './artifact-store.js';
import { FileStore } from './file-store.js';
import { S3Store, type S3StoreOptions } from './s3-store.js';

export interface StoreSettings {
  /** S3 endpoint for S3-compatible servers. @default AWS */
  s3Endpoint?: string;
  /** @default 'us-east-1' */
  s3Region?: string;
  /** Further S3 options (concurrency, retries). */
  s3?: Partial<S3StoreOptions>;
}

/** What a store URL names. */
export type StoreLocation = { kind: 'file'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

/**
 * Parses `file://DIR` (relative paths from the working directory) or `s3://bucket/prefix`, so a bad `--store` is
 * refused before anything starts. @throws RangeError naming the URL and what it must be.
 */
export function parseStoreUrl(url: string): StoreLocation {
  if (url.startsWith('file://')) return { kind: 'file', dir: decodeURIComponent(url.slice('file://'.length)) || '.' };
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new RangeError(`store URL ${url}: invalid bucket name ${JSON.stringify(bucket)}`);
    return { kind: 's3', bucket, prefix: slash === -1 ? '' : rest.slice(slash + 1) };
  }
  throw new RangeError(`store URL must be file://DIR or s3://bucket/prefix, got ${JSON.stringify(url)}`);
}

/** `file://DIR` (relative paths from the working directory) or `s3://bucket/prefix`. */
export function createArtifactStore(url: string, settings: StoreSettings = {}): ArtifactStore {
  const location = parseStoreUrl(url);
  if (location.kind === 'file') return new FileStore(location.dir);
  return new S3Store({
    bucket: location.bucket,
    prefix: location.prefix,
    ...(settings.s3Endpoint ? { endpoint: settings.s3Endpoint } : {}),
    ...(settings.s3Region ? { region: settings.s3Region } : {}),
    ...settings.s3,
  });
}
