// Issue 3, "Done when": a client-rendered single-page application with history routes, served on 127.0.0.1, mirrors
// into a copy whose every route shows its content offline, read in a browser with JavaScript disabled.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { followLink, launchBrowser, openOffline } from './support/browser.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';
import { canonicalProblems, crawlInto, savedPages, type MirrorRun } from './support/scenario.ts';
import { serveFixture, startServer, type FixtureServer } from './support/server.ts';
import { runCli, tempDir } from './support/cli.ts';

/** The server sends the same shell for every route, as an SPA host does; only the app tells them apart. */
const ROUTES = ['/app/about', '/app/products/1', '/app/products/2'];

/** Each route's file in the mirror and what it must show (README "Output layout": /app/about ⇒ app/about.html). */
const EXPECTED = [
  { path: 'app/index.html', title: 'Welcome to the tool shop · Tool shop', text: ['Welcome to the tool shop', 'Hammer', 'Chisel'], images: 0 },
  { path: 'app/about.html', title: 'About the shop · Tool shop', text: ['About the shop', 'We sell fine hand tools since 1921.'], images: 0 },
  { path: 'app/products/1.html', title: 'Hammer · Tool shop', text: ['Hammer', 'A claw hammer with an ash handle.'], images: 1 },
  { path: 'app/products/2.html', title: 'Chisel · Tool shop', text: ['Chisel', 'A bevel-edge chisel, 12 mm.'], images: 1 },
];

describe('a single-page application with client-side routes, mirrored and read with JavaScript off', () => {
  let server: FixtureServer;
  let run: MirrorRun;
  let browser: Browser;
  let noScripts: BrowserContext;
  let page: Page;
  const saved = (path: string) => readFileSync(join(run.site, path), 'utf8');

  before(async () => {
    const shell = serveFixture('render/app/index.html', 'text/html; charset=utf-8');
    server = await startServer({ root: 'render', routes: Object.fromEntries(ROUTES.map((route) => [route, shell])) });
    run = { server, ...(await crawlInto(server, await tempDir('sitemirror-spa-'), '/app/', ['--render', 'always'])) };
    browser = await launchBrowser();
    noScripts = await browser.newContext({ javaScriptEnabled: false });
    page = await noScripts.newPage();
  });
  after(async () => {
    await browser?.close();
    await server.close();
  });

  it('finishes without errors, finding every route through the links the app rendered', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    const pages = [...savedPages(run).keys()].sort();
    assert.deepEqual(pages, [`${server.origin}/app/`, ...ROUTES.map((route) => `${server.origin}${route}`)].sort());
  });

  for (const route of EXPECTED) {
    it(`${route.path} shows its route's content offline with JavaScript disabled`, async () => {
      const view = await openOffline(page, pathToFileURL(join(run.site, route.path)).href);
      assert.equal(view.title, route.title);
      for (const text of route.text) assert.ok(view.text.includes(text), `${route.path} lacks "${text}": ${view.text}`);
      assert.ok(!view.text.includes('enable JavaScript'), 'the <noscript> fallback is not shown over the content');
      assert.equal(view.images.length, route.images);
      for (const image of view.images) assert.ok(image.naturalWidth > 0 && image.currentSrc.startsWith('file:'), image.src);
      assert.deepEqual(view.blockedRequests, []);
      // The stylesheet and the style the app injected at run time both apply.
      const styles = await page.evaluate(() => ({ font: getComputedStyle(document.body).fontFamily, heading: getComputedStyle(document.querySelector('h1')!).color }));
      assert.deepEqual(styles, { font: 'sans-serif', heading: 'rgb(120, 40, 0)' });
    });
  }

  it('its navigation works offline: the rendered links lead from route to route', async () => {
    await openOffline(page, pathToFileURL(join(run.site, 'app/index.html')).href);
    const about = await followLink(page, 'nav a[href="about.html"]');
    assert.match(about.text, /We sell fine hand tools since 1921\./);
    const chisel = await followLink(page, 'nav a[href="products/2.html"]');
    assert.match(chisel.text, /A bevel-edge chisel, 12 mm\./);
    assert.equal(chisel.url, pathToFileURL(join(run.site, 'app/products/2.html')).href);
    const home = await followLink(page, 'nav a[href="../index.html"]');
    assert.match(home.text, /Welcome to the tool shop/);
  });

  it('keeps no script, and each route names its own origin URL as canonical', () => {
    for (const route of EXPECTED) assert.ok(!/<script|<noscript/i.test(saved(route.path)), route.path);
    assert.deepEqual(canonicalProblems(run), []);
    assert.deepEqual(brokenLinks(run.site), []);
  });

  it('asks the server for each route, the shell’s files and the data once, though four pages load them', () => {
    const counts = new Map<string, number>();
    for (const target of server.paths()) counts.set(target, (counts.get(target) ?? 0) + 1);
    assert.deepEqual([...counts].filter(([, n]) => n !== 1), []);
    for (const target of ['/app/', ...ROUTES, '/app/app.js', '/app/app.css', '/app/data/products.json', '/img/product.png']) {
      assert.equal(counts.get(target), 1, target);
    }
    const files = listFiles(run.site);
    for (const file of ['app/app.css', 'app/app.js', 'app/data/products.json', 'img/product.png']) assert.ok(files.includes(file), file);
  });

  it('with --keep-scripts, the snapshot keeps its scripts (rewritten to the mirrored file) and its <noscript>', async () => {
    const output = await tempDir('sitemirror-spa-');
    const result = await runCli(['crawl', `${server.origin}/app/about`, '-o', output, '--render', 'always', '--keep-scripts', '--depth', '0']);
    assert.equal(result.code, 0, result.stderr);
    const html = readFileSync(join(output, server.hostFolder, 'app/about.html'), 'utf8');
    assert.ok(html.includes('<script type="module" src="app.js"></script>'), html);
    assert.ok(html.includes('<noscript>You need to enable JavaScript to run this app.</noscript>'));
    assert.ok(html.includes('We sell fine hand tools since 1921.'), 'the content the app built is there too');
    assert.deepEqual(readFileSync(join(output, server.hostFolder, 'app/app.js')), readFileSync(join(import.meta.dirname, '..', 'fixtures', 'render', 'app', 'app.js')));
  });
});
