// The reads a crawl makes for every URL: a leased URL's record, its referer's URL, a document's link targets. The
// Redis backend answers some of them from memory (a held URL's record, URLs by id) and asks for link targets in
// chunks; every answer must equal what a fresh connection reads from the state, on both backends.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { STATE_POINTER, openState, type CrawlState, type NewUrl, type UrlRecord } from '../src/state.ts';
import { redisUrl } from './support/redis.ts';
import { tempDirSync } from './support/cli.ts';

const SEED = 'http://h.test/';
// More than one chunk of the Redis backend's link-target reads (2,000 URLs).
const LINKS = 2_600;

const BACKENDS: [string, () => Promise<string | undefined>][] = [
  ['SQLite', async () => undefined],
  ['Redis', redisUrl],
];

const entry = (path: string, foundFrom: number | null = null): NewUrl => ({
  url: `${SEED}${path}`, kind: 'page', expected: 'html', depth: 1, foundFrom, expectedPath: `h.test/${path}.html`,
});

for (const [backend, stateUrlOf] of BACKENDS) {
  const opened: CrawlState[] = [];
  after(() => Promise.all(opened.map((state) => state.close())));

  describe(`Per-URL reads on ${backend}`, () => {
    it('answers a held record, a referer and link targets as the stored state holds them', async () => {
      const outputDir = tempDirSync('hot-reads-');
      const stateUrl = await stateUrlOf();
      const location = { outputDir, stateUrl, purpose: 'crawl' as const, seed: SEED };
      const state = await openState(location);
      opened.push(state);

      const parent = (await state.enqueue(entry('parent'), Infinity)) as number;
      const leased = (await state.next())!;
      assert.equal(leased.id, parent);
      const child = (await state.enqueue(entry('child', parent), Infinity)) as number;
      for (let i = 0; i < LINKS; i++) await state.enqueue(entry(`l${i}`, parent), Infinity);
      await state.recordSkip(entry('deep', parent), 'depth');

      // The held record follows this worker's own changes: a claimed path, then an outcome.
      const hash = 'a'.repeat(64);
      assert.equal(await state.claimPath('h.test/parent.html', parent, hash), true);
      assert.deepEqual(
        [(await state.getById(parent))?.own_path, (await state.getById(parent))?.sha256],
        ['h.test/parent.html', hash],
      );
      await state.update(parent, { state: 'done', http_status: 200, local_path: 'h.test/parent.html' });
      const held = (await state.getById(parent))!;
      assert.deepEqual([held.state, held.http_status, held.local_path, held.title], ['done', 200, 'h.test/parent.html', null]);

      // The referer of a URL found on the held page, and of one no read of this worker has seen.
      assert.equal(await state.urlOf((await state.getById(child))!.found_from!), `${SEED}parent`);
      assert.equal(await state.urlOf(child), `${SEED}child`);
      assert.equal(await state.urlOf(999_999), undefined);

      const urls = [...Array.from({ length: LINKS }, (_, i) => `${SEED}l${i}`), `${SEED}deep`, `${SEED}nowhere`, `${SEED}child`];
      const targets = await state.linkTargets(urls);
      assert.equal(targets.size, LINKS + 2, 'every known URL, across chunks; the unknown one left out');
      assert.equal(targets.get(`${SEED}nowhere`), undefined);
      assert.deepEqual([targets.get(`${SEED}deep`)?.state, targets.get(`${SEED}deep`)?.skip_reason], ['skipped', 'depth']);
      assert.equal(targets.get(`${SEED}l${LINKS - 1}`)?.expected_path, `h.test/l${LINKS - 1}.html`);

      const answered: UrlRecord[] = [held, ...(await Promise.all([child, parent + 2, parent + LINKS].map(async (id) => (await state.getById(id))!)))];
      await state.release(parent);
      await state.close();
      opened.pop();

      // What the state holds, read afresh: the answers above, field for field.
      const fresh = await openState(location);
      opened.push(fresh);
      for (const record of answered) assert.deepEqual(await fresh.getById(record.id), record);
      const stored = await fresh.linkTargets(urls);
      for (const [url, target] of targets) {
        const { id, state: urlState, skip_reason, local_path, own_path, expected_path } = stored.get(url)!;
        assert.deepEqual({ id, state: urlState, skip_reason, local_path, own_path, expected_path }, {
          id: target.id, state: target.state, skip_reason: target.skip_reason, local_path: target.local_path,
          own_path: target.own_path, expected_path: target.expected_path,
        });
      }
    });

    if (backend === 'Redis') {
      it('reads a record again once this worker has released it, as another worker may change it then', async () => {
        const location = { outputDir: tempDirSync('hot-reads-'), stateUrl: await stateUrlOf(), purpose: 'crawl' as const, seed: SEED };
        const [one, other] = [await openState(location), await openState(location)];
        opened.push(one, other);
        const id = (await one.enqueue(entry('shared'), Infinity)) as number;
        assert.equal((await one.next())?.id, id);
        await one.update(id, { state: 'failed', error_code: 'NETWORK', error_message: 'reset' });
        await one.release(id);
        // The other worker retries it and finishes it.
        assert.equal(await other.requeueTransientFailures(() => true), 1);
        assert.equal((await other.next())?.id, id);
        await other.update(id, { state: 'done', error_code: null, error_message: null, http_status: 200 });
        await other.release(id);
        const seen = (await one.getById(id))!;
        assert.deepEqual([seen.state, seen.http_status, seen.error_code], ['done', 200, null]);
      });

      it('answers link targets from whole records where a state from an older sitemirror keeps no targets beside them', async () => {
        const outputDir = tempDirSync('hot-reads-');
        const location = { outputDir, stateUrl: await stateUrlOf(), purpose: 'crawl' as const, seed: SEED };
        const state = await openState(location);
        opened.push(state);
        const ids = [];
        for (const path of ['a', 'b', 'c']) ids.push((await state.enqueue(entry(path), Infinity)) as number);
        await state.update(ids[1]!, { state: 'done', local_path: 'h.test/b.html', own_path: 'h.test/b.html' });
        const urls = ['a', 'b', 'c', 'none'].map((path) => `${SEED}${path}`);
        const kept = await state.linkTargets(urls);
        // What an older sitemirror left: records alone.
        const { prefix } = JSON.parse(readFileSync(join(outputDir, '.sitemirror', STATE_POINTER), 'utf8')) as { prefix: string };
        const redis = new Redis(location.stateUrl!);
        try {
          assert.equal(await redis.del(`${prefix}tgt`), 1);
        } finally {
          redis.disconnect();
        }
        const fromRecords = await state.linkTargets(urls);
        assert.equal(fromRecords.size, 3);
        for (const url of urls.slice(0, 3)) {
          const { id, state: urlState, skip_reason, local_path, own_path, expected_path } = fromRecords.get(url)!;
          assert.deepEqual({ id, state: urlState, skip_reason, local_path, own_path, expected_path }, kept.get(url));
        }
        assert.equal(fromRecords.get(`${SEED}b`)?.local_path, 'h.test/b.html');
      });

      it('puts link targets back with the records when an update that died is rolled back', async () => {
        const outputDir = tempDirSync('hot-reads-');
        const stateUrl = await stateUrlOf();
        const crawl = await openState({ outputDir, stateUrl, purpose: 'crawl', seed: SEED });
        const id = (await crawl.enqueue(entry('page'), Infinity)) as number;
        await crawl.update(id, { state: 'done', local_path: 'h.test/page.html', own_path: 'h.test/page.html' });
        await crawl.close();
        const update = await openState({ outputDir, stateUrl, purpose: 'update' });
        await update.beginUpdate();
        await update.update(id, { state: 'removed', local_path: null, own_path: null });
        assert.equal((await update.linkTargets([`${SEED}page`])).get(`${SEED}page`)?.state, 'removed');
        // The update dies: its lock lapses without a commit, and the next run rolls it back.
        await update.close();
        const next = await openState({ outputDir, stateUrl, purpose: 'crawl', seed: SEED });
        opened.push(next);
        const target = (await next.linkTargets([`${SEED}page`])).get(`${SEED}page`);
        assert.deepEqual([target?.state, target?.local_path], ['done', 'h.test/page.html']);
      });
    }
  });
}
