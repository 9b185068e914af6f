// Network faults end to end: resets, short bodies, silence, trickles and an outage. Each crawl must end within its
// timeouts, name the failed URL and why, keep the good pages beside the fault, pass `verify`, and exit 1 on failure.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  crawlHostile,
  html,
  links,
  neverAnswer,
  page,
  resetMidBody,
  shortBody,
  startHostileServer,
  trickle,
  type HostileCrawl,
  type HostileServer,
  type RouteHandler,
} from './support/hostile-server.ts';

const servers: HostileServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

const LONG_PAGE = html('Long', `<p>${'lorem ipsum '.repeat(2000)}</p>`);

/** A home page linking two good pages and `/fault`, which `fault` answers. */
async function siteWithFault(fault: RouteHandler): Promise<HostileServer> {
  const server = await startHostileServer({
    '/': page(html('Home', links(['/good1.html', '/fault', '/good2.html']))),
    '/good1.html': page(html('Good 1', '<p>one</p>')),
    '/good2.html': page(html('Good 2', '<p>two</p>')),
    '/fault': fault,
  });
  servers.push(server);
  return server;
}

/** What every fault must leave: the good pages, a named failure, a whole mirror, exit 1. */
function assertSurvived(server: HostileServer, crawl: HostileCrawl, code: string, message: RegExp): void {
  assert.equal(crawl.result.code, 1, crawl.result.stderr);
  const failures = crawl.failed.map((event) => [event.url, event.code]);
  assert.deepEqual(failures, [[`${server.origin}/fault`, code]]);
  assert.match(crawl.failed[0]!.message!, message);
  assert.deepEqual(crawl.summary.failed.map((failure) => failure.code), [code]);
  for (const name of ['index.html', 'good1.html', 'good2.html']) assert.ok(existsSync(join(crawl.site, name)), `${name} is missing`);
  assert.ok(!existsSync(join(crawl.site, 'fault.html')) && !existsSync(join(crawl.site, 'fault')), 'nothing is saved for the fault');
  // The link to the fault points at the origin, so the mirror holds no broken link.
  assert.match(readFileSync(join(crawl.site, 'index.html'), 'utf8'), new RegExp(`href="${server.origin}/fault"`));
  assert.equal(crawl.verify.code, 0, crawl.verify.stdout);
}

describe('network faults', () => {
  it('reports a connection reset in the middle of a body as NETWORK after one retry', async () => {
    const server = await siteWithFault(resetMidBody(LONG_PAGE, 1000));
    const crawl = await crawlHostile(server, '/');
    assertSurvived(server, crawl, 'NETWORK', /network error fetching .*\/fault/);
    assert.equal(server.count('/fault'), 2);
  });

  it('reports a body shorter than its Content-Length as NETWORK, and saves nothing of it', async () => {
    const server = await siteWithFault(shortBody(LONG_PAGE, 5000));
    const crawl = await crawlHostile(server, '/');
    assertSurvived(server, crawl, 'NETWORK', /network error fetching .*\/fault/);
    assert.equal(server.count('/fault'), 2);
  });

  it('times out a server that accepts and never answers, within the read timeout of each try', async () => {
    const server = await siteWithFault(neverAnswer());
    const crawl = await crawlHostile(server, '/');
    assertSurvived(server, crawl, 'TIMEOUT', /no response from .*\/fault within 1000 ms/);
    assert.equal(server.count('/fault'), 2);
    // Two tries of 1 s plus a backoff of about 0.5 s, plus start-up: well under the 20 s that counts as a hang.
    assert.ok(crawl.durationMs < 8000, `took ${crawl.durationMs} ms`);
  });

  it('stops a body that trickles forever once it takes longer than --max-fetch-time', async () => {
    // One byte every 300 ms never trips the 1 s read timeout; only a limit on the whole download ends it.
    const server = await siteWithFault(trickle(300));
    const crawl = await crawlHostile(server, '/', ['--max-fetch-time', '1500ms', '--retries', '0']);
    assertSurvived(server, crawl, 'TIMEOUT', /\/fault did not complete within 1500 ms/);
    assert.ok(crawl.durationMs < 8000, `took ${crawl.durationMs} ms`);
  });

  it('times out a body that pauses longer than the read timeout mid-body', async () => {
    const server = await siteWithFault(trickle(1500));
    const crawl = await crawlHostile(server, '/');
    assertSurvived(server, crawl, 'TIMEOUT', /\/fault sent nothing for 1000 ms mid-body/);
  });
});

describe('a server that goes away in the middle of the crawl and comes back', () => {
  const PAGES = 8;
  /** A chain of pages p0 → p1 → …; asking for p3 takes the whole server down for `outageMs`. */
  async function chainWithOutage(outageMs: number): Promise<HostileServer & { back: Promise<void> }> {
    const routes: Record<string, RouteHandler> = { '/': page(html('Home', links(['/p0.html']))) };
    for (let i = 0; i < PAGES; i++) routes[`/p${i}.html`] = page(html(`Page ${i}`, i + 1 < PAGES ? links([`/p${i + 1}.html`]) : '<p>end</p>'));
    const server = await startHostileServer(routes);
    let down = false;
    let cameBack = () => {};
    const back = new Promise<void>((resolve) => (cameBack = resolve));
    server.route('/p3.html', (req, res) => {
      if (!down) {
        down = true;
        req.socket.destroy();
        void server.goAway().then(() => setTimeout(() => void server.comeBack().then(cameBack), outageMs));
        return;
      }
      page(html('Page 3', links(['/p4.html'])))(req, res);
    });
    servers.push(server);
    return Object.assign(server, { back });
  }

  it('bridges a short outage with its retry and mirrors every page', async () => {
    // The retry waits about 400-500 ms (backoff with jitter); the server is back after 150 ms.
    const server = await chainWithOutage(150);
    const crawl = await crawlHostile(server, '/');
    assert.equal(crawl.result.code, 0, crawl.result.stderr);
    assert.deepEqual(crawl.failed, []);
    for (let i = 0; i < PAGES; i++) assert.ok(existsSync(join(crawl.site, `p${i}.html`)), `p${i}.html`);
    assert.equal(crawl.verify.code, 0, crawl.verify.stdout);
  });

  it('reports a longer outage, keeps what it had, and a second run fetches the rest once the server is back', async () => {
    const server = await chainWithOutage(2000);
    const first = await crawlHostile(server, '/');
    assert.equal(first.result.code, 1, first.result.stderr);
    assert.deepEqual(first.failed.map((event) => [event.url, event.code]), [[`${server.origin}/p3.html`, 'NETWORK']]);
    assert.match(first.failed[0]!.message!, /ECONNREFUSED|socket|closed/);
    for (const name of ['index.html', 'p0.html', 'p1.html', 'p2.html']) assert.ok(existsSync(join(first.site, name)), name);
    assert.ok(!existsSync(join(first.site, 'p3.html')));
    assert.equal(first.verify.code, 0, first.verify.stdout);

    await server.back;
    const second = await crawlHostile(server, '/', [], { output: first.output });
    assert.equal(second.result.code, 0, second.result.stderr);
    for (let i = 0; i < PAGES; i++) assert.ok(existsSync(join(second.site, `p${i}.html`)), `p${i}.html`);
    assert.match(readFileSync(join(second.site, 'p2.html'), 'utf8'), /href="p3\.html"/);
    assert.equal(server.count('/p0.html'), 1, 'pages already mirrored are not fetched again');
    assert.equal(second.verify.code, 0, second.verify.stdout);
  });
});
