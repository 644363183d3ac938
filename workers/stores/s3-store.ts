import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import pLimit, { type LimitFunction } from 'p-limit';
import { FleetError } from '../../contract/index.js';
import { assertStoreKey, type ArtifactStore, type StoredObject } from './artifact-store.js';

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket (no leading or trailing slash). @default '' */
  prefix?: string;
  /** Endpoint for S3-compatible servers (MinIO, s3rver); path-style addressing is used with it. @default AWS */
  endpoint?: string;
  /** @default 'us-east-1' */
  region?: string;
  /** Explicit credentials; otherwise the SDK's usual chain (AWS_ACCESS_KEY_ID, profiles, roles). */
  credentials?: S3ClientConfig['credentials'];
  /** Uploads in flight at once. @default 8 */
  maxConcurrentUploads?: number;
  /** Tries per request on throttling (503 SlowDown), 5xx and network errors. @default 6 */
  maxAttempts?: number;
  /** First backoff, ms; doubles per try with full jitter, capped at 5 s. @default 100 */
  backoffMs?: number;
  /** Injected for tests. @default setTimeout-based sleep */
  sleep?: (ms: number) => Promise<void>;
  /** Called on every retry (metrics, logs). */
  onRetry?: (info: { key: string; attempt: number; error: unknown }) => void;
  /** Loads @aws-sdk/client-s3; injected for tests. @default a dynamic import, shared by every store */
  loadSdk?: () => Promise<S3Sdk>;
}

const sleepFor = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type S3Sdk = typeof import('@aws-sdk/client-s3');
let sdkLoading: Promise<S3Sdk> | undefined;

/**
 * The AWS SDK, loaded by the first S3Store that sends a request rather than with the module graph: it is a large
 * one, and most processes that import workers/ never talk to S3 (the CLI's commands, a file-store fleet).
 */
function loadS3Sdk(): Promise<S3Sdk> {
  sdkLoading ??= import('@aws-sdk/client-s3').catch((error: unknown) => {
    sdkLoading = undefined;
    throw error;
  });
  return sdkLoading;
}

/** `s3://bucket/prefix` through @aws-sdk/client-s3, with bounded upload concurrency and retries on throttling. */
export class S3Store implements ArtifactStore {
  readonly description: string;
  private readonly clientConfig: S3ClientConfig;
  private opened: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly limit: LimitFunction;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly onRetry: S3StoreOptions['onRetry'];
  private readonly loadSdk: () => Promise<S3Sdk>;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.description = `s3://${this.bucket}/${this.prefix}${options.endpoint ? ` at ${new URL(options.endpoint).origin}` : ''}`;
    this.clientConfig = {
      region: options.region ?? 'us-east-1',
      maxAttempts: 1, // retries are ours: counted, observable and bounded
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    };
    this.limit = pLimit(options.maxConcurrentUploads ?? 8);
    this.maxAttempts = options.maxAttempts ?? 6;
    this.backoffMs = options.backoffMs ?? 100;
    this.sleep = options.sleep ?? sleepFor;
    this.onRetry = options.onRetry;
    this.loadSdk = options.loadSdk ?? loadS3Sdk;
  }

  /**
   * The SDK and this store's client, made at the first request. A failure is the store's (E_STORE, so that a
   * worker's start-up check refuses to start on it) and is not kept: the next request tries again.
   */
  private async open(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    this.opened ??= this.loadSdk()
      .then((sdk) => ({ sdk, client: new sdk.S3Client(this.clientConfig) }))
      .catch((error: unknown) => {
        this.opened = undefined;
        throw new FleetError('E_STORE', `store ${this.description}: the S3 client could not be made: ${(error as Error).message}`, { cause: error });
      });
    return this.opened;
  }

  async put(key: string, body: Buffer, contentType: string): Promise<StoredObject> {
    const objectKey = this.objectKey(key);
    const { sdk, client } = await this.open();
    return this.limit(async () => {
      try {
        await this.withRetries(key, () => client.send(new sdk.PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: body, ContentType: contentType })));
      } catch (error) {
        if (error instanceof FleetError) throw error;
        // A put has no object to miss: a 404 here is the bucket gone (deleted mid-run), a store failure.
        throw new FleetError('E_STORE', `writing ${key} to ${this.description} failed: ${isMissingBucket(error) ? `bucket ${this.bucket} does not exist` : (error as Error).name}`, { cause: error });
      }
      return { url: `s3://${this.bucket}/${objectKey}`, key, bytes: body.length };
    });
  }

  async get(key: string): Promise<Buffer> {
    return this.read(key);
  }

  async readHead(key: string, maxBytes: number): Promise<Buffer> {
    return this.read(key, `bytes=0-${Math.max(0, maxBytes - 1)}`);
  }

  /**
   * HeadBucket at start: a bucket that does not exist, or that these credentials may not use, is a configuration
   * error (E_STORE, the worker refuses to start). A bucket that only fails now (throttling, 5xx, the network after
   * the store's retries) passes: jobs retry their writes, and a worker that refused to start would not.
   * @throws FleetError E_STORE naming the bucket and why.
   */
  async check(): Promise<void> {
    const { sdk, client } = await this.open();
    try {
      await this.withRetries('(bucket)', () => client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket })));
    } catch (error) {
      const cause = error instanceof FleetError ? error.cause : error;
      const status = statusOf(cause);
      if (status === 404 || isMissingBucket(cause)) throw new FleetError('E_STORE', `store ${this.description}: bucket ${this.bucket} does not exist`, { cause: error });
      if (status === 403 || status === 401) throw new FleetError('E_STORE', `store ${this.description}: access to bucket ${this.bucket} is denied (${status})`, { cause: error });
      if (status !== undefined && status >= 400 && status < 500 && status !== 429) throw new FleetError('E_STORE', `store ${this.description}: bucket ${this.bucket} answered ${status}`, { cause: error });
    }
  }

  private async read(key: string, range?: string): Promise<Buffer> {
    const objectKey = this.objectKey(key);
    const { sdk, client } = await this.open();
    try {
      const response = await this.withRetries(key, () => client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: objectKey, ...(range ? { Range: range } : {}) })));
      return Buffer.from(await response.Body!.transformToByteArray());
    } catch (error) {
      if (isMissingBucket(error)) throw new FleetError('E_STORE', `reading ${key} from ${this.description} failed: bucket ${this.bucket} does not exist`, { cause: error });
      if (isNotFound(error)) throw new FleetError('E_SOURCE', `no stored object ${key}`, { cause: error });
      if (error instanceof FleetError) throw error;
      throw new FleetError('E_STORE', `reading ${key} from ${this.description} failed`, { cause: error });
    }
  }

  async exists(key: string): Promise<boolean> {
    const objectKey = this.objectKey(key);
    const { sdk, client } = await this.open();
    try {
      await this.withRetries(key, () => client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: objectKey })));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async list(subPrefix = ''): Promise<string[]> {
    const keys: string[] = [];
    const base = this.prefix === '' ? '' : `${this.prefix}/`;
    // ListObjects (v1) paged by Marker, the last key seen: S3 serves it, and S3-compatible servers whose
    // v2 continuation tokens need ciphers missing from current OpenSSL (s3rver's DES) serve it too.
    let marker: string | undefined;
    const { sdk, client } = await this.open();
    for (;;) {
      const page = await client.send(new sdk.ListObjectsCommand({ Bucket: this.bucket, Prefix: base + subPrefix, ...(marker ? { Marker: marker } : {}) }));
      const contents = page.Contents ?? [];
      for (const object of contents) if (object.Key) keys.push(object.Key.slice(base.length));
      if (!page.IsTruncated || contents.length === 0) break;
      marker = contents[contents.length - 1]!.Key;
    }
    return keys.sort();
  }

  async close(): Promise<void> {
    // A client that failed to open has nothing to destroy, and its error was the request's.
    (await this.opened?.catch(() => undefined))?.client.destroy();
  }

  private objectKey(key: string): string {
    assertStoreKey(key);
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  private async withRetries<T>(key: string, send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        if (attempt >= this.maxAttempts || !isRetryable(error)) {
          if (isNotFound(error) || error instanceof FleetError) throw error;
          throw new FleetError('E_STORE', `S3 request for ${key} failed after ${attempt} attempt(s): ${(error as Error).name ?? 'error'}`, { cause: error });
        }
        this.onRetry?.({ key, attempt, error });
        const ceiling = Math.min(5000, this.backoffMs * 2 ** (attempt - 1));
        await this.sleep(ceiling / 2 + Math.random() * (ceiling / 2));
      }
    }
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isMissingBucket(error: unknown): boolean {
  const e = error as { name?: string; Code?: string } | undefined;
  return e?.name === 'NoSuchBucket' || e?.Code === 'NoSuchBucket';
}

function isNotFound(error: unknown): boolean {
  const name = (error as Error)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(error) === 404;
}

function isRetryable(error: unknown): boolean {
  const status = statusOf(error);
  const name = (error as Error)?.name ?? '';
  if (status !== undefined) return status === 429 || status >= 500;
  return /SlowDown|Throttl|TimeoutError|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up/i.test(`${name} ${(error as Error)?.message ?? ''}`);
}
