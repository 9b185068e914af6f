// SCENARIOS.md §5, file names: E-05 (long, reserved, device and non-ASCII names; long URLs) and E-07 (naming from
// Content-Type vs the URL's extension), end to end through the real CLI, checked on disk and in Chromium.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { followLink, launchBrowser, openOffline } from './support/browser.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';
import { canonicalProblems, crawlInto, loadSaved, mirrorFixture, type MirrorRun } from './support/scenario.ts';
import { redirect, serveFixture, type RouteHandler } from './support/server.ts';
import { runCli, tempDir } from './support/cli.ts';

const fileUrl = (run: MirrorRun, path: string) => pathToFileURL(join(run.site, path)).href;
const HTML = 'text/html; charset=utf-8';

/** Every file's bytes under a site folder, by relative path: two runs that agree on this agree on names and links. */
function snapshot(site: string): Map<string, string> {
  return new Map(listFiles(site).map((path) => [path, readFileSync(join(site, path)).toString('base64')]));
}

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser.close());

describe('E-05 file name safety: long names, reserved characters, device names, port, long URLs', () => {
  const e05 = (file: string) => `scenarios/encoding/e05/${file}`;
  const index = readFileSync(join(import.meta.dirname, '..', 'fixtures', e05('index.html')), 'utf8');
  /** id → href as written in the fixture (entities decoded). */
  const hrefs = new Map([...index.matchAll(/id="([^"]+)" (?:href|src)="([^"]+)"/g)].map((m) => [m[1]!, m[2]!.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&')]));
  const TOO_LONG_LOCATION = `/${'z'.repeat(9000)}.html`;
  let run: MirrorRun;
  let second: Awaited<ReturnType<typeof crawlInto>>;
  before(async () => {
    // Each odd URL is routed by its request target (as the WHATWG parser writes it) to a plainly named fixture.
    const routes: Record<string, RouteHandler> = { '/': serveFixture(e05('index.html'), HTML), '/toolong': redirect(TOO_LONG_LOCATION, 302) };
    for (const [id, href] of hrefs) {
      if (id === 'location-too-long') continue;
      const url = new URL(href, 'http://host/');
      routes[url.pathname + url.search] = href.endsWith('.png') ? serveFixture(e05('image.png'), 'image/png') : serveFixture(e05('page.html'), HTML);
    }
    run = await mirrorFixture({ routes, args: ['--retries', '0'] });
    second = await crawlInto(run.server, await tempDir('sitemirror-scenario-'), '/', ['--retries', '0']);
  });
  after(() => run.server.close());

  it('names the host folder host_PORT', () => {
    assert.deepEqual(readdirSync(run.output).sort(), ['.sitemirror', `127.0.0.1_${run.server.port}`]);
  });

  it('keeps every file inside the output folder and every name within 255 bytes', () => {
    const files = listFiles(run.site);
    for (const file of files) {
      for (const part of file.split('/')) assert.ok(Buffer.byteLength(part) <= 255, `${Buffer.byteLength(part)} bytes: ${part}`);
    }
    assert.ok(files.includes('images/a.png'), 'dot segments resolve inside the site');
    assert.ok(files.some((file) => file.startsWith('x/') && file.endsWith('escape.png')), 'encoded dot segments stay one name under x/');
    assert.ok(!existsSync(join(run.output, 'escape.png')) && !existsSync(join(tmpdir(), 'escape.png')));
  });

  it('keeps names that fit, and cuts longer ones to distinct names that keep their extension', () => {
    const files = listFiles(run.site);
    // wget cuts the NAME_MAX-18 name by one character to leave room for its own suffixes; ours fit 255 bytes as they are.
    assert.ok(files.includes(`deeper/than/${'n'.repeat(231)}.html`), 'NAME_MAX-19 kept as it is');
    assert.ok(files.includes(`deeper/than/${'n'.repeat(232)}.html`), 'NAME_MAX-18 kept as it is');
    const long = files.filter((file) => file.startsWith('long/'));
    assert.equal(long.length, 3, long.join('\n'));
    assert.equal(long.filter((file) => file.startsWith(`long/${'y'.repeat(100)}`) && file.endsWith('.html')).length, 2, 'two long names with one prefix');
    assert.equal(long.filter((file) => file.startsWith('long/éééé') && file.endsWith('.png')).length, 1, 'a long UTF-8 name is cut between characters');
    const queries = files.filter((file) => file.startsWith('search@q=éàéà') && file.endsWith('.html'));
    assert.equal(queries.length, 2, 'two queries of several KB that share a prefix');
  });

  it('writes reserved characters and Windows device names as %XX, and non-ASCII names readably', () => {
    const files = listFiles(run.site);
    for (const name of ['%3C%2Aa%2A%3E.png', 'some%3Apath/index.html', 'Привет.png', 'Hello Günter.png', '%63on.html', '%6Eul.png', '%61ux.html']) {
      assert.ok(files.includes(name), `${name} missing; mirror has ${files.filter((file) => !file.startsWith('long/')).join(', ')}`);
    }
  });

  it('does not follow a Location that is too long, and says why', () => {
    assert.equal(run.result.code, 1, run.result.stderr);
    const failed = run.events.filter((event) => event.event === 'failed');
    assert.deepEqual(failed.map((event) => [event.url, event.code]), [[`${run.server.origin}/toolong`, 'BAD_REDIRECT']]);
    assert.match(failed[0]!.message!, /Location of 9006 characters/);
    assert.ok(!run.server.paths().some((path) => path.startsWith('/zzz')));
    assert.equal(loadSaved(run, 'index.html')('#location-too-long').attr('href'), `${run.server.origin}/toolong`);
  });

  it('links to whatever names it picked, and `sitemirror verify` agrees', async () => {
    assert.deepEqual(brokenLinks(run.site), []);
    assert.deepEqual(canonicalProblems(run), []);
    const verify = await runCli(['verify', run.output]);
    assert.equal(verify.code, 0, verify.stdout);
    assert.match(verify.stdout, /^OK: /m);
  });

  it('gives the same URL the same name on every run', () => {
    assert.equal(second.result.code, 1, second.result.stderr);
    assert.deepEqual(snapshot(second.site), snapshot(run.site));
  });

  it('has Chromium show every image and open every local link from disk', async () => {
    const page = await browser.newPage();
    try {
      const view = await openOffline(page, fileUrl(run, 'index.html'));
      assert.equal(view.images.length, 7);
      for (const image of view.images) assert.ok(image.naturalWidth > 0, JSON.stringify(image));
      assert.deepEqual(view.blockedRequests, []);
      const links = await page.$$eval('a[id]', (anchors) => anchors.map((a) => [a.id, (a as HTMLAnchorElement).href]));
      for (const [id, href] of links) {
        if (id === 'location-too-long') continue;
        assert.ok(href!.startsWith('file:') && existsSync(fileURLToPath(href!)), `${id}: ${href}`);
      }
      assert.equal((await followLink(page, '#long-query-2')).title, 'a page with an odd name');
      await openOffline(page, fileUrl(run, 'index.html'));
      assert.equal((await followLink(page, '#con')).title, 'a page with an odd name');
    } finally {
      await page.close();
    }
  });
});

describe('E-07 naming from Content-Type vs URL extension', () => {
  const e07 = (file: string) => `scenarios/encoding/e07/${file}`;
  const routes: Record<string, RouteHandler> = {
    '/': serveFixture(e07('index.html'), HTML),
    '/control.php': serveFixture(e07('control.html'), 'text/html'),
    '/notype.pdf': serveFixture(e07('document.pdf'), undefined),
    '/report.pdf': serveFixture(e07('report.html'), 'text/html'),
    '/page.htm': serveFixture(e07('page.html'), 'text/html'),
    '/emptyct-page': serveFixture(e07('emptyct-page.html'), ''),
    '/notype-page': serveFixture(e07('notype-page.html'), undefined),
    '/notype.png': serveFixture(e07('image.png'), undefined),
    '/emptyct.png': serveFixture(e07('image.png'), ''),
    '/lie.png': serveFixture(e07('image.png'), 'text/html'),
    '/wrongtype.jpg': serveFixture(e07('image.jpg'), 'image/png'),
    '/iframe': serveFixture(e07('iframe.html'), 'text/html'),
    '/css?family=Lato': serveFixture(e07('lato.css'), 'text/css'),
    '/image.png?from=css': serveFixture(e07('image.png'), 'image/png'),
  };
  let run: MirrorRun;
  let second: Awaited<ReturnType<typeof crawlInto>>;
  before(async () => {
    run = await mirrorFixture({ routes });
    second = await crawlInto(run.server, await tempDir('sitemirror-scenario-'), '/', []);
  });
  after(() => run.server.close());

  it('names HTML so browsers open it as HTML, keeps URL extensions of untyped and mislabelled binaries, and gives CSS .css', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(listFiles(run.site), [
      'control.php.html',
      'css@family=Lato.css',
      'emptyct-page.html',
      'emptyct.png',
      'iframe.html',
      'image.png@from=css.png',
      'index.html',
      'lie.png',
      'notype-page.html',
      'notype.pdf',
      'notype.png',
      'page.htm',
      'report.pdf.html',
      'wrongtype.jpg',
    ]);
    assert.ok(readFileSync(join(run.site, 'lie.png')).subarray(0, 8).equals(Buffer.from('89504e470d0a1a0a', 'hex')));
  });

  it('rewrites every link to the name chosen after the fetch', () => {
    const $ = loadSaved(run, 'index.html');
    const attr = (id: string, name: string) => $(`#${id}`).attr(name);
    assert.deepEqual(
      [attr('control', 'href'), attr('notype-pdf', 'href'), attr('report', 'href'), attr('htm', 'href'), attr('emptyct-page', 'href'), attr('notype-page', 'href')],
      ['control.php.html', 'notype.pdf', 'report.pdf.html', 'page.htm', 'emptyct-page.html', 'notype-page.html'],
    );
    assert.deepEqual(
      [attr('notype-png', 'src'), attr('emptyct-png', 'src'), attr('lie', 'src'), attr('wrongtype', 'src'), attr('frame', 'src')],
      ['notype.png', 'emptyct.png', 'lie.png', 'wrongtype.jpg', 'iframe.html'],
    );
    assert.equal($('link[rel=stylesheet]').attr('href'), 'css@family=Lato.css');
    assert.match(readFileSync(join(run.site, 'css@family=Lato.css'), 'utf8'), /url\(image\.png@from=css\.png\)/);
    assert.deepEqual(brokenLinks(run.site), []);
    assert.deepEqual(canonicalProblems(run), []);
  });

  it('passes `sitemirror verify`', async () => {
    const verify = await runCli(['verify', run.output]);
    assert.equal(verify.code, 0, verify.stdout);
  });

  // "On a re-crawl the same names are reused even if the server's answer changed" needs `update` (not built): a second
  // `crawl` into a finished mirror fetches nothing. What can be checked now is that names do not depend on the run.
  it('picks the same names on a second crawl into another folder', () => {
    assert.equal(second.result.code, 0, second.result.stderr);
    assert.deepEqual(snapshot(second.site), snapshot(run.site));
  });

  it('has Chromium open the HTML names as pages and show the images from disk', async () => {
    const page = await browser.newPage();
    try {
      const view = await openOffline(page, fileUrl(run, 'index.html'));
      assert.deepEqual(view.images.map((image) => [image.src, image.naturalWidth]), [['notype.png', 8], ['emptyct.png', 8], ['lie.png', 8], ['wrongtype.jpg', 8]]);
      assert.deepEqual(view.blockedRequests, []);
      for (const [id, title] of [['report', 'report, really HTML'], ['control', 'control page'], ['emptyct-page', 'empty type page']]) {
        await openOffline(page, fileUrl(run, 'index.html'));
        assert.equal((await followLink(page, `#${id}`)).title, title, id);
      }
    } finally {
      await page.close();
    }
  });
});
