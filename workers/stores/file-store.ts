import { mkdir, readFile, readdir, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FleetError } from '../../contract/index.js';
import { assertStoreKey, type ArtifactStore, type StoredObject } from './artifact-store.js';

/**
 * A folder on local disk (`file://./renders`). Writes go to a temp file and are renamed, so readers never see half an image.
 * Keys never leave the folder: besides the key check, the real path (symbolic links resolved) must lie inside the root.
 */
export class FileStore implements ArtifactStore {
  readonly root: string;
  readonly description: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `file://${this.root}`;
  }

  async put(key: string, body: Buffer, _contentType: string): Promise<StoredObject> {
    const path = this.pathOf(key);
    try {
      await mkdir(dirname(path), { recursive: true });
      await this.assertInside(await realpath(dirname(path)), key);
      const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(temp, body);
      await rename(temp, path);
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
      .filter((e) => e.isFile() && !e.name.endsWith('.tmp'))
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
