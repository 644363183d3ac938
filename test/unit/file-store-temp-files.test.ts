import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { MINUTE } from '../../contract/index.js';
import { FileStore } from '../../workers/stores/file-store.js';

function tempFilesIn(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.tmp'));
}

function withFolder(run: (root: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'fleet-store-tmp-'));
    try {
      await run(root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
}

/** A 64 KiB tmpfs at a new folder, when this process may mount one (root in a container that allows it). */
function smallTmpfs(): { root: string; unmount: () => void } | undefined {
  const root = mkdtempSync(join(tmpdir(), 'fleet-store-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', root], { stdio: 'ignore' }).status === 0;
  if (!mounted) {
    rmSync(root, { recursive: true, force: true });
    return undefined;
  }
  return {
    root,
    unmount: () => {
      spawnSync('umount', [root], { stdio: 'ignore' });
      rmSync(root, { recursive: true, force: true });
    },
  };
}

describe('FileStore temp files', () => {
  test(
    'a write whose rename fails is E_STORE and leaves no temp file',
    withFolder(async (root) => {
      const store = new FileStore(root);
      mkdirSync(join(root, 'flash', 'job-1.png', 'in-the-way'), { recursive: true });
      await assert.rejects(store.put('flash/job-1.png', Buffer.alloc(1000, 7), 'image/png'), { code: 'E_STORE' });
      assert.deepEqual(tempFilesIn(root), []);
    }),
  );

  const tmpfs = smallTmpfs();
  test('a write on a full disk is E_STORE (ENOSPC) and leaves no temp file; a smaller write then succeeds', { skip: tmpfs === undefined ? 'cannot mount a tmpfs here (needs root)' : false }, async () => {
    try {
      const store = new FileStore(tmpfs!.root);
      await assert.rejects(store.put('flash/big.png', Buffer.alloc(256 * 1024, 1), 'image/png'), (error: { code?: string; message: string }) => error.code === 'E_STORE' && /ENOSPC/.test(error.message));
      assert.deepEqual(tempFilesIn(tmpfs!.root), [], 'the partial temp file is gone');
      await store.put('flash/small.png', Buffer.alloc(8 * 1024, 2), 'image/png');
      assert.deepEqual(await store.list(), ['flash/small.png']);
    } finally {
      tmpfs!.unmount();
    }
  });

  test(
    'sweepTempFiles() (run by check() at worker start) deletes temp files older than tempMaxAgeMs, keeps younger ones and every artifact',
    withFolder(async (root) => {
      const now = Date.now();
      const store = new FileStore(root, { tempMaxAgeMs: 15 * MINUTE, now: () => now });
      await store.put('flash/done.png', Buffer.from('png'), 'image/png');
      mkdirSync(join(root, 'large'), { recursive: true });
      const old = join(root, 'flash', 'killed.png.123.1.tmp');
      const oldDeep = join(root, 'large', 'killed.png.456.2.tmp');
      const young = join(root, 'flash', 'writing.png.789.3.tmp');
      for (const path of [old, oldDeep, young]) writeFileSync(path, 'partial');
      const longAgo = (now - 16 * MINUTE) / 1000;
      utimesSync(old, longAgo, longAgo);
      utimesSync(oldDeep, longAgo, longAgo);
      const swept = await store.sweepTempFiles();
      assert.deepEqual(swept.sort(), ['flash/killed.png.123.1.tmp', 'large/killed.png.456.2.tmp']);
      assert.equal(existsSync(young), true, 'a write still under way is left alone');
      assert.deepEqual(await store.list(), ['flash/done.png']);
    }),
  );

  test('check() makes a missing folder; a bad tempMaxAgeMs is refused by name', async () => {
    const root = join(tmpdir(), `fleet-store-new-${process.pid}-${Date.now()}`);
    try {
      await new FileStore(root).check();
      assert.equal(existsSync(root), true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    assert.throws(() => new FileStore(root, { tempMaxAgeMs: -1 }), /tempMaxAgeMs must be/);
  });
});
