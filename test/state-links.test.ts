// The link graph the SQLite state keeps for settlement: every link of a page stored, replaced whole when set again.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState, type NewUrl } from '../src/state.ts';
import { tempDirSync } from './support/cli.ts';

const entry = (path: string): NewUrl => ({ url: `http://h.test/${path}`, kind: 'page', expected: 'html', depth: 1, foundFrom: null, expectedPath: `h.test/${path}.html` });

describe('SQLite state: the links of a page', () => {
  it('keeps all of a page with more links than one INSERT takes, and replaces them when set again', async () => {
    const outputDir = tempDirSync('state-links-');
    const state = await openState({ outputDir, purpose: 'crawl', seed: 'http://h.test/' });
    const page = (await state.enqueue(entry('page'), Infinity)) as number;
    const targets: number[] = [];
    for (let i = 0; i < 150; i++) targets.push((await state.enqueue(entry(`t${i}`), Infinity)) as number);
    await state.setLinks(page, new Map(targets.map((id, i) => [id, `h.test/t${i}.html`])));
    // Every target lands where the page assumed, but one near the end, in the third INSERT's rows.
    for (const [i, id] of targets.entries()) await state.update(id, { state: 'done', local_path: i === 140 ? 'h.test/moved.html' : `h.test/t${i}.html` });
    assert.deepEqual(await state.unsettledDocuments(), [page]);

    await state.setLinks(page, new Map(targets.slice(0, 20).map((id, i) => [id, `h.test/t${i}.html`])));
    assert.deepEqual(await state.unsettledDocuments(), [], 'the links set before are gone with the page\'s new set');
    // A link that assumes a path other than its target's expected one (where it was saved before) is kept as written.
    await state.setLinks(page, new Map(targets.slice(0, 20).map((id, i) => [id, i === 3 ? 'h.test/old-t3.html' : `h.test/t${i}.html`])));
    assert.deepEqual(await state.unsettledDocuments(), [page], 'target 3 landed at h.test/t3.html, not where the link assumed');
    await state.close();
    const db = new Database(join(outputDir, '.sitemirror', 'state.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT to_id, assumed_path FROM links WHERE from_id = ? ORDER BY to_id').all(page) as { to_id: number; assumed_path: string }[];
      // '' stands for the target's expected path (h.test/t<i>.html here), which most links assume.
      assert.deepEqual(rows, targets.slice(0, 20).map((id, i) => ({ to_id: id, assumed_path: i === 3 ? 'h.test/old-t3.html' : '' })));
    } finally {
      db.close();
    }
  });

  it('finds both kinds of unsettled link: an absolute one to a target now saved, and an expected path its target did not take', async () => {
    const outputDir = tempDirSync('state-links-');
    const state = await openState({ outputDir, purpose: 'crawl', seed: 'http://h.test/' });
    const [first, second, third, queued, failing, done] = await Promise.all(['p1', 'p2', 'p3', 'queued', 'failing', 'done'].map(async (path) => (await state.enqueue(entry(path), Infinity)) as number));
    await state.update(done!, { state: 'done', local_path: 'h.test/done.html' });
    // p1 links to a target not yet saved, written as its origin URL (null); p2 assumes where a target will land.
    await state.setLinks(first!, new Map([[queued!, null], [done!, 'h.test/done.html']]));
    await state.setLinks(second!, new Map([[failing!, 'h.test/failing.html'], [done!, 'h.test/done.html']]));
    await state.setLinks(third!, new Map([[done!, 'h.test/done.html']]));
    // While a target is queued, a link to its origin URL holds and one to its expected file waits for it.
    assert.deepEqual(await state.unsettledDocuments(), [second!]);
    await state.update(queued!, { state: 'done', local_path: 'h.test/queued.html' });
    await state.update(failing!, { state: 'failed', error_code: 'HTTP_STATUS' });
    assert.deepEqual(await state.unsettledDocuments(), [first!, second!], 'p1 can now link the saved target; p2 linked a file the failure never wrote');
    await state.setLinks(first!, new Map([[queued!, 'h.test/queued.html'], [done!, 'h.test/done.html']]));
    await state.setLinks(second!, new Map([[failing!, null], [done!, 'h.test/done.html']]));
    assert.deepEqual(await state.unsettledDocuments(), [], 'both pages rewritten against the final records');
    await state.close();
  });
});
