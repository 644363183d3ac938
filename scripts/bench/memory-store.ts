import { FleetError } from '../../contract/index.js';
import type { ArtifactStore, StoredObject } from '../../workers/index.js';

/**
 * An artifact store in process memory, for benchmarks that measure the fleet rather than a disk: `put`
 * keeps the encoded bytes (so the work of producing them is real) and counts them.
 */
export class MemoryStore implements ArtifactStore {
  readonly description = 'memory://bench';
  readonly objects = new Map<string, Buffer>();
  bytesWritten = 0;

  async put(key: string, body: Buffer, _contentType: string): Promise<StoredObject> {
    this.objects.set(key, body);
    this.bytesWritten += body.length;
    return { url: `memory://bench/${key}`, key, bytes: body.length };
  }

  async get(key: string): Promise<Buffer> {
    const body = this.objects.get(key);
    if (body === undefined) throw new FleetError('E_SOURCE', `no stored object ${key}`);
    return body;
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }

  async list(subPrefix = ''): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(subPrefix)).sort();
  }

  async close(): Promise<void> {
    this.objects.clear();
  }
}
