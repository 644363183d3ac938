import { mkdir, readFile, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FleetError, MINUTE } from '../../contract/index.js';
import { assertStoreKey, type ArtifactStore, type StoredObject } from './artifact-store.js';

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /**
   * Temp files (`*.tmp`, a write not yet renamed into place) older than this, ms, are a write that a killed
   * process left behind: `check()` deletes them. A live write holds its temp file for milliseconds, so another
   * worker's write on the same folder is never swept. @default 15 minutes
   */
  tempMaxAgeMs?: number;
  /** Epoch ms, for the temp files' age. @default Date.now */
  now?: () => number;
}

const TEMP_SUFFIX = '.tmp';

/**
 * A folder on local disk (`file://./renders`). Writes go to a temp file and are renamed, so readers never see half an image.
 * Keys never leave the folder: besides the key check, the real path (symbolic links resolved) must lie inside the root.
 */
export class FileStore implements ArtifactStore {
  readonly root: string;
  readonly description: string;

  private readonly tempMaxAgeMs: number;
  private readonly now: () => number;

  constructor(root: string, options: FileStoreOptions = {}) {
    this.root = resolve(root);
    this.description = `file://${this.root}`;
    this.tempMaxAgeMs = options.tempMaxAgeMs ?? 15 * MINUTE;
    if (!Number.isFinite(this.tempMaxAgeMs) || this.tempMaxAgeMs < 0) throw new RangeError(`tempMaxAgeMs must be a finite number >= 0, got ${this.tempMaxAgeMs}`);
    this.now = options.now ?? Date.now;
  }

  /** At worker start: makes the folder and sweeps old temp files (see `sweepTempFiles`). @throws FleetError E_STORE */
  async check(): Promise<void> {
    await this.sweepTempFiles();
  }

  /**
   * Makes the folder and deletes the temp files older than `tempMaxAgeMs` (a kill between write and rename leaves
   * one). @returns the paths, relative to the root, of the temp files deleted
   * @throws FleetError E_STORE when the folder cannot be made or read
   */
  async sweepTempFiles(): Promise<string[]> {
    try {
      await mkdir(this.root, { recursive: true });
      const entries = await readdir(this.root, { recursive: true, withFileTypes: true });
      const swept: string[] = [];
      for (const entry of entries) {
        if (!entry.isFile() || !entry.name.endsWith(TEMP_SUFFIX)) continue;
        const path = join(entry.parentPath, entry.name);
        const modifiedAt = await stat(path).then((s) => s.mtimeMs, () => undefined);
        if (modifiedAt === undefined || this.now() - modifiedAt < this.tempMaxAgeMs) continue;
        await rm(path, { force: true });
        swept.push(relative(this.root, path).split(sep).join('/'));
      }
      return swept;
    } catch (error) {
      throw new FleetError('E_STORE', `the file store ${this.description} cannot be used: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { cause: error });
    }
  }

  async put(key: string, body: Buffer, _contentType: string): Promise<StoredObject> {
    const path = this.pathOf(key);
    try {
      await mkdir(dirname(path), { recursive: true });
      await this.assertInside(await realpath(dirname(path)), key);
      const temp = `${path}.${process.pid}.${Date.now()}${TEMP_SUFFIX}`;
      try {
        await writeFile(temp, body);
        await rename(temp, path);
      } catch (error) {
        // A full disk leaves a partial temp file; a failed rename a whole one. Neither is ever renamed later.
        await rm(temp, { force: true }).catch(() => {});
        throw error;
      }
    } catch (error) {
      if (error instanceof RangeError) throw error;
      // A full or read-only disk is the store failing (retried, replayable by code), not a bug.
      throw new FleetError('E_STORE', `writing ${key} to ${this.description} failed: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { cause: error });
    }
    return { url: pathToFileURL(path).href, key, bytes: body.length };
  }

  async get(key: string): Promise<Buffer> {
    try {
      const path = this.pathOf(key);
      await this.assertInside(await realpath(path), key);
      return await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (error instanceof RangeError || code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') {
        throw new FleetError('E_SOURCE', `no stored object ${key}`, { cause: error });
      }
      throw new FleetError('E_STORE', `reading ${key} from ${this.description} failed: ${code ?? 'error'}`, { cause: error });
    }
  }

  async exists(key: string): Promise<boolean> {
    const path = this.pathOf(key);
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined) return false;
    await this.assertInside(real, key);
    return stat(real).then(
      () => true,
      () => false,
    );
  }

  async list(subPrefix = ''): Promise<string[]> {
    const start = subPrefix === '' ? this.root : this.pathOf(subPrefix);
    const entries = await readdir(start, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isFile() && !e.name.endsWith(TEMP_SUFFIX))
      .map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join('/'))
      .sort();
  }

  async close(): Promise<void> {}

  /** Refuses a real path (symbolic links resolved) outside the real root. */
  private async assertInside(realPath: string, key: string): Promise<void> {
    const realRoot = await realpath(this.root);
    if (realPath !== realRoot && !realPath.startsWith(realRoot + sep)) throw new RangeError(`store key ${key} leaves the store (through a symbolic link)`);
  }

  private pathOf(key: string): string {
    assertStoreKey(key);
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new RangeError(`store key ${key} leaves the store`);
    return path;
  }
}
