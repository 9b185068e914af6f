// The frontier: breadth first, requisites first, each URL once, and a bounded window onto the state database.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS } from '../src/config.ts';
import { Frontier } from '../src/frontier.ts';
import { Scope } from '../src/scope.ts';
import { CrawlState } from '../src/state.ts';

const SEED = 'http://h.test/';

function frontier(limits = { depth: Infinity, maxPages: Infinity }) {
  const state = new CrawlState(mkdtempSync(join(tmpdir(), 'frontier-')));
  return { state, frontier: new Frontier(state, new Scope(SEED, DEFAULTS.scope), limits) };
}

/** Takes every URL as the crawler does: each taken URL ends in a final state before it is released. */
async function drain(f: Frontier, state: CrawlState): Promise<string[]> {
  const taken: string[] = [];
  for (let item = await f.take(); item !== null; item = await f.take()) {
    taken.push(item.url);
    state.update(item.id, { state: 'done' });
    f.release(item.id);
  }
  return taken;
}

describe('Frontier', () => {
  it('hands out each URL once, requisites before pages, shallower pages first', async () => {
    const { frontier: f, state } = frontier();
    const seed = f.offer(SEED, 'page', 'html', null);
    assert.ok('record' in seed);
    const first = (await f.take())!;
    f.offer('http://h.test/deep.html', 'page', 'html', { id: first.id, depth: 1 });
    f.offer('http://h.test/a.html', 'page', 'html', { id: first.id, depth: 0 });
    f.offer('http://h.test/style.css', 'requisite', 'css', { id: first.id, depth: 0 });
    f.offer('http://h.test/a.html#again', 'page', 'html', { id: first.id, depth: 0 });
    state.update(first.id, { state: 'done' });
    f.release(first.id);
    // Read back through the database (as after a resume) to check its order too.
    f.reload();
    assert.deepEqual(await drain(f, state), ['http://h.test/style.css', 'http://h.test/a.html', 'http://h.test/deep.html']);
  });

  it('keeps a bounded window in memory and still returns every queued URL, breadth first', async () => {
    const { frontier: f, state } = frontier();
    const count = 10_000;
    state.transaction(() => {
      for (let i = 0; i < count; i++) f.offer(`http://h.test/p${i}.html`, 'page', 'html', { id: 0, depth: i % 3 });
    });
    assert.ok(f.queuedCount <= 4096, `window holds ${f.queuedCount} URLs`);
    const taken = await drain(f, state);
    assert.equal(taken.length, count);
    assert.equal(new Set(taken).size, count);
    const depths = taken.map((url) => Number(/p(\d+)/.exec(url)![1]) % 3);
    assert.deepEqual(depths, [...depths].sort((a, b) => a - b), 'depth 1 before depth 2 before depth 3');
  });

  it('refuses pages past the depth limit and past max-pages, and URLs out of scope', () => {
    const { frontier: f } = frontier({ depth: 1, maxPages: 2 });
    assert.ok('record' in f.offer(SEED, 'page', 'html', null));
    const parent = { id: 1, depth: 1 };
    assert.equal((f.offer('http://h.test/too-deep.html', 'page', 'html', parent) as { record: { skip_reason: string } }).record.skip_reason, 'depth');
    assert.ok('record' in f.offer('http://h.test/second.html', 'page', 'html', { id: 1, depth: 0 }));
    assert.equal((f.offer('http://h.test/third.html', 'page', 'html', { id: 1, depth: 0 }) as { record: { skip_reason: string } }).record.skip_reason, 'max-pages');
    assert.deepEqual(f.offer('http://elsewhere.test/', 'page', 'html', { id: 1, depth: 0 }), { skipped: 'out-of-scope' });
    assert.deepEqual(f.offer('mailto:a@b', 'page', 'html', { id: 1, depth: 0 }), { skipped: 'scheme' });
  });
});
