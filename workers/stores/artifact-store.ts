/** What a store put. */
export interface StoredObject {
  /** Where a client fetches it (`file:///abs/path` or `s3://bucket/key`). */
  url: string;
  /** The key under the store's prefix. */
  key: string;
  bytes: number;
}

/**
 * Where images go. Keys are relative (`<lane>/<job id>.png`): a store places them under its own root or
 * prefix and refuses any key that would leave it. Writing the same key twice overwrites, so a retried
 * job never leaves a second artifact.
 */
export interface ArtifactStore {
  /** A description fit for logs (no credentials). */
  readonly description: string;
  put(key: string, body: Buffer, contentType: string): Promise<StoredObject>;
  /** Reads an object (upscale sources). Fails with E_SOURCE when it does not exist. */
  get(key: string): Promise<Buffer>;
  /** Whether an object exists (tests and audits). */
  exists(key: string): Promise<boolean>;
  /** Keys under a sub-prefix (audits: one artifact per job). */
  list(subPrefix?: string): Promise<string[]>;
  /**
   * Checks that the store can be used at all (its bucket exists and answers), so a worker refuses to start
   * instead of failing every job. @throws FleetError E_STORE naming the store. @default no check
   */
  check?(): Promise<void>;
  /**
   * The first `maxBytes` of an object (an image's header, for its dimensions), or less when it is shorter.
   * Stores that cannot read a range leave it out, and readers use `get`. @throws FleetError E_SOURCE when absent
   */
  readHead?(key: string, maxBytes: number): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * A key is 1–512 characters of relative segments of [A-Za-z0-9._-], never `.` or `..` (the same rule as the
 * request's `storeKeySchema`): no absolute paths, backslashes, NUL, percent-encodings or empty segments.
 */
export function assertStoreKey(key: string): void {
  if (key.length > 512 || !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(key) || key.split('/').some((s) => s === '.' || s === '..')) {
    const shown = key.length > 80 ? `${JSON.stringify(key.slice(0, 80))}… (${key.length} characters)` : JSON.stringify(key);
    throw new RangeError(`store key must be 1–512 characters of relative segments of [A-Za-z0-9._-] without . or .., got ${shown}`);
  }
}
