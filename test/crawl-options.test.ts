// Politeness and crawl options through the real CLI: crawl-delay, per-host limit, nofollow, filters, limits, headers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Database from 'better-sqlite3';
import { serve, startServer, type RouteHandler } from './support/server.ts';
import { runCli, tempDir } from './support/cli.ts';

const html = (body: string) => `<!doctype html><html><head><title>t</title></head><body>${body}</body></html>`;
const links = (paths: string[]) => paths.map((path) => `<a href="${path}">${path}</a>`).join(' ');

/** A site of n pages, all linked from the home page, each answering after delayMs while counting concurrent requests. */
function countingSite(n: number, delayMs: number) {
  let active = 0;
  const stats = { peak: 0, starts: [] as number[] };
  const page: (body: string) => RouteHandler = (body) => async (_req: IncomingMessage, res: ServerResponse) => {
    active++;
    stats.peak = Math.max(stats.peak, active);
    stats.starts.push(Date.now());
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    active--;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html(body));
  };
  const pages = Array.from({ length: n }, (_, i) => `/p${i}.html`);
  const routes: Record<string, RouteHandler> = { '/': page(links(pages)) };
  for (const path of pages) routes[path] = page(`<p>${path}</p>`);
  return { routes, stats };
}

/** Crawls a counting site of n pages answering after delayMs, with these extra options. */
async function crawlCountingSite(n: number, delayMs: number, options: string[]) {
  const site = countingSite(n, delayMs);
  const server = await startServer({ routes: site.routes });
  const output = await tempDir();
  const result = await runCli(['crawl', `${server.origin}/`, '-o', output, ...options, '--quiet']);
  await server.close();
  return { site, server, output, result };
}

describe('politeness', () => {
  it('never has more requests in flight to one host than --per-host', async () => {
    const { site, server, output, result } = await crawlCountingSite(12, 40, ['--concurrency', '8', '--per-host', '2']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(site.stats.peak, 2);
    assert.ok(existsSync(join(output, server.hostFolder, 'p11.html')));
  });

  it('prints no listener-leak warning with more than ten requests in flight', async () => {
    const { site, result } = await crawlCountingSite(24, 40, ['--concurrency', '12', '--per-host', '12']);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(site.stats.peak > 10, `only ${site.stats.peak} requests were in flight at once`);
    assert.doesNotMatch(result.stderr, /MaxListenersExceeded/);
  });

  it('honours the robots.txt crawl-delay between requests to a host', async () => {
    const site = countingSite(3, 0);
    const server = await startServer({ routes: { ...site.routes, '/robots.txt': serve('User-agent: *\nCrawl-delay: 0.4\n', 'text/plain') } });
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '--quiet']);
    await server.close();
    assert.equal(result.code, 0, result.stderr);
    const gaps = site.stats.starts.slice(1).map((start, i) => start - site.stats.starts[i]!);
    assert.equal(gaps.length, 3);
    for (const gap of gaps) assert.ok(gap >= 380, `gap of ${gap} ms is shorter than the 400 ms crawl-delay`);
  });

  it('does not follow links from a page that says nofollow, in a meta tag or a header', async () => {
    const server = await startServer({
      routes: {
        '/': serve(html(links(['/meta.html', '/header.html']))),
        '/meta.html': serve(`<!doctype html><head><meta name="robots" content="noindex, nofollow"></head><body>${links(['/from-meta.html'])}<img src="/pic.gif"></body>`),
        '/header.html': serve(html(links(['/from-header.html'])), 'text/html', 200, { 'x-robots-tag': 'nofollow' }),
        '/from-meta.html': serve(html('x')),
        '/from-header.html': serve(html('x')),
        '/pic.gif': serve(Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'), 'image/gif'),
      },
    });
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '--quiet']);
    await server.close();
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!server.paths().includes('/from-meta.html'));
    assert.ok(!server.paths().includes('/from-header.html'));
    assert.ok(server.paths().includes('/pic.gif'), 'requisites of a nofollow page are still fetched');
    const meta = readFileSync(join(output, server.hostFolder, 'meta.html'), 'utf8');
    assert.match(meta, new RegExp(`href="${server.origin}/from-meta.html"`));
  });

  it('warns loudly with --ignore-robots and then fetches disallowed pages', async () => {
    const server = await startServer({
      routes: {
        '/robots.txt': serve('User-agent: *\nDisallow: /\n', 'text/plain'),
        '/': serve(html(links(['/secret.html']))),
        '/secret.html': serve(html('secret')),
      },
    });
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '--ignore-robots']);
    await server.close();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /warning: --ignore-robots/);
    assert.ok(!server.paths().includes('/robots.txt'));
    assert.ok(server.paths().includes('/secret.html'));
  });
});

describe('crawl options', () => {
  const site = () =>
    startServer({
      routes: {
        '/': serve(html(links(['/a.html', '/b.html', '/c.html', '/big.bin']))),
        '/a.html': serve(html('a')),
        '/b.html': serve(html('b')),
        '/c.html': serve(html('c')),
        '/big.bin': serve(Buffer.alloc(300 * 1024, 1), 'application/octet-stream'),
      },
    });

  it('stops at --max-pages and records the rest as skipped', async () => {
    const server = await site();
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '--max-pages', '2', '--json']);
    await server.close();
    const pages = server.paths().filter((path) => path.endsWith('.html') || path === '/');
    assert.equal(pages.length, 2);
    // Without credentials the state folder is made as any other folder.
    mkdirSync(join(output, 'probe'));
    assert.equal(statSync(join(output, '.sitemirror')).mode & 0o777, statSync(join(output, 'probe')).mode & 0o777);
    const summary = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).find((event) => event.event === 'summary');
    // b.html, c.html and big.bin: every followed link counts, since its type is known only after the fetch.
    assert.deepEqual((summary as { skipped: Record<string, number> }).skipped['max-pages'], 3);
  });

  it('applies --exclude to every URL and --include to pages', async () => {
    const server = await site();
    const output = await tempDir();
    await runCli(['crawl', `${server.origin}/`, '-o', output, '--exclude', 'b\\.html$', '--exclude', '\\.bin$', '--quiet']);
    await server.close();
    assert.deepEqual(server.paths().filter((path) => path !== '/robots.txt').sort(), ['/', '/a.html', '/c.html']);
    assert.match(readFileSync(join(output, server.hostFolder, 'index.html'), 'utf8'), new RegExp(`href="${server.origin}/b.html"`));
  });

  it('stops a response larger than --max-file-size and reports it', async () => {
    const server = await site();
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '--max-file-size', '100k']);
    await server.close();
    assert.equal(result.code, 1);
    assert.match(result.stderr, /big\.bin/);
    assert.ok(!existsSync(join(output, server.hostFolder, 'big.bin')));
  });

  it('sends the user agent, extra headers and the cookie', async () => {
    const server = await site();
    const output = await tempDir();
    await runCli(['crawl', `${server.origin}/`, '-o', output, '--user-agent', 'TestBot/2.0', '--header', 'X-Mirror: yes', '--cookie', 'session=abc', '--depth', '0', '--quiet']);
    await server.close();
    const home = server.requests.find((request) => request.url === '/')!;
    assert.equal(home.headers['user-agent'], 'TestBot/2.0');
    assert.equal(home.headers['x-mirror'], 'yes');
    assert.equal(home.headers.cookie, 'session=abc');
    // The state keeps the cookie for `update`: only its owner may read it.
    assert.equal(statSync(join(output, '.sitemirror')).mode & 0o777, 0o700);
  });

  it('sends the cookie and an Authorization header to the seed\'s site only, not to an --allow-host CDN', async () => {
    const cdn = await startServer({ routes: { '/lib.css': serve('body { color: teal }', 'text/css') } });
    // The CDN by another name for the same machine: credentials follow hostnames, as cookies do.
    const cdnOrigin = cdn.origin.replace('127.0.0.1', 'localhost');
    const server = await startServer({
      routes: { '/': serve(`<!doctype html><title>Home</title><link rel="stylesheet" href="${cdnOrigin}/lib.css"><p>home</p>`) },
    });
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '--cookie', 'session=abc', '--header', 'Authorization: Bearer secret', '--allow-host', new URL(cdnOrigin).host]);
    await server.close();
    await cdn.close();
    assert.equal(result.code, 0, result.stderr);
    const home = server.requests.find((request) => request.url === '/')!;
    assert.equal(home.headers.cookie, 'session=abc');
    assert.equal(home.headers.authorization, 'Bearer secret');
    const css = cdn.requests.find((request) => request.url === '/lib.css');
    assert.ok(css, 'the stylesheet was fetched from the CDN');
    assert.equal(css.headers.cookie, undefined);
    assert.equal(css.headers.authorization, undefined);
  });

  it('signs in with HTTP Basic from user:password@ in the seed, to the site only, and records no password', async () => {
    const cdn = await startServer({ routes: { '/lib.css': serve('body { color: teal }', 'text/css') } });
    const cdnOrigin = cdn.origin.replace('127.0.0.1', 'localhost');
    const expected = `Basic ${Buffer.from('ann:s3cret').toString('base64')}`;
    const guarded = (body: string): RouteHandler => (req: IncomingMessage, res: ServerResponse) => {
      if (req.headers.authorization !== expected) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="intranet"' }).end('sign in\n');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    };
    const server = await startServer({
      routes: {
        '/': guarded(`<!doctype html><title>Home</title><link rel="stylesheet" href="${cdnOrigin}/lib.css"><a href="/b.html">b</a>`),
        '/b.html': guarded('<!doctype html><title>B</title><p>Behind the sign-in.</p>'),
      },
    });
    const output = await tempDir();
    const seed = server.origin.replace('http://', 'http://ann:s3cret@');
    const result = await runCli(['crawl', `${seed}/`, '-o', output, '--allow-host', new URL(cdnOrigin).host, '--json']);
    await server.close();
    await cdn.close();
    assert.equal(result.code, 0, result.stderr);
    assert.match(readFileSync(join(output, server.hostFolder, 'b.html'), 'utf8'), /Behind the sign-in/);
    assert.equal(cdn.requests.find((request) => request.url === '/lib.css')?.headers.authorization, undefined);
    assert.doesNotMatch(result.stdout + result.stderr, /s3cret/);
    const db = new Database(join(output, '.sitemirror', 'state.db'), { readonly: true });
    const urls = db.prepare('SELECT url FROM urls').all() as { url: string }[];
    db.close();
    assert.ok(urls.length >= 3 && urls.every(({ url }) => !url.includes('ann')), JSON.stringify(urls));
    assert.equal(statSync(join(output, '.sitemirror')).mode & 0o777, 0o700, 'the stored Authorization header is its owner\'s only');
  });

  it('prints JSON events, one per line, with --json', async () => {
    const server = await site();
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '--json', '--exclude', '\\.bin$']);
    await server.close();
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; path?: string });
    assert.deepEqual(events.filter((event) => event.event === 'saved').map((event) => event.path).sort(), [
      `${server.hostFolder}/a.html`,
      `${server.hostFolder}/b.html`,
      `${server.hostFolder}/c.html`,
      `${server.hostFolder}/index.html`,
    ]);
    assert.equal(events.at(-1)!.event, 'summary');
    assert.equal(result.stderr, '');
  });

  it('exits 2 with one clear line for a bad URL or option', async () => {
    for (const args of [['crawl', 'not a url'], ['crawl', 'ftp://example.com/'], ['crawl', 'http://127.0.0.1/', '--depth', 'x'], ['frobnicate']]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, /^sitemirror: /);
    }
  });
});
