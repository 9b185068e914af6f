// The reads a crawl makes for every URL: a leased URL's record, its referer's URL, a document's link targets. The
// Redis backend answers some of them from memory (a held URL's record, URLs by id) and asks for link targets in
// chunks; every answer must equal what a fresh connection reads from the state, on both backends.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openState, type CrawlState, type NewUrl, type UrlRecord } from '../src/state.ts';
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
    }
  });
}
