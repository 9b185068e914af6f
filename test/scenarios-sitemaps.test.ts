// SCENARIOS.md R-11: sitemap seeding (robots.txt Sitemap: → sitemap index → gzipped urlset) and its variants.
// Sitemaps give seeds, not permission: robots, exclude, same-host and no-parent still decide. Real servers, real CLI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { load } from 'cheerio';
import { FIXTURES, serve, startServer, type FixtureServer, type RouteHandler } from './support/server.ts';
import { mirror, type Mirror } from './support/scenario.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';

const FIXTURE = 'scenarios/recursion/r11';


/** A sitemap template from the fixture, with this server's origin and the off-host server's filled in. */
function sitemapRoute(file: string, offHost: string, gzip = false): RouteHandler {
  return (req, res) => {
    const origin = `http://${req.headers.host}`;
    const xml = readFileSync(join(FIXTURES, FIXTURE, file), 'utf8').replaceAll('{{ORIGIN}}', origin).replaceAll('{{OFFHOST}}', offHost);
    res.writeHead(200, { 'content-type': gzip ? 'application/gzip' : 'application/xml' });
    res.end(gzip ? gzipSync(xml) : xml);
  };
}

function urlset(paths: string[]): RouteHandler {
  return (req, res) => {
    const locs = paths.map((path) => `<url><loc>http://${req.headers.host}${path}</loc></url>`).join('\n');
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${locs}\n</urlset>\n`);
  };
}

const robots = (text: string) => serve(text, 'text/plain');

describe('R-11 sitemap seeding', () => {
  let offHost: FixtureServer;
  let server: FixtureServer;

  before(async () => {
    offHost = await startServer();
    server = await startServer({
      root: FIXTURE,
      routes: {
        '/sitemapdir/index.xml': sitemapRoute('sitemapdir/index.xml', offHost.origin),
        '/sitemapdir/pages.xml.gz': sitemapRoute('sitemapdir/pages.xml', offHost.origin, true),
      },
    });
  });
  after(async () => {
    await server.close();
    await offHost.close();
  });

  describe('with --sitemaps', () => {
    let run: Mirror;

    before(async () => {
      // --depth 1 rather than the peer's -r2: deep1 is two hops from start.html through an orphan, so it can only
      // be saved if the sitemap URLs are seeds with the full budget; deep2 proves the budget still ends.
      run = await mirror(server, '/sitemapdir/start.html', ['--sitemaps', '--depth', '1']);
    });

    it('saves the orphan pages and the page one link below them', () => {
      assert.equal(run.result.code, 0, run.result.stderr);
      assert.deepEqual(listFiles(run.site), ['sitemapdir/deep1.html', 'sitemapdir/orphan1.html', 'sitemapdir/orphan2.html', 'sitemapdir/start.html']);
      assert.ok(!run.requested.includes('/sitemapdir/deep2.html'), 'deep2 is two hops from a sitemap seed');
      assert.deepEqual(brokenLinks(run.site), []);
    });

    it('reads robots.txt, the index and the gzipped urlset once each, and saves none of them', () => {
      for (const path of ['/robots.txt', '/sitemapdir/index.xml', '/sitemapdir/pages.xml.gz']) {
        assert.equal(run.requested.filter((requested) => requested === path).length, 1, path);
      }
      assert.ok(!listFiles(run.site).some((path) => /\.(xml|gz|txt)$/.test(path)), listFiles(run.site).join(' '));
    });

    it('fetches neither the off-host child sitemap nor the off-host page', () => {
      assert.deepEqual(offHost.paths(), []);
    });

    it('does not fetch a sitemap URL that robots.txt disallows', () => {
      assert.ok(!run.requested.includes('/sitemapdir/private.html'), run.requested.join(' '));
    });

    it('rewrites the orphan link to the deeper page and gives the orphans their canonical URL', () => {
      const $ = load(readFileSync(join(run.site, 'sitemapdir/orphan1.html'), 'utf8'));
      assert.equal($('a').attr('href'), 'deep1.html');
      assert.equal($('link[rel=canonical]').attr('href'), `${server.origin}/sitemapdir/orphan1.html`);
    });
  });

  it('(a) without --sitemaps mirrors only the start page and reads no sitemap', async () => {
    const run = await mirror(server, '/sitemapdir/start.html', ['--depth', '1']);
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(listFiles(run.site), ['sitemapdir/start.html']);
    assert.deepEqual(run.requested, ['/robots.txt', '/sitemapdir/start.html']);
  });

  it('(b) an --exclude rule matching orphan2 wins over the sitemap', async () => {
    const run = await mirror(server, '/sitemapdir/start.html', ['--sitemaps', '--depth', '1', '--exclude', 'orphan2']);
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(listFiles(run.site), ['sitemapdir/deep1.html', 'sitemapdir/orphan1.html', 'sitemapdir/start.html']);
    assert.ok(!run.requested.includes('/sitemapdir/orphan2.html'), run.requested.join(' '));
  });
});

describe('R-11 (c) robots.txt without a Sitemap: line', () => {
  let server: FixtureServer;

  before(async () => {
    server = await startServer({
      root: FIXTURE,
      routes: { '/robots.txt': robots('User-agent: *\nDisallow:\n'), '/sitemap.xml': urlset(['/sitemapdir/orphan2.html']) },
    });
  });
  after(() => server.close());

  it('falls back to /sitemap.xml', async () => {
    const run = await mirror(server, '/sitemapdir/start.html', ['--sitemaps']);
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.ok(run.requested.includes('/sitemap.xml'), run.requested.join(' '));
    assert.ok(!run.requested.includes('/sitemapdir/index.xml'), 'index.xml is only named by the other robots.txt');
    assert.deepEqual(listFiles(run.site), ['sitemapdir/orphan2.html', 'sitemapdir/start.html']);
  });
});

describe('R-11 (d) a chain of nested sitemap indexes', () => {
  const CHAIN = 10;
  let server: FixtureServer;
  let run: Mirror;

  before(async () => {
    // nestN.xml is an index listing nest(N+1).xml and leafN.xml; leafN.xml lists nestedN.html.
    const routes: Record<string, RouteHandler> = { '/robots.txt': robots('User-agent: *\nDisallow:\nSitemap: /nest0.xml\n') };
    for (let n = 0; n < CHAIN; n++) {
      routes[`/nest${n}.xml`] = (req, res) => {
        const origin = `http://${req.headers.host}`;
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` +
            `<sitemap><loc>${origin}/nest${n + 1}.xml</loc></sitemap><sitemap><loc>${origin}/leaf${n}.xml</loc></sitemap></sitemapindex>\n`,
        );
      };
      routes[`/leaf${n}.xml`] = urlset([`/sitemapdir/nested${n}.html`]);
      routes[`/sitemapdir/nested${n}.html`] = serve(`<!DOCTYPE html><title>Nested ${n}</title><p>Listed ${n + 1} levels down.</p>`);
    }
    server = await startServer({ root: FIXTURE, routes });
    run = await mirror(server, '/sitemapdir/start.html', ['--sitemaps', '--depth', '0']);
  });
  after(() => server.close());

  const fetchedIndexes = () => run.requested.filter((path) => /^\/nest\d+\.xml$/.test(path));

  it('stops at a fixed nesting limit, with a warning that names it', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    const indexes = fetchedIndexes();
    assert.ok(indexes.length >= 2 && indexes.length < CHAIN, `followed ${indexes.join(' ')}`);
    assert.deepEqual(indexes, indexes.map((_, n) => `/nest${n}.xml`), 'the chain is read in order from its top');
    assert.match(run.result.stderr, /sitemap index \S+\/nest\d+\.xml nests deeper than \d+ level/);
  });

  it('still seeds the pages of every urlset within the limit', () => {
    // The last index read is at the limit: its children are not read, the others' leaves are.
    const withinLimit = fetchedIndexes().length - 1;
    const expected = Array.from({ length: withinLimit }, (_, n) => `sitemapdir/nested${n}.html`);
    assert.deepEqual(listFiles(run.site), [...expected, 'sitemapdir/start.html'].sort());
  });
});

describe('R-11 (e) a site-root sitemap does not widen a crawl limited to a sub-path', () => {
  let server: FixtureServer;

  before(async () => {
    server = await startServer({
      root: FIXTURE,
      routes: {
        '/robots.txt': robots('User-agent: *\nDisallow:\nSitemap: /sitemap.xml\n'),
        '/sitemap.xml': urlset(['/above.html', '/sitemapdir/orphan1.html']),
      },
    });
  });
  after(() => server.close());

  it('refuses the sitemap pages above the seed folder and keeps those below it', async () => {
    const run = await mirror(server, '/sitemapdir/start.html', ['--sitemaps', '--no-parent', '--depth', '0']);
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.ok(run.requested.includes('/sitemap.xml'), 'the root sitemap itself may be read');
    assert.ok(!run.requested.includes('/above.html'), run.requested.join(' '));
    assert.deepEqual(listFiles(run.site), ['sitemapdir/orphan1.html', 'sitemapdir/start.html']);
  });
});
