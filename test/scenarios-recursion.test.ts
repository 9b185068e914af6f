// SCENARIOS.md §1, recursion: R-01 (basic recursion, robots.txt once), R-03 (depth counts link hops),
// R-09 (circular links and imports end), R-13 (query variants are separate files). Real server, real CLI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'cheerio';
import { startServer, serve, type FixtureServer } from './support/server.ts';
import { mirror, type Mirror } from './support/scenario.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';


function canonicalOf(site: string, path: string): string[] {
  const $ = load(readFileSync(join(site, path), 'utf8'));
  return $('link[rel=canonical]').map((_, link) => $(link).attr('href')).get();
}

function hrefs(site: string, path: string): string[] {
  const $ = load(readFileSync(join(site, path), 'utf8'));
  return $('a').map((_, a) => $(a).attr('href')).get();
}

describe('R-01 basic recursion across sibling folders', () => {
  let server: FixtureServer;
  let run: Mirror;

  before(async () => {
    server = await startServer({ root: 'scenarios/recursion/r01' });
    run = await mirror(server, '/a/File1.html');
  });
  after(() => server.close());

  it('exits 0 with nothing failed', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
  });

  it('saves the seed and both children under their folders, with the original bodies', () => {
    assert.deepEqual(listFiles(run.site), ['a/File1.html', 'a/File2.html', 'b/File3.html']);
    assert.match(readFileSync(join(run.site, 'a/File2.html'), 'utf8'), /With lemon or cream\?/);
    assert.match(readFileSync(join(run.site, 'b/File3.html'), 'utf8'), /Surely you are joking Mr\. Feynman/);
    assert.match(readFileSync(join(run.site, 'a/File1.html'), 'utf8'), /Some text and a link to a/);
  });

  // Ours differs from wget on purpose: robots.txt is read before the seed, because a seed that robots.txt
  // disallows is refused (B-01 variant b). The rest of R-01 holds: one robots.txt, then the children, nothing else.
  it('requests robots.txt once, then the seed, then the two children and nothing else', () => {
    const paths = server.paths();
    assert.deepEqual(paths.slice(0, 2), ['/robots.txt', '/a/File1.html']);
    assert.deepEqual(paths.slice(2).sort(), ['/a/File2.html', '/b/File3.html']);
  });

  it('rewrites root-relative links as paths relative to the page', () => {
    assert.deepEqual(hrefs(run.site, 'a/File1.html'), ['File2.html', '../b/File3.html']);
    assert.deepEqual(brokenLinks(run.site), []);
  });

  it('gives every page one canonical link to its origin URL', () => {
    for (const path of ['a/File1.html', 'a/File2.html', 'b/File3.html']) {
      assert.deepEqual(canonicalOf(run.site, path), [`${server.origin}/${path}`]);
    }
  });
});

describe('R-03 the depth limit counts link hops from the seed exactly', () => {
  // In crawl order: each level adds its text file and the next page down.
  const LEVELS = [
    'index.html',
    'level0.txt',
    'sub1/page.html',
    'sub1/level1.txt',
    'sub1/sub2/page.html',
    'sub1/sub2/level2.txt',
    'sub1/sub2/sub3/page.html',
    'sub1/sub2/sub3/level3.txt',
    'sub1/sub2/sub3/sub4/page.html',
  ];
  const filesAtDepth = (depth: number) => LEVELS.slice(0, 1 + 2 * depth).sort();
  let server: FixtureServer;

  before(async () => {
    server = await startServer({ root: 'scenarios/recursion/r03' });
  });
  after(() => server.close());

  for (const depth of [1, 2, 3, 4]) {
    it(`--depth ${depth} saves the pages and files ${depth} hop(s) away and requests nothing deeper`, async () => {
      const run = await mirror(server, '/index.html', ['--depth', String(depth)]);
      assert.equal(run.result.code, 0, run.result.stderr);
      assert.deepEqual(listFiles(run.site), filesAtDepth(depth));
      const expectedRequests = ['/robots.txt', ...filesAtDepth(depth).map((path) => `/${path}`)].sort();
      assert.deepEqual([...run.requested].sort(), expectedRequests);
      assert.deepEqual(brokenLinks(run.site), []);
    });
  }

  it('links past the limit point at the origin, links within it at the files', async () => {
    const run = await mirror(server, '/index.html', ['--depth', '2']);
    assert.deepEqual(hrefs(run.site, 'sub1/page.html'), ['level1.txt', 'sub2/page.html']);
    assert.deepEqual(hrefs(run.site, 'sub1/sub2/page.html'), [
      `${server.origin}/sub1/sub2/level2.txt`,
      `${server.origin}/sub1/sub2/sub3/page.html`,
    ]);
  });

  // wget2's `--level 0` means unlimited; ours means "the seed only" (hops from the seed), and no --depth is unlimited.
  it('--depth 0 saves the seed page only', async () => {
    const run = await mirror(server, '/index.html', ['--depth', '0']);
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(listFiles(run.site), ['index.html']);
    assert.deepEqual(run.requested, ['/robots.txt', '/index.html']);
    assert.deepEqual(hrefs(run.site, 'index.html'), [`${server.origin}/level0.txt`, `${server.origin}/sub1/page.html`]);
  });

  for (const args of [[], ['--depth', 'inf']]) {
    it(`${args.length === 0 ? 'no --depth' : '--depth inf'} saves all 9 files`, async () => {
      const run = await mirror(server, '/index.html', args);
      assert.equal(run.result.code, 0, run.result.stderr);
      assert.deepEqual(listFiles(run.site), [...LEVELS].sort());
      assert.deepEqual(brokenLinks(run.site), []);
    });
  }
});

describe('R-03 website-scraper variant: index → about → link1..3 → link1-1, link1-2', () => {
  let server: FixtureServer;

  before(async () => {
    server = await startServer({ root: 'scenarios/recursion/r03-scraper' });
  });
  after(() => server.close());

  it('--depth 2 stops before link1-1 and link1-2', async () => {
    const run = await mirror(server, '/index.html', ['--depth', '2']);
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(listFiles(run.site), ['about.html', 'index.html', 'link1.html', 'link2.html', 'link3.html']);
    assert.ok(!run.requested.some((path) => path.startsWith('/link1-')), run.requested.join(' '));
    assert.deepEqual(hrefs(run.site, 'link1.html'), [`${server.origin}/link1-1.html`, `${server.origin}/link1-2.html`]);
  });

  it('without recursion (--depth 0) only the seed page is saved', async () => {
    const run = await mirror(server, '/index.html', ['--depth', '0']);
    assert.deepEqual(listFiles(run.site), ['index.html']);
    assert.deepEqual(run.requested, ['/robots.txt', '/index.html']);
  });

  it('unlimited depth reaches link1-1 and link1-2', async () => {
    const run = await mirror(server, '/index.html');
    assert.deepEqual(listFiles(run.site), ['about.html', 'index.html', 'link1-1.html', 'link1-2.html', 'link1.html', 'link2.html', 'link3.html']);
  });
});

describe('R-09 circular links and circular CSS imports end', () => {
  let server: FixtureServer;
  let run: Mirror;

  before(async () => {
    server = await startServer({ root: 'scenarios/recursion/r09' });
    run = await mirror(server, '/index.html');
  });
  after(() => server.close());

  it('ends with each page and stylesheet saved once', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(listFiles(run.site), ['about.html', 'index.html', 'style.css', 'style2.css']);
  });

  it('fetches each URL once', () => {
    assert.deepEqual([...run.requested].sort(), ['/about.html', '/index.html', '/robots.txt', '/style.css', '/style2.css']);
  });

  it('rewrites each import to the other stylesheet relative path, and the rel-less <link> to its file', () => {
    assert.match(readFileSync(join(run.site, 'style.css'), 'utf8'), /@import url\("style2\.css"\);/);
    assert.match(readFileSync(join(run.site, 'style2.css'), 'utf8'), /@import url\("style\.css"\);/);
    const $ = load(readFileSync(join(run.site, 'about.html'), 'utf8'));
    assert.equal($('link:not([rel=canonical])').attr('href'), 'style.css');
    assert.deepEqual(hrefs(run.site, 'about.html'), ['index.html']);
    assert.deepEqual(hrefs(run.site, 'index.html'), ['about.html']);
    assert.deepEqual(brokenLinks(run.site), []);
  });
});

describe('R-13 query-string variants are separate pages', () => {
  const QUERY_BODY = '<!DOCTYPE html><html><head><title>Query</title></head><body><p>The page with b, c and d.</p></body></html>';
  let server: FixtureServer;
  let run: Mirror;

  before(async () => {
    server = await startServer({ root: 'scenarios/recursion/r13', routes: { '/?b=2&c=3&d=4': serve(QUERY_BODY) } });
    run = await mirror(server, '/');
  });
  after(() => server.close());

  it('requests the query with its entities decoded once', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual([...run.requested].sort(), ['/', '/?b=2&c=3&d=4', '/robots.txt']);
  });

  // Our naming rule (README "Output layout"): the query is kept after `@` in the name.
  it('saves the query variant as its own file and keeps the plain index intact', () => {
    assert.deepEqual(listFiles(run.site), ['index.html', 'index@b=2&c=3&d=4.html']);
    assert.match(readFileSync(join(run.site, 'index.html'), 'utf8'), /The plain index\./);
    assert.match(readFileSync(join(run.site, 'index@b=2&c=3&d=4.html'), 'utf8'), /The page with b, c and d\./);
  });

  it('rewrites the link in the index to the new file', () => {
    assert.deepEqual(hrefs(run.site, 'index.html'), ['index@b=2%26c=3%26d=4.html']);
    assert.deepEqual(brokenLinks(run.site), []);
  });

  it('gives the variant its own canonical URL with the query', () => {
    assert.deepEqual(canonicalOf(run.site, 'index@b=2&c=3&d=4.html'), [`${server.origin}/?b=2&c=3&d=4`]);
    assert.deepEqual(canonicalOf(run.site, 'index.html'), [`${server.origin}/`]);
  });
});
