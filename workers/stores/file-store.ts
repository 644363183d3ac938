import { mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FleetError } from '../../contract/index.js';
import { assertStoreKey, type ArtifactStore, type StoredObject } from './artifact-store.js';

/** A folder on local disk (`file://./renders`). Writes go to a temp file and are renamed, so readers never see half an image. */
export class FileStore implements ArtifactStore {
  readonly root: string;
  readonly description: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `file://${this.root}`;
  }

  async put(key: string, body: Buffer, _contentType: string): Promise<StoredObject> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, body);
    await rename(temp, path);
    return { url: pathToFileURL(path).href, key, bytes: body.length };
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      throw new FleetError('E_SOURCE', `no stored object ${key}`, { cause: error });
    }
  }

  async exists(key: string): Promise<boolean> {
    return stat(this.pathOf(key)).then(
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

  private pathOf(key: string): string {
    assertStoreKey(key);
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new RangeError(`store key ${key} leaves the store`);
    return path;
  }
}
