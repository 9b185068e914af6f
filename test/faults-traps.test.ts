// Crawler traps end to end, with default options: an infinite calendar, ever-deeper relative links, ever-
// deeper distinct folders, session ids in links, one page under endless parameter orders (and --sort-query). Each must stop on its own,
// be named in the report, and leave the real pages beside it in a mirror that `verify` accepts.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crawlHostile, html, links, page, startHostileServer, type HostileCrawl, type HostileServer, type RouteHandler } from './support/hostile-server.ts';
import { listFiles } from './support/linkcheck.ts';

const servers: HostileServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

const REAL_PAGES = { '/about.html': page(html('About', '<p>about us</p>')), '/news.html': page(html('News', '<p>news</p>')) };

async function start(routes: Record<string, RouteHandler>, fallback?: RouteHandler): Promise<HostileServer> {
  const server = await startHostileServer({ ...REAL_PAGES, ...routes }, fallback);
  servers.push(server);
  return server;
}

/** A trap is a skip, not a failure: exit 0, the real pages saved, the trap counted and named, and a whole mirror. */
function assertTrapStopped(crawl: HostileCrawl, reason: RegExp): void {
  assert.equal(crawl.result.code, 0, crawl.result.stderr);
  assert.deepEqual(crawl.failed, []);
  for (const name of ['about.html', 'news.html']) assert.ok(existsSync(join(crawl.site, name)), `${name} is missing`);
  const trapEvents = crawl.skipped.filter((event) => event.reason === 'trap');
  assert.ok(trapEvents.length > 0, 'no skipped event with reason trap');
  assert.match(trapEvents[0]!.detail!, reason);
  assert.equal(crawl.summary.skipped.trap, trapEvents.length);
  const traps = crawl.summary.traps as { url: string; reason: string }[];
  assert.ok(traps.some((trap) => reason.test(trap.reason)), JSON.stringify(traps));
  assert.equal(crawl.verify.code, 0, crawl.verify.stdout);
}

describe('crawler traps, stopped by the default limits', () => {
  it('stops an infinite calendar after 1,000 months of one path, and keeps the real pages', async () => {
    const server = await start({ '/': page(html('Home', links(['/calendar?month=1', '/about.html', '/news.html']))) }, (req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname !== '/calendar') return void res.writeHead(404).end();
      const month = Number(url.searchParams.get('month'));
      const previous = month > 1 ? [`/calendar?month=${month - 1}`] : [];
      page(html(`Month ${month}`, links([`/calendar?month=${month + 1}`, ...previous, '/news.html'])))(req, res);
    });
    const crawl = await crawlHostile(server, '/', [], { timeoutMs: 60_000 });
    assertTrapStopped(crawl, /more than 1000 URLs of http:\/\/127\.0\.0\.1:\d+\/calendar differ only in their query \(--max-query-variants\)/);
    const months = server.paths().filter((path) => path.startsWith('/calendar'));
    assert.equal(months.length, 1000, `${months.length} calendar pages fetched`);
    assert.equal(new Set(months).size, 1000, 'each month is fetched once');
    // The link past the limit points at the origin, not at a file that does not exist.
    const last = readFileSync(join(crawl.site, 'calendar@month=1000.html'), 'utf8');
    assert.match(last, new RegExp(`href="${server.origin}/calendar\\?month=1001"`));
  });

  it('stops ever-deeper relative links to a soft 404 after the third repetition of a folder (X-02)', async () => {
    // MarginaliaSearch #110: any path that ends in /infra/www/ answers the same page, which links infra/www/.
    const trapPage = page(html('Infra', `${links(['infra/www/'])}${links(['/about.html', '/news.html'])}`));
    const server = await start({ '/': page(html('Home', links(['/infra/www/index.html']))) }, (req, res) =>
      /\/infra\/www\/(index\.html)?$/.test(req.url!) ? trapPage(req, res) : void res.writeHead(404).end(),
    );
    const crawl = await crawlHostile(server, '/');
    assertTrapStopped(crawl, /the segment "(infra|www)" occurs 4 times in the path, more than 3 \(--max-segment-repeats\)/);
    const trapRequests = server.paths().filter((path) => path.includes('/infra/'));
    assert.deepEqual(trapRequests, ['/infra/www/index.html', '/infra/www/infra/www/', '/infra/www/infra/www/infra/www/']);
    assert.ok(server.paths().length < 10, `${server.paths().length} requests: ${server.paths().join(' ')}`);
  });

  it('stops links that go one new folder deeper on every hop at 32 path segments', async () => {
    const server = await start({ '/': page(html('Home', links(['/d/1/']))) }, (req, res) => {
      const match = /^\/d\/((?:\d+\/)+)$/.exec(req.url!);
      if (!match) return void res.writeHead(404).end();
      const depth = match[1]!.split('/').length - 1;
      page(html(`Depth ${depth}`, links([`${depth + 1}/`, '/about.html', '/news.html'])))(req, res);
    });
    const crawl = await crawlHostile(server, '/');
    assertTrapStopped(crawl, /^33 path segments, more than 32 \(--max-path-segments\)/);
    const deepest = server.paths().filter((path) => path.startsWith('/d/')).map((path) => path.split('/').length - 2);
    assert.equal(Math.max(...deepest), 32);
  });

  it('drops session ids from links, so a site that mints a new one per view is crawled once per page', async () => {
    let minted = 0;
    const session = () => `${Date.now().toString(36)}${minted++}`;
    const withSessions = (title: string): RouteHandler => (req, res) =>
      page(
        html(title, links([`/a.html?sid=${session()}`, `/b.html;jsessionid=${session()}`, `/c.html?PHPSESSID=${session()}&utm_source=feed&lang=en`, '/about.html', '/news.html'])),
      )(req, res);
    const server = await start({}, (req, res) => {
      const path = new URL(req.url!, 'http://x').pathname.replace(/;.*$/, '');
      if (path === '/' || /^\/[abc]\.html$/.test(path)) return withSessions(path)(req, res);
      res.writeHead(404).end();
    });
    const crawl = await crawlHostile(server, '/');
    assert.equal(crawl.result.code, 0, crawl.result.stderr);
    const asked = server.paths().filter((path) => /^\/[abc]\.html/.test(path));
    assert.deepEqual(asked.sort(), ['/a.html', '/b.html', '/c.html?lang=en']);
    assert.deepEqual(listFiles(crawl.site), ['a.html', 'about.html', 'b.html', 'c.html@lang=en.html', 'index.html', 'news.html']);
    const $home = readFileSync(join(crawl.site, 'index.html'), 'utf8');
    assert.match($home, /href="a\.html"/);
    assert.match($home, /href="c\.html@lang=en\.html"/);
    assert.equal(crawl.verify.code, 0, crawl.verify.stdout);
  });

  it('stops a page linked under endless parameter orders at the per-path query limit', async () => {
    // Query order is kept by default (a server may answer another order differently), so the limit ends this one.
    const server = await start({}, (req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname !== '/' && url.pathname !== '/grid') return void res.writeHead(404).end();
      // Each page links its own parameters in every rotation plus one more: an endless family of orders.
      const params = [...url.searchParams.keys()];
      const next = [...params, `p${params.length}`];
      const rotations = next.map((_, i) => [...next.slice(i), ...next.slice(0, i)].map((name) => `${name}=1`).join('&'));
      page(html('Grid', links([...rotations.map((query) => `/grid?${query}`), '/about.html', '/news.html'])))(req, res);
    });
    // A lower limit than the default keeps this test small: every page here links longer and longer URLs.
    const crawl = await crawlHostile(server, '/', ['--max-query-variants', '100']);
    assertTrapStopped(crawl, /more than 100 URLs of http:\/\/127\.0\.0\.1:\d+\/grid differ only in their query/);
    assert.equal(server.paths().filter((path) => path.startsWith('/grid')).length, 100);
  });

  it('with --sort-query, fetches a page once whatever the order of its parameters, named by the sorted query', async () => {
    const permutations = (items: string[]): string[][] =>
      items.length <= 1 ? [items] : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
    const orders = permutations(['view=list', 'page=2', 'sort=date', 'q=x']).map((params) => `/search?${params.join('&')}`);
    const server = await start({ '/': page(html('Home', links([...orders, '/about.html', '/news.html']))) }, (req, res) =>
      req.url!.startsWith('/search?') ? page(html('Results', links(orders.slice(0, 5))))(req, res) : void res.writeHead(404).end(),
    );
    const crawl = await crawlHostile(server, '/', ['--sort-query']);
    assert.equal(crawl.result.code, 0, crawl.result.stderr);
    assert.deepEqual(server.paths().filter((path) => path.startsWith('/search')), ['/search?page=2&q=x&sort=date&view=list']);
    assert.ok(existsSync(join(crawl.site, 'search@page=2&q=x&sort=date&view=list.html')));
    const hrefs = [...readFileSync(join(crawl.site, 'index.html'), 'utf8').matchAll(/href="(search[^"]*)"/g)].map((match) => match[1]);
    assert.equal(hrefs.length, 24);
    assert.deepEqual(new Set(hrefs), new Set(['search@page=2%26q=x%26sort=date%26view=list.html']));
    assert.equal(crawl.verify.code, 0, crawl.verify.stdout);
  });
});
