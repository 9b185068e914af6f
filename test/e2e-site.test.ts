// End to end: the real CLI mirrors a multi-folder fixture site served on 127.0.0.1, then the mirror is checked from disk.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'cheerio';
import { redirect, serve, startServer, type FixtureServer } from './support/server.ts';
import { runCli, tempDir, type CliResult } from './support/cli.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';

describe('mirroring the fixture site end to end', () => {
  let server: FixtureServer;
  let output: string;
  let result: CliResult;
  let site: string;
  const page = (path: string) => load(readFileSync(join(site, path), 'utf8'));

  before(async () => {
    server = await startServer({
      root: 'site',
      routes: {
        '/moved': redirect('/docs/new.html', 301),
        '/search?q=mirror': serve('<!doctype html><title>Results</title><h1>Results for mirror</h1><a href="/">Home</a>'),
        '/legacy/latin1.html': (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/html; charset=ISO-8859-1' });
          res.end(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'site', 'legacy', 'latin1.html')));
        },
      },
    });
    output = await tempDir();
    result = await runCli(['crawl', `${server.origin}/`, '--output', output, '--quiet']);
    site = join(output, server.hostFolder);
  });
  after(() => server.close());

  it('exits 1 because one linked page answered 404, and names it', () => {
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /missing\.html: HTTP 404/);
  });

  it('saves every in-scope page and requisite', () => {
    const files = listFiles(site);
    for (const expected of [
      'index.html',
      'about/index.html',
      'docs/guide.html',
      'docs/new.html',
      'search@q=mirror.html',
      'legacy/latin1.html',
      'assets/site.css',
      'assets/base.css',
      'assets/fonts/body.woff2',
      'img/logo.png',
      'img/hero-480.png',
      'img/hero-800.png',
      'img/hero-1200.png',
      'img/bg.png',
      'img/pattern.gif',
    ]) {
      assert.ok(files.includes(expected), `${expected} missing; mirror has ${files.join(', ')}`);
    }
  });

  it('never requests the robots-disallowed folder and fetches robots.txt once', () => {
    assert.deepEqual(server.paths().filter((path) => path.startsWith('/private/')), []);
    assert.equal(server.paths().filter((path) => path === '/robots.txt').length, 1);
    assert.ok(!existsSync(join(site, 'private')));
  });

  it('requests each URL once', () => {
    const counts = new Map<string, number>();
    for (const path of server.paths()) counts.set(path, (counts.get(path) ?? 0) + 1);
    assert.deepEqual([...counts].filter(([, n]) => n > 1), []);
  });

  it('leaves no broken local link in any page or stylesheet', () => {
    assert.deepEqual(brokenLinks(site), []);
  });

  it('rewrites links to downloaded files as relative paths, keeping fragments', () => {
    const $ = page('index.html');
    const hrefs = $('a').map((_, a) => $(a).attr('href')).get();
    assert.deepEqual(hrefs, [
      'about/index.html',
      'docs/guide.html#install',
      'docs/new.html',
      'search@q=mirror.html',
      'legacy/latin1.html',
      `${server.origin}/private/secret.html`,
      'http://example.invalid/elsewhere.html',
      `${server.origin}/missing.html`,
    ]);
    assert.equal($('link[rel=stylesheet]').attr('href'), 'assets/site.css');
    assert.equal($('img').eq(1).attr('srcset'), 'img/hero-480.png 480w, img/hero-800.png 800w, img/hero-1200.png 1200w');
    assert.equal(page('about/index.html')('a').first().attr('href'), '../index.html');
  });

  it('rewrites url() and @import inside stylesheets relative to the stylesheet', () => {
    const css = readFileSync(join(site, 'assets/site.css'), 'utf8');
    assert.match(css, /@import "base\.css";/);
    assert.match(css, /url\(fonts\/body\.woff2\)/);
    assert.match(css, /url\(\.\.\/img\/bg\.png\)/);
    assert.match(readFileSync(join(site, 'assets/base.css'), 'utf8'), /url\("\.\.\/img\/pattern\.gif"\)/);
    assert.match(page('docs/guide.html')('style').text(), /url\("\.\.\/img\/bg\.png"\)/);
  });

  it('gives every page exactly one canonical link to its origin URL', () => {
    for (const [path, url] of [
      ['index.html', '/'],
      ['about/index.html', '/about/'],
      ['docs/new.html', '/docs/new.html'],
      ['search@q=mirror.html', '/search?q=mirror'],
    ] as const) {
      const canonical = page(path)('link[rel=canonical]');
      assert.equal(canonical.length, 1, path);
      assert.equal(canonical.attr('href'), `${server.origin}${url}`, path);
    }
  });

  it('leaves a redirect file where the redirecting URL would live', () => {
    const html = readFileSync(join(site, 'moved.html'), 'utf8');
    assert.match(html, /url=docs\/new\.html/);
  });

  it('converts an ISO-8859-1 page to UTF-8 that reads the same', () => {
    const html = readFileSync(join(site, 'legacy/latin1.html'), 'utf8');
    assert.match(html, /Café crème brûlée/);
    assert.match(html, /<meta charset="utf-8">/i);
  });
});
