// The SQLite backend's record cache: bounded, least recently used out first (by generations), and never out of step with the table.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RecordCache } from '../src/state-record-cache.ts';
import { openState, type NewUrl, type UrlRecord } from '../src/state.ts';
import { tempDirSync } from './support/cli.ts';

function record(id: number): UrlRecord {
  return {
    id, url: `http://h.test/${id}`, kind: 'page', expected: 'html', depth: 0, found_from: null, state: 'queued', skip_reason: null,
    http_status: null, content_type: null, charset: null, etag: null, last_modified: null, sha256: null, file_sha256: null, bytes: null,
    local_path: null, own_path: null, expected_path: `h.test/${id}.html`, redirect_to: null, error_code: null, error_message: null,
    fetched_at: null, title: null,
  };
}

describe('RecordCache', () => {
  it('holds at most its capacity and drops the records not used for longest first', () => {
    // Capacity 4: generations of 2. 1 and 2 fill the recent one; 3 makes them the older; reading 1 brings it back.
    const cache = new RecordCache(4);
    for (const id of [1, 2, 3]) cache.put(record(id));
    assert.equal(cache.get('http://h.test/1')?.id, 1);
    cache.put(record(4)); // rotates: 2, unused since 3 came, leaves; 3 and 1 are now the older generation
    assert.equal(cache.size, 3);
    assert.equal(cache.get('http://h.test/2'), undefined);
    assert.equal(cache.getById(2), undefined);
    for (const id of [5, 6, 7, 8, 9, 10]) {
      cache.put(record(id));
      assert.ok(cache.size <= 4, `at most 4 records, not ${cache.size}`);
    }
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((id) => cache.getById(id)?.id), [undefined, undefined, undefined, undefined, undefined, undefined, undefined, 8]);
    assert.equal(cache.get('http://h.test/10')?.id, 10);
  });

  it('replaces a patched record, so a record handed out earlier stays as it was', () => {
    const cache = new RecordCache(3);
    const before = cache.put(record(1));
    cache.patch(1, { state: 'done', local_path: 'h.test/1.html' });
    assert.equal(before.state, 'queued');
    assert.ok(Object.isFrozen(before) && Object.isFrozen(cache.getById(1)), 'records are frozen, so no reader changes them for the others');
    assert.deepEqual([cache.getById(1)?.state, cache.getById(1)?.local_path], ['done', 'h.test/1.html']);
    cache.patch(9, { state: 'done' });
    assert.equal(cache.getById(9), undefined);
  });
});

describe('SQLite state with its record cache', () => {
  const entry = (path: string): NewUrl => ({ url: `http://h.test/${path}`, kind: 'page', expected: 'html', depth: 1, foundFrom: null, expectedPath: `h.test/${path}.html` });

  it('answers every read exactly as the table holds the row, after inserts, skips, updates and bulk changes', async () => {
    const outputDir = tempDirSync('record-cache-');
    const state = await openState({ outputDir, purpose: 'crawl', seed: 'http://h.test/' });
    const a = (await state.enqueue(entry('a'), Infinity)) as number;
    await state.recordSkip(entry('b'), 'depth');
    await state.update(a, { state: 'failed', error_code: 'NETWORK', error_message: 'reset', http_status: null });
    const failed = await state.get(entry('a').url);
    await state.requeueTransientFailures(() => true);
    const b = (await state.get(entry('b').url))!;
    await state.requeue(b.id, 0, 'requisite');
    assert.equal(failed?.state, 'failed', 'a record read before a change keeps its values');
    assert.equal((await state.get(entry('a').url))?.state, 'queued', 'the bulk requeue of transient failures is seen');
    const requeued = (await state.getById(b.id))!;
    assert.deepEqual([requeued.state, requeued.skip_reason, requeued.kind, requeued.depth], ['queued', null, 'requisite', 0]);
    assert.equal((await state.linkTargets([entry('a').url, 'http://h.test/none'])).size, 1);
    const cached = [await state.get(entry('a').url), await state.get(entry('b').url)];
    await state.close();
    // A new connection reads the committed rows: each must equal what the cache answered, field for field.
    const table = new Database(join(outputDir, '.sitemirror', 'state.db'), { readonly: true });
    try {
      for (const record of cached) assert.deepEqual(record, table.prepare('SELECT * FROM urls WHERE id = ?').get(record!.id));
    } finally {
      table.close();
    }
  });
});
