// The reads over the whole state that a run makes at its start and end (summary, shared files, redirects, link
// settlement, retries, the WACZ page list): the same answers on both backends, over more records than one Redis scan
// batch holds, so the Redis backend's one-record-at-a-time reads are checked across batches.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openState, type CrawlState, type NewUrl, type WrittenFile } from '../src/state.ts';
import { redisUrl } from './support/redis.ts';
import { tempDirSync } from './support/cli.ts';

const SEED = 'http://h.test/';
const PAGES = 1_200;

const BACKENDS: [string, () => Promise<string | undefined>][] = [
  ['SQLite', async () => undefined],
  ['Redis', redisUrl],
];

const entry = (path: string, expectedPath: string): NewUrl => ({ url: `${SEED}${path}`, kind: 'page', expected: 'html', depth: 1, foundFrom: null, expectedPath });

for (const [backend, stateUrlOf] of BACKENDS) {
  const opened: CrawlState[] = [];
  after(() => Promise.all(opened.map((state) => state.close())));

  describe(`Whole-state reads on ${backend}`, () => {
    it('tallies, pairs shared files, lists redirects and pages, finds unsettled links and retries transient failures', async () => {
      const state = await openState({ outputDir: tempDirSync('whole-reads-'), stateUrl: await stateUrlOf(), purpose: 'crawl', seed: SEED });
      opened.push(state);
      const page: number[] = [];
      for (let i = 0; i < PAGES; i++) {
        const path = `h.test/p${i}.html`;
        const id = (await state.enqueue(entry(`p${i}`, path), Infinity)) as number;
        // p5 landed somewhere other than its expected path.
        const saved = i === 5 ? 'h.test/p5-moved.html' : path;
        await state.update(id, { state: 'done', content_type: 'text/html', bytes: 100, local_path: saved, own_path: saved, title: `P${i}` });
        page.push(id);
      }
      // An alias with the same bytes as p0: it names p0's file and owns none.
      const alias = (await state.enqueue(entry('', 'h.test/index.html'), Infinity)) as number;
      await state.update(alias, { state: 'done', content_type: 'text/html', bytes: 100, local_path: 'h.test/p0.html', own_path: null, title: 'P0' });
      const style = (await state.enqueue({ ...entry('s.css', 'h.test/s.css'), kind: 'requisite', expected: 'css' }, Infinity)) as number;
      await state.update(style, { state: 'done', content_type: 'text/css', bytes: 7, local_path: 'h.test/s.css', own_path: 'h.test/s.css' });
      const moved = (await state.enqueue(entry('old', 'h.test/old.html'), Infinity)) as number;
      await state.update(moved, { state: 'redirected', redirect_to: page[1]!, local_path: 'h.test/p1.html', own_path: null });
      const flaky = (await state.enqueue(entry('flaky', 'h.test/flaky.html'), Infinity)) as number;
      await state.update(flaky, { state: 'failed', error_code: 'HTTP_STATUS', http_status: 503 });
      const gone = (await state.enqueue(entry('gone', 'h.test/gone.html'), Infinity)) as number;
      await state.update(gone, { state: 'failed', error_code: 'HTTP_STATUS', http_status: 404 });

      // p2 → p3 as saved (settled); p4 → p5 where p5 was expected (not where it is); p6 → flaky, which failed.
      await state.setLinks(page[2]!, new Map([[page[3]!, 'h.test/p3.html']]));
      await state.setLinks(page[4]!, new Map([[page[5]!, 'h.test/p5.html']]));
      await state.setLinks(page[6]!, new Map([[flaky, 'h.test/flaky.html']]));
      await state.setLinks(page[7]!, new Map([[moved, 'h.test/p1.html'], [style, 'h.test/s.css']]));

      assert.deepEqual(await state.tally(), { files: PAGES + 2, bytes: (PAGES + 1) * 100 + 7, pages: PAGES + 1, redirects: 1, skipped: {} });
      assert.deepEqual(await state.sharedFiles(), [{ ownerId: page[0]!, aliasId: alias }]);
      assert.deepEqual((await state.redirectedRecords()).map((record) => [record.id, record.redirect_to]), [[moved, page[1]!]]);
      assert.deepEqual(await state.unsettledDocuments(), [page[4]!, page[6]!].sort((a, b) => a - b));
      const pages = await state.mirroredPages();
      assert.equal(pages.length, PAGES + 1);
      assert.deepEqual(pages.slice(0, 2), [{ url: `${SEED}p0`, title: 'P0' }, { url: `${SEED}p1`, title: 'P1' }]);
      assert.deepEqual(pages.at(-1), { url: SEED, title: 'P0' });

      assert.equal(await state.requeueTransientFailures(() => true), 1, 'the 503 is retried, the 404 is not');
      assert.equal((await state.getById(flaky))!.state, 'queued');
      assert.equal((await state.getById(gone))!.state, 'failed');
    });

    it("reports an update's changes against the records as they were, across scan batches", async () => {
      const state = await openState({ outputDir: tempDirSync('whole-changes-'), stateUrl: await stateUrlOf(), purpose: 'crawl', seed: SEED });
      opened.push(state);
      const page: number[] = [];
      for (let i = 0; i < PAGES; i++) {
        const path = `h.test/p${i}.html`;
        const id = (await state.enqueue(entry(`p${i}`, path), Infinity)) as number;
        await state.update(id, { state: 'done', content_type: 'text/html', sha256: `old${i}`, file_sha256: `file${i}`, bytes: i, local_path: path, own_path: path });
        page.push(id);
      }
      // What verify reads: every written file in path order, across more than one batch of records.
      const written: WrittenFile[] = [];
      for await (const file of state.filesWritten()) written.push(file);
      const inPathOrder = page.map((_, i) => `h.test/p${i}.html`).sort();
      assert.deepEqual(written.map((file) => file.own_path), inPathOrder);
      const i = Number(/p(\d+)/.exec(written[700]!.own_path)![1]);
      assert.deepEqual(written[700], { url: `${SEED}p${i}`, own_path: `h.test/p${i}.html`, file_sha256: `file${i}`, sha256: `old${i}`, bytes: i, content_type: 'text/html' });
      await state.beginUpdate();
      // p1 came back with other bytes, p2 is gone, p3 failed this time; the rest came back the same; one page is new.
      for (let i = 0; i < PAGES; i++) {
        if (i === 2) await state.update(page[i]!, { state: 'removed', own_path: null, local_path: null });
        else if (i === 3) await state.update(page[i]!, { state: 'failed', error_code: 'NETWORK' });
        else await state.update(page[i]!, { state: 'done', sha256: i === 1 ? 'new1' : `old${i}` });
      }
      const added = (await state.enqueue(entry('fresh', 'h.test/fresh.html'), Infinity)) as number;
      await state.update(added, { state: 'done', content_type: 'text/html', sha256: 'fresh', local_path: 'h.test/fresh.html', own_path: 'h.test/fresh.html' });

      assert.deepEqual(await state.changes(), {
        added: [{ url: `${SEED}fresh`, path: 'h.test/fresh.html' }],
        changed: [{ url: `${SEED}p1`, path: 'h.test/p1.html' }],
        removed: [{ url: `${SEED}p2`, path: 'h.test/p2.html' }],
        unchanged: PAGES - 3,
      });
      await state.commitUpdate();
    });
  });
}
