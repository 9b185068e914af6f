// A claimed path's sha256 and own_path in the SQLite state: seen at once, and in the row however the URL ends.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState, type NewUrl } from '../src/state.ts';
import { tempDirSync } from './support/cli.ts';

const entry = (path: string): NewUrl => ({ url: `http://h.test/${path}`, kind: 'page', expected: 'html', depth: 1, foundFrom: null, expectedPath: `h.test/${path}.html` });
const HASH = 'a'.repeat(64);

function rowsOf(outputDir: string): { id: number; state: string; sha256: string | null; own_path: string | null }[] {
  const db = new Database(join(outputDir, '.sitemirror', 'state.db'), { readonly: true });
  try {
    return db.prepare('SELECT id, state, sha256, own_path FROM urls ORDER BY id').all() as ReturnType<typeof rowsOf>;
  } finally {
    db.close();
  }
}

describe('SQLite state: a claimed path', () => {
  it('is seen by the next reader before the outcome is recorded, and lands in the row with the outcome', async () => {
    const outputDir = tempDirSync('state-claims-');
    const state = await openState({ outputDir, purpose: 'crawl', seed: 'http://h.test/' });
    const id = (await state.enqueue(entry('a'), Infinity)) as number;
    assert.equal(await state.claimPath('h.test/a.html', id, HASH), true);
    const seen = await state.getById(id);
    assert.equal(seen?.sha256, HASH, 'an alias with the same bytes compares against this while the URL is processed');
    assert.equal(seen?.own_path, 'h.test/a.html');
    // An outcome that names neither field (a failure) still leaves the claim in the row.
    await state.update(id, { state: 'failed', error_code: 'NETWORK' });
    await state.close();
    assert.deepEqual(rowsOf(outputDir), [{ id, state: 'failed', sha256: HASH, own_path: 'h.test/a.html' }]);
  });

  it('is written by the commit when no outcome follows (a crawl stopped mid-page), and read back from the table', async () => {
    const outputDir = tempDirSync('state-claims-');
    const state = await openState({ outputDir, purpose: 'crawl', seed: 'http://h.test/' });
    const first = (await state.enqueue(entry('a'), Infinity)) as number;
    const second = (await state.enqueue(entry('b'), Infinity)) as number;
    assert.equal(await state.claimPath('h.test/a.html', first, HASH), true);
    assert.equal(await state.claimPath('H.test/A.html', second, HASH), false, 'the same path, case-folded, belongs to the first');
    assert.equal(await state.pathOwner('h.test/a.html'), first);
    // An alias that names the shared file sets own_path null over the claim: the outcome's fields win.
    await state.update(first, { state: 'done', sha256: HASH, own_path: null, local_path: 'h.test/a.html' });
    assert.equal((await state.getById(first))?.own_path, null);
    assert.equal(await state.claimPath('h.test/b.html', second, HASH), true);
    await state.close();
    assert.deepEqual(rowsOf(outputDir), [
      { id: first, state: 'done', sha256: HASH, own_path: null },
      { id: second, state: 'queued', sha256: HASH, own_path: 'h.test/b.html' },
    ]);
    const reopened = await openState({ outputDir, purpose: 'crawl', seed: 'http://h.test/' });
    try {
      assert.equal(await reopened.claimPath('h.test/b.html', second, HASH), true, 'a resumed URL claims its own path again');
      assert.equal((await reopened.getById(second))?.own_path, 'h.test/b.html');
    } finally {
      await reopened.close();
    }
  });
});
