// Crawler traps (src/traps.ts), query normalisation before dedupe (src/url.ts) and the frontier that applies both.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { DEFAULTS } from '../src/config.ts';
import { Frontier } from '../src/frontier.ts';
import { localPathFor } from '../src/paths.ts';
import { Scope } from '../src/scope.ts';
import { openState } from '../src/state.ts';
import { DEFAULT_TRAP_LIMITS, detectTrap, type PathHistory } from '../src/traps.ts';
import { DEFAULT_STRIP_PARAMS, normalizeUrl, type QueryRules } from '../src/url.ts';
import { tempDirSync } from './support/cli.ts';

const RULES: QueryRules = { sortParams: true, stripParams: DEFAULT_STRIP_PARAMS }; // as with --sort-query
const nothingSeen: PathHistory = { queryVariants: () => 0 };

describe('detectTrap', () => {
  const cases: [string, string | null][] = [
    ['http://h/infra/www/infra/www/infra/www/', null],
    ['http://h/infra/www/infra/www/infra/www/infra/www/', 'segment-repeats'],
    ['http://h/a/a/a/a', 'segment-repeats'],
    ['http://h/a/b/a/b/a/b/index.html', null],
    [`http://h/${Array.from({ length: 32 }, (_, i) => `s${i}`).join('/')}/`, null],
    [`http://h/${Array.from({ length: 33 }, (_, i) => `s${i}`).join('/')}`, 'path-segments'],
    ['http://h/calendar?month=5', null],
    ['http://h/', null],
  ];
  for (const [url, kind] of cases) {
    it(`${kind === null ? 'lets' : `calls ${kind}:`} ${url.length > 70 ? `${url.slice(0, 70)}…` : url}${kind === null ? ' through' : ''}`, () => {
      assert.equal(detectTrap(url, DEFAULT_TRAP_LIMITS, nothingSeen, true)?.kind ?? null, kind);
    });
  }

  it('names the repeated segment and the option that raises the limit', () => {
    const trap = detectTrap('http://h/infra/www/infra/www/infra/www/infra/www/', DEFAULT_TRAP_LIMITS, nothingSeen, true)!;
    assert.match(trap.reason, /"infra" occurs 4 times in the path, more than 3 \(--max-segment-repeats\)/);
  });

  it('refuses a page once the path already has maxQueryVariants URLs, asking only about that path', () => {
    const asked: [string, number][] = [];
    const history = (known: number): PathHistory => ({
      queryVariants: (prefix, atMost) => {
        asked.push([prefix, atMost]);
        return Math.min(known, atMost);
      },
    });
    assert.equal(detectTrap('http://h/cal?month=1000', DEFAULT_TRAP_LIMITS, history(999), true), null);
    const trap = detectTrap('http://h/cal?month=1001', DEFAULT_TRAP_LIMITS, history(1000), true)!;
    assert.equal(trap.kind, 'query-variants');
    assert.match(trap.reason, /more than 1000 URLs of http:\/\/h\/cal differ only in their query \(--max-query-variants\)/);
    assert.deepEqual(asked, [['http://h/cal?', 1000], ['http://h/cal?', 1000]]);
  });

  it('does not count query variants of requisites, nor of URLs without a query', () => {
    const everything: PathHistory = { queryVariants: () => 1000 };
    assert.equal(detectTrap('http://h/img.php?id=5000', DEFAULT_TRAP_LIMITS, everything, false), null);
    assert.equal(detectTrap('http://h/cal', DEFAULT_TRAP_LIMITS, everything, true), null);
  });
});

describe('normalizeUrl with query rules', () => {
  const cases: [string, string, string][] = [
    ['sorts parameters by name', 'http://h/?b=1&a=2', 'http://h/?a=2&b=1'],
    ['keeps the order of a repeated name', 'http://h/?b=1&a=2&a=1', 'http://h/?a=2&a=1&b=1'],
    ['drops session ids, any case', 'http://h/p?PHPSESSID=abc&x=1&sid=9&SessionId=4', 'http://h/p?x=1'],
    ['drops utm_ trackers by prefix', 'http://h/p?utm_source=a&utm_medium=b&q=1', 'http://h/p?q=1'],
    ['drops the query when nothing is left', 'http://h/p?jsessionid=1', 'http://h/p'],
    ['drops a ;jsessionid= path parameter', 'http://h/shop;jsessionid=ABC123/item.html?b&a', 'http://h/shop/item.html?a&b'],
    ['keeps other path parameters', 'http://h/a;v=2', 'http://h/a;v=2'],
    ['drops empty pieces', 'http://h/?a=1&&b=2&', 'http://h/?a=1&b=2'],
    ['sorts after normalising escapes', 'http://h/?%62=1&a=2', 'http://h/?a=2&b=1'],
    ['keeps a parameter that only starts like a session id', 'http://h/?sidebar=1', 'http://h/?sidebar=1'],
  ];
  for (const [name, input, expected] of cases) it(name, () => assert.equal(normalizeUrl(input, RULES), expected));

  it('keeps the query as sent without rules, and keeps the order with sortParams off', () => {
    assert.equal(normalizeUrl('http://h/?b=1&sid=2&a=3'), 'http://h/?b=1&sid=2&a=3');
    assert.equal(normalizeUrl('http://h/?b=1&sid=2&a=3', { sortParams: false, stripParams: ['sid'] }), 'http://h/?b=1&a=3');
  });
});

/** URLs with hostile paths and queries: traversal, backslashes, NUL, reserved names, case, long segments, params. */
const hostileSegment = fc.oneof(
  fc.constantFrom('..', '.', '%2e%2e', '%2E%2E%2F', '..%2f', '%5c..%5c', 'a\\b', '%00', 'CON', 'aux.html', 'nul.txt', 'Com1', 'A', 'a', ''),
  fc.string({ unit: 'binary', maxLength: 12 }).map(encodeURIComponent),
  fc.integer({ min: 200, max: 10_000 }).map((n) => 'x'.repeat(n)),
);
const hostileQuery = fc.array(
  fc.tuple(fc.constantFrom('a', 'b', 'B', 'sid', 'utm_x', 'q', '%00', '..'), fc.constantFrom('', '1', '../..', '%2F', 'x%5Cy')),
  { maxLength: 4 },
);
const hostileUrl = fc
  .tuple(fc.array(hostileSegment, { maxLength: 6 }), hostileQuery)
  .map(([segments, params]) => `http://h.test/${segments.join('/')}${params.length ? `?${params.map(([k, v]) => `${k}=${v}`).join('&')}` : ''}`);

describe('URL → path under query normalisation (property)', () => {
  it('is idempotent', () => {
    fc.assert(fc.property(hostileUrl, (url) => assert.equal(normalizeUrl(normalizeUrl(url, RULES), RULES), normalizeUrl(url, RULES))), { numRuns: 1000 });
  });

  it('keeps every path inside the host folder, with no part above 255 bytes, and maps distinct URLs apart', () => {
    fc.assert(
      fc.property(fc.array(hostileUrl, { minLength: 2, maxLength: 20 }), fc.constantFrom('text/html', 'text/css', 'image/png', ''), (urls, type) => {
        const owners = new Map<string, string>();
        for (const url of new Set(urls.map((one) => normalizeUrl(one, RULES)))) {
          const path = localPathFor(url, type);
          const parts = path.split('/');
          assert.equal(parts[0], 'h.test');
          for (const part of parts) {
            assert.ok(part !== '' && part !== '.' && part !== '..', `${url} ⇒ ${path}`);
            assert.ok(Buffer.byteLength(part) <= 255, `${url} ⇒ a part of ${Buffer.byteLength(part)} bytes`);
            assert.doesNotMatch(part, /[\\\x00<>:"|?*]/, `${url} ⇒ ${path}`);
          }
          // Two URLs may only share a file through the aliases localPathFor documents (/a/ and /a/index.html, …).
          const other = owners.get(path.toLowerCase());
          if (other !== undefined && other !== url) assert.ok(isDocumentedAlias(other, url), `${other} and ${url} share ${path}`);
          owners.set(path.toLowerCase(), url);
        }
      }),
      { numRuns: 500 },
    );
  });
});

/** localPathFor's documented aliases: /a/ ~ /a/index(.html), /a ~ /a.html (and .css), and case (the registry disambiguates). */
function isDocumentedAlias(a: string, b: string): boolean {
  const strip = (url: string) => url.toLowerCase().replace(/\/index(\.html?)?(?=$|\?)/, '/').replace(/\.(html?|css|png)(?=$|\?)/, '');
  return strip(a) === strip(b);
}

describe('Frontier with trap limits and query rules', () => {
  async function frontier() {
    const state = await openState({ outputDir: tempDirSync('traps-'), stateUrl: undefined, purpose: 'crawl' });
    const trapped: string[] = [];
    const f = new Frontier(state, new Scope('http://h.test/', DEFAULTS.scope), {
      depth: Infinity,
      maxPages: Infinity,
      traps: { ...DEFAULT_TRAP_LIMITS, maxQueryVariants: 3 },
      query: RULES,
      onTrap: (url) => trapped.push(url),
    });
    return { state, f, trapped };
  }

  it('stores one record for every spelling of a query, under its normalised URL', async () => {
    const { f, state } = await frontier();
    const parent = { id: 1, depth: 0 };
    const a = await f.offer('http://h.test/list?b=2&a=1&sid=77', 'page', 'html', parent);
    const b = await f.offer('http://h.test/list?a=1&utm_source=x&b=2', 'page', 'html', parent);
    assert.ok('record' in a && 'record' in b);
    assert.equal(a.record.id, b.record.id);
    assert.equal(a.record.url, 'http://h.test/list?a=1&b=2');
    assert.equal((await state.get('http://h.test/list?a=1&b=2'))?.id, a.record.id);
    await state.close();
  });

  it('records the URL past the query-variant limit as a trap skip, tells onTrap and keeps a sample for the report', async () => {
    const { f, state, trapped } = await frontier();
    const parent = { id: 1, depth: 0 };
    for (let month = 1; month <= 5; month++) await f.offer(`http://h.test/cal?month=${month}`, 'page', 'html', parent);
    assert.equal((await state.get('http://h.test/cal?month=3'))?.state, 'queued');
    assert.equal((await state.get('http://h.test/cal?month=4'))?.skip_reason, 'trap');
    assert.deepEqual(trapped, ['http://h.test/cal?month=4', 'http://h.test/cal?month=5']);
    assert.equal(f.trapSamples.length, 1);
    assert.equal(f.trapSamples[0]!.url, 'http://h.test/cal?month=4');
    // Other paths and the page without a query are not affected.
    assert.ok('record' in (await f.offer('http://h.test/cal', 'page', 'html', parent)));
    assert.equal((await state.get('http://h.test/cal'))?.state, 'queued');
    const calendar = (await f.offer('http://h.test/calendar?m=1', 'page', 'html', parent)) as { record: { url: string } };
    assert.equal((await state.get(calendar.record.url))?.state, 'queued');
    await state.close();
  });

  it('exempts the seed (no parent) from the trap checks', async () => {
    const { f, state } = await frontier();
    await f.offer('http://h.test/a/a/a/a/a/', 'page', 'html', null);
    assert.equal((await state.get('http://h.test/a/a/a/a/a/'))?.state, 'queued');
    await state.close();
  });
});
