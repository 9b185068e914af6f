// MirrorStore's raw bodies: written straight under their hash, whole or not at all.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MirrorStore, sha256 } from '../src/store.ts';
import { tempDir } from './support/cli.ts';

const MOUNT = process.getuid?.() === 0 ? false : 'needs root to mount a small tmpfs';

async function openStore(root: string): Promise<MirrorStore> {
  const store = new MirrorStore(root);
  await store.open();
  return store;
}

const rawPath = (root: string, hash: string) => join(root, '.sitemirror', 'raw', hash.slice(0, 2), hash);

describe('store: raw bodies', () => {
  it('keeps a body under its sha256 and reads it back', async () => {
    const root = await tempDir();
    const store = await openStore(root);
    const body = Buffer.from('<p>one</p>');
    const hash = await store.keepRaw(body);
    assert.equal(hash, sha256(body));
    assert.deepEqual(readFileSync(rawPath(root, hash)), body);
    assert.deepEqual(await store.readRaw(hash), body);
    assert.deepEqual(readdirSync(join(root, '.sitemirror', 'tmp')), [], 'no temporary file left behind');
  });

  it('replaces a file of another size under the name (a write a crash cut short) with the whole body', async () => {
    const root = await tempDir();
    const store = await openStore(root);
    const body = Buffer.from('<p>the whole page</p>');
    const hash = sha256(body);
    await store.keepRaw(Buffer.from('x'), hash); // the first bytes of the body, as a killed run left them
    assert.equal(readFileSync(rawPath(root, hash)).length, 1);
    await store.keepRaw(body, hash);
    assert.deepEqual(readFileSync(rawPath(root, hash)), body);
  });

  it('on a full disk throws one line that says so and leaves no partial file', { skip: MOUNT }, async () => {
    const disk = await tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]);
    try {
      const store = await openStore(disk);
      writeFileSync(join(disk, 'filler'), Buffer.alloc(200 * 1024));
      const body = Buffer.alloc(100 * 1024, 'a');
      await assert.rejects(store.keepRaw(body), /^SitemirrorError: cannot write .*: the disk is full \(ENOSPC\)$/m);
      assert.equal(existsSync(rawPath(disk, sha256(body))), false, 'the cut-short file is removed');
    } finally {
      execFileSync('umount', [disk]);
    }
  });
});
