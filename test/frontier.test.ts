// The frontier: breadth first, requisites first, each URL once, and a bounded window onto the state — on both backends.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS } from '../src/config.ts';
import { Frontier } from '../src/frontier.ts';
import { Scope } from '../src/scope.ts';
import { openState, type CrawlState } from '../src/state.ts';
import { LANE_CAPACITY, Lane } from '../src/state-lane.ts';
import { redisUrl } from './support/redis.ts';
import { tempDirSync } from './support/cli.ts';

const SEED = 'http://h.test/';

const BACKENDS: [string, () => Promise<string | undefined>][] = [
  ['SQLite', async () => undefined],
  ['Redis', redisUrl],
];

for (const [backend, stateUrlOf] of BACKENDS) {
  const opened: CrawlState[] = [];
  after(() => Promise.all(opened.map((state) => state.close())));

  async function frontier(limits = { depth: Infinity, maxPages: Infinity }) {
    const state = await openState({ outputDir: tempDirSync('frontier-'), stateUrl: await stateUrlOf(), purpose: 'crawl', seed: SEED });
    opened.push(state);
    const f = new Frontier(state, new Scope(SEED, DEFAULTS.scope), limits);
    await f.reload();
    return { state, frontier: f };
  }

  /** Takes every URL as the crawler does: each taken URL ends in a final state before it is released. */
  async function drain(f: Frontier, state: CrawlState): Promise<string[]> {
    const taken: string[] = [];
    for (let item = await f.take(); item !== null; item = await f.take()) {
      taken.push(item.url);
      await state.update(item.id, { state: 'done' });
      await f.release(item.id);
    }
    return taken;
  }

  describe(`Frontier on ${backend}`, () => {
    it('hands out each URL once, requisites before pages, shallower pages first', async () => {
      const { frontier: f, state } = await frontier();
      const seed = await f.offer(SEED, 'page', 'html', null);
      assert.ok('record' in seed);
      const first = (await f.take())!;
      await f.offer('http://h.test/deep.html', 'page', 'html', { id: first.id, depth: 1 });
      await f.offer('http://h.test/a.html', 'page', 'html', { id: first.id, depth: 0 });
      await f.offer('http://h.test/style.css', 'requisite', 'css', { id: first.id, depth: 0 });
      await f.offer('http://h.test/a.html#again', 'page', 'html', { id: first.id, depth: 0 });
      await state.update(first.id, { state: 'done' });
      await f.release(first.id);
      // Read back through the state (as after a resume) to check its order too.
      await f.reload();
      assert.deepEqual(await drain(f, state), ['http://h.test/style.css', 'http://h.test/a.html', 'http://h.test/deep.html']);
    });

    it('keeps a bounded window in memory and still returns every queued URL, breadth first', async () => {
      const { frontier: f, state } = await frontier();
      const count = 6_000;
      for (let i = 0; i < count; i++) await f.offer(`http://h.test/p${i}.html`, 'page', 'html', { id: 0, depth: i % 3 });
      const taken = await drain(f, state);
      assert.equal(taken.length, count);
      assert.equal(new Set(taken).size, count);
      const depths = taken.map((url) => Number(/p(\d+)/.exec(url)![1]) % 3);
      assert.deepEqual(depths, [...depths].sort((a, b) => a - b), 'depth 1 before depth 2 before depth 3');
    });

    it('refuses pages past the depth limit and past max-pages, and URLs out of scope', async () => {
      const { frontier: f } = await frontier({ depth: 1, maxPages: 2 });
      assert.ok('record' in (await f.offer(SEED, 'page', 'html', null)));
      const parent = { id: 1, depth: 1 };
      assert.equal(((await f.offer('http://h.test/too-deep.html', 'page', 'html', parent)) as { record: { skip_reason: string } }).record.skip_reason, 'depth');
      assert.ok('record' in (await f.offer('http://h.test/second.html', 'page', 'html', { id: 1, depth: 0 })));
      assert.equal(((await f.offer('http://h.test/third.html', 'page', 'html', { id: 1, depth: 0 })) as { record: { skip_reason: string } }).record.skip_reason, 'max-pages');
      assert.deepEqual(await f.offer('http://elsewhere.test/', 'page', 'html', { id: 1, depth: 0 }), { skipped: 'out-of-scope' });
      assert.deepEqual(await f.offer('mailto:a@b', 'page', 'html', { id: 1, depth: 0 }), { skipped: 'scheme' });
    });

    it('answers a URL offered again as the first time, skips counted each time, until the seed adopts a host', async () => {
      const state = await openState({ outputDir: tempDirSync('frontier-'), stateUrl: await stateUrlOf(), purpose: 'crawl', seed: SEED });
      opened.push(state);
      const scope = new Scope(SEED, DEFAULTS.scope);
      const f = new Frontier(state, scope, { depth: Infinity, maxPages: Infinity });
      await f.reload();
      const parent = { id: 1, depth: 0 };
      assert.ok('record' in (await f.offer(SEED, 'page', 'html', null)));
      for (let i = 0; i < 3; i++) assert.deepEqual(await f.offer('http://www2.h.test/a.html', 'page', 'html', parent), { skipped: 'out-of-scope' });
      assert.deepEqual(await f.offer('mailto:a@b', 'page', 'html', parent), { skipped: 'scheme' });
      assert.deepEqual(await f.offer('mailto:a@b', 'page', 'html', parent), { skipped: 'scheme' });
      assert.deepEqual([...f.uncountedSkips].sort(), [['out-of-scope', 3], ['scheme', 2]]);
      // The seed redirected there: the same link is now the site's own.
      scope.adoptHost('www2.h.test');
      const adopted = await f.offer('http://www2.h.test/a.html', 'page', 'html', parent);
      assert.ok('record' in adopted && adopted.record.url === 'http://www2.h.test/a.html' && adopted.record.state === 'queued');
    });

    it('leases a URL to one taker only, and a URL released while still queued is handed out again', async () => {
      const { frontier: f, state } = await frontier();
      await f.offer(SEED, 'page', 'html', null);
      const item = (await f.take())!;
      assert.equal(await state.claim(item.id), false, 'a leased URL cannot be claimed again');
      await f.release(item.id);
      const again = (await f.take())!;
      assert.equal(again.url, SEED);
      await state.update(again.id, { state: 'done' });
      await f.release(again.id);
      assert.equal(await f.take(), null);
    });

    it('offers a document\'s links all at once exactly as one by one: order, duplicates, depth, requeue and skips', async () => {
      const links = [
        { url: 'http://h.test/new.html', kind: 'page' as const, expected: 'html' as const },
        { url: 'http://h.test/known.css', kind: 'requisite' as const, expected: 'css' as const },
        { url: 'http://h.test/deep.html', kind: 'requisite' as const, expected: 'html' as const },
        { url: 'http://elsewhere.test/x.html', kind: 'page' as const, expected: 'html' as const },
        { url: 'mailto:someone@h.test', kind: 'page' as const, expected: 'html' as const },
        { url: 'http://h.test/new.html#top', kind: 'page' as const, expected: 'html' as const },
      ];
      const outcome = async (offer: (f: Frontier, parent: { id: number; depth: number }) => Promise<void>) => {
        const { frontier: f, state } = await frontier({ depth: 2, maxPages: Infinity });
        const seed = await f.offer(SEED, 'page', 'html', null);
        assert.ok('record' in seed);
        await f.offer('http://h.test/known.css', 'requisite', 'css', { id: seed.record.id, depth: 0 });
        // Too deep as a page first: the requisite link to it later must requeue it.
        await f.offer('http://h.test/deep.html', 'page', 'html', { id: seed.record.id, depth: 2 });
        await offer(f, { id: seed.record.id, depth: 1 });
        const urls = ['http://h.test/new.html', 'http://h.test/known.css', 'http://h.test/deep.html'];
        const records = await Promise.all(urls.map(async (url) => {
          const record = await state.get(url);
          return record && [record.url, record.state, record.skip_reason, record.kind, record.depth];
        }));
        return { records, skips: [...f.uncountedSkips].sort(), queued: f.queuedCount, taken: await drain(f, state) };
      };
      const oneByOne = await outcome(async (f, parent) => {
        for (const link of links) await f.offer(link.url, link.kind, link.expected, parent);
      });
      const allAtOnce = await outcome((f, parent) => f.offerAll(links, parent));
      assert.deepEqual(allAtOnce, oneByOne);
      // What both did: the new page queued once, the page too deep before requeued as a requisite, two links skipped.
      assert.deepEqual(allAtOnce.records, [
        ['http://h.test/new.html', 'queued', null, 'page', 2],
        ['http://h.test/known.css', 'queued', null, 'requisite', 0],
        ['http://h.test/deep.html', 'queued', null, 'requisite', 1],
      ]);
      assert.deepEqual(allAtOnce.taken, ['http://h.test/known.css', 'http://h.test/deep.html', SEED, 'http://h.test/new.html']);
      assert.deepEqual(allAtOnce.skips, [['out-of-scope', 1], ['scheme', 1]]);
    });
  });
}

describe('the SQLite queue window', () => {
  it('holds at most LANE_CAPACITY URLs in memory and reads the rest back from the table in order', () => {
    const table = Array.from({ length: LANE_CAPACITY * 2 }, (_, i) => ({ id: i + 1, url: `http://h.test/p${i}`, kind: 'page' as const, depth: 0 }));
    let reads = 0;
    const lane = new Lane('page', (_kind, limit) => {
      reads++;
      return table.filter((row) => !taken.has(row.id)).slice(0, limit);
    });
    const taken = new Set<number>();
    for (const row of table) lane.push(row);
    assert.ok(lane.size <= LANE_CAPACITY, `${lane.size} URLs in memory`);
    for (let item = lane.shift(); item; item = lane.shift()) taken.add(item.id);
    assert.equal(taken.size, table.length);
    assert.ok(reads >= 2, 'the rest came back from the table');
  });
});
