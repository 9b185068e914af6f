// HTTP-level faults end to end: streaks of 5xx followed by recovery, 429 with Retry-After (seconds and a date),
// redirect loops, chains over the limit, redirects to another host and to other schemes. Each crawl must end,
// name what failed and why, keep the good pages, pass `verify`, exit 1 when something failed, and a later run
// must pick up what recovered. (D-07 and D-01 in scenarios-*.test.ts cover the basic cases of each.)
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { crawlHostile, html, links, page, startHostileServer, streak, type HostileCrawl, type HostileServer, type RouteHandler } from './support/hostile-server.ts';

const servers: HostileServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

async function start(routes: Record<string, RouteHandler>): Promise<HostileServer> {
  const server = await startHostileServer({ '/good.html': page(html('Good', '<p>good</p>')), ...routes });
  servers.push(server);
  return server;
}

const home = (targets: string[]) => page(html('Home', links([...targets, '/good.html'])));
const ok = (title: string) => page(html(title, `<p>${title}</p>`));
const redirect = (location: string, status = 302): RouteHandler => (_req, res) => void res.writeHead(status, { location }).end();

function assertWhole(crawl: HostileCrawl): void {
  assert.ok(existsSync(join(crawl.site, 'good.html')), 'the good page beside the fault is missing');
  assert.equal(crawl.verify.code, 0, crawl.verify.stdout);
}

function failures(crawl: HostileCrawl): [string, string][] {
  return crawl.failed.map((event) => [new URL(event.url!).pathname, event.code!]).sort() as [string, string][];
}

describe('streaks of 5xx', () => {
  it('rides out a 500, 502 streak within its retries and saves the page', async () => {
    const server = await start({ '/': home(['/flaky.html']), '/flaky.html': streak([500, 502], ok('Flaky')) });
    const crawl = await crawlHostile(server, '/', ['--retries', '2']);
    assert.equal(crawl.result.code, 0, crawl.result.stderr);
    assert.equal(server.count('/flaky.html'), 3);
    assert.match(readFileSync(join(crawl.site, 'flaky.html'), 'utf8'), /Flaky/);
    assertWhole(crawl);
  });

  it('reports a streak longer than its retries, and a later run fetches the page once the server recovered', async () => {
    const server = await start({ '/': home(['/flaky.html']), '/flaky.html': streak([503, 500, 502], ok('Flaky')) });
    const first = await crawlHostile(server, '/');
    assert.equal(first.result.code, 1, first.result.stderr);
    assert.deepEqual(failures(first), [['/flaky.html', 'HTTP_STATUS']]);
    assert.match(first.failed[0]!.message!, /HTTP 500 for .*\/flaky\.html/);
    assert.match(first.result.stdout, /"event":"summary"/);
    assertWhole(first);
    assert.equal(server.count('/flaky.html'), 2);

    const second = await crawlHostile(server, '/', [], { output: first.output });
    assert.equal(second.result.code, 0, second.result.stderr);
    assert.ok(existsSync(join(second.site, 'flaky.html')));
    assert.match(readFileSync(join(second.site, 'index.html'), 'utf8'), /href="flaky\.html"/);
    assert.equal(server.count('/'), 1, 'the pages already mirrored are not fetched again');
    assertWhole(second);
  });
});

describe('429 Too Many Requests', () => {
  it('waits as long as Retry-After says, in seconds and as an HTTP date, then saves the pages', async () => {
    const askedAt = new Map<string, number[]>();
    const busyOnce = (retryAfter: () => string): RouteHandler => (req, res) => {
      const times = [...(askedAt.get(req.url!) ?? []), performance.now()];
      askedAt.set(req.url!, times);
      if (times.length === 1) return void res.writeHead(429, { 'retry-after': retryAfter(), 'content-type': 'text/plain' }).end('slow down');
      ok(req.url!)(req, res);
    };
    // A date has whole seconds: three seconds ahead means a wait of more than two.
    const server = await start({
      '/': home(['/seconds.html', '/date.html']),
      '/seconds.html': busyOnce(() => '1'),
      '/date.html': busyOnce(() => new Date(Date.now() + 3000).toUTCString()),
    });
    const crawl = await crawlHostile(server, '/');
    assert.equal(crawl.result.code, 0, crawl.result.stderr);
    for (const [path, atLeastMs] of [['/seconds.html', 990], ['/date.html', 1900]] as const) {
      const [first, second] = askedAt.get(path)!;
      const waited = second! - first!;
      // The backoff alone waits about 400-500 ms.
      assert.ok(waited >= atLeastMs && waited < 5000, `${path}: waited ${waited.toFixed(0)} ms`);
      assert.ok(existsSync(join(crawl.site, path.slice(1))));
    }
    assertWhole(crawl);
  });

  it('reports a 429 that lasts past the retries, and keeps the rest', async () => {
    const server = await start({
      '/': home(['/always-busy.html']),
      '/always-busy.html': page('busy', 'text/plain', 429, { 'retry-after': '0' }),
    });
    const crawl = await crawlHostile(server, '/');
    assert.equal(crawl.result.code, 1, crawl.result.stderr);
    assert.deepEqual(failures(crawl), [['/always-busy.html', 'HTTP_STATUS']]);
    assert.match(crawl.failed[0]!.message!, /HTTP 429/);
    assert.equal(server.count('/always-busy.html'), 2);
    assertWhole(crawl);
  });
});

describe('hostile redirects', () => {
  let server: HostileServer;
  let crawl: HostileCrawl;
  const other = 'http://other.invalid';

  it('crawls a site full of bad redirects to its end', async () => {
    const routes: Record<string, RouteHandler> = {
      '/': home(['/loop-a.html', '/chain0.html', '/elsewhere.html', '/ftp.html', '/js.html', '/file.html', '/fine.html']),
      '/loop-a.html': redirect('/loop-b.html'),
      '/loop-b.html': redirect('/loop-a.html'),
      '/elsewhere.html': redirect(`${other}/page.html`, 301),
      '/ftp.html': redirect('ftp://127.0.0.1/file.txt'),
      '/js.html': redirect('javascript:alert(1)'),
      '/file.html': redirect('file:///etc/passwd'),
      '/fine.html': redirect('/good.html', 301),
    };
    // chain0 → chain1 → … → chain14: longer than --max-redirects 10.
    for (let i = 0; i < 15; i++) routes[`/chain${i}.html`] = redirect(`/chain${i + 1}.html`);
    server = await start(routes);
    crawl = await crawlHostile(server, '/');
    assert.equal(crawl.result.code, 1, crawl.result.stderr);
    assertWhole(crawl);
  });

  it('names each bad redirect with its reason', () => {
    assert.deepEqual(failures(crawl), [
      ['/chain0.html', 'TOO_MANY_REDIRECTS'],
      ['/file.html', 'BAD_REDIRECT'],
      ['/ftp.html', 'BAD_REDIRECT'],
      ['/js.html', 'BAD_REDIRECT'],
      // Reported where the loop closes; the message names both URLs.
      ['/loop-b.html', 'REDIRECT_LOOP'],
    ]);
    const message = (path: string) => crawl.failed.find((event) => event.url === `${server.origin}${path}`)!.message!;
    assert.match(message('/chain0.html'), /more than 10 redirects/);
    assert.match(message('/loop-b.html'), /redirect loop: .*\/loop-b\.html leads back to itself through .*\/loop-a\.html/);
    assert.match(message('/ftp.html'), /a ftp: Location/);
    assert.match(message('/file.html'), /a file: Location/);
  });

  it('asks each URL of a loop or chain once, and never follows a redirect to another host or scheme', () => {
    for (const path of ['/loop-a.html', '/loop-b.html', '/chain0.html', '/chain10.html']) assert.equal(server.count(path), 1, path);
    assert.equal(server.count('/chain11.html'), 0);
    assert.deepEqual(server.paths().filter((path) => /etc|passwd|file\.txt/.test(path)), []);
  });

  it('counts a redirect to another host as out of scope, not as a failure, and links it at its origin URL', () => {
    assert.ok(crawl.summary.skipped['out-of-scope']! >= 1);
    const index = readFileSync(join(crawl.site, 'index.html'), 'utf8');
    assert.match(index, new RegExp(`href="${server.origin}/elsewhere\\.html"`));
    assert.match(index, new RegExp(`href="${server.origin}/loop-a\\.html"`));
    // A redirect within the site points straight at its target's file.
    assert.match(index, /<a href="good\.html">\/fine\.html<\/a>/);
  });
});
