// An update remembers every record as it stood (SQLite's `previous` table) and looks each one up as its URL comes
// back: those lookups must be key searches, or an update's time grows with the square of the mirror's size.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState, type NewUrl } from '../src/state.ts';
import { PREVIOUS_BY_ID, PREVIOUS_TABLE } from '../src/state-sqlite.ts';
import { tempDirSync } from './support/cli.ts';

const entry = (path: string): NewUrl => ({ url: `http://h.test/${path}`, kind: 'page', expected: 'html', depth: 1, foundFrom: null, expectedPath: `h.test/${path}.html` });

describe('SQLite state: an update\'s previous records', () => {
  it('copies every record into a table keyed by id, so each lookup is a search of the key, not a scan', async () => {
    const outputDir = tempDirSync('state-previous-');
    const state = await openState({ outputDir, purpose: 'crawl', seed: 'http://h.test/' });
    const ids: number[] = [];
    for (let i = 0; i < 50; i++) {
      const id = (await state.enqueue(entry(`p${i}`), Infinity)) as number;
      await state.update(id, { state: 'done', sha256: `hash${i}`, own_path: `h.test/p${i}.html`, local_path: `h.test/p${i}.html` });
      ids.push(id);
    }
    await state.close();

    // The mirror's own state file, with the statements an update runs.
    const db = new Database(join(outputDir, '.sitemirror', 'state.db'));
    try {
      db.exec(PREVIOUS_TABLE);
      assert.equal((db.prepare('SELECT count(*) AS n FROM previous').get() as { n: number }).n, 50);
      assert.deepEqual(db.prepare(PREVIOUS_BY_ID).get(ids[7]), { state: 'done', sha256: 'hash7', own_path: 'h.test/p7.html' });
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${PREVIOUS_BY_ID}`).all(ids[7]) as { detail: string }[]).map((row) => row.detail);
      assert.deepEqual(plan, ['SEARCH previous USING INTEGER PRIMARY KEY (rowid=?)']);
    } finally {
      db.close();
    }
  });
});
