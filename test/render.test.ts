// Rendering (issue 3): the real CLI mirrors fixtures/render/ with --render always, then each mirrored page is opened
// from disk in Chromium with the network cut off, and must show the text and images a reader saw on the origin.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openOffline, viewOf, type PageView } from './support/browser.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';
import { canonicalProblems, crawlInto, type MirrorRun } from './support/scenario.ts';
import { FIXTURES, startServer, type FixtureServer, type RouteHandler } from './support/server.ts';
import { BIN, runCli, tempDir, cliEnv } from './support/cli.ts';

/** Enough for the lazy-images page (about six viewports); the endless feed is cut off by it. */
const SCROLL_STEPS = 8;
const FEED_BATCH = 5;

/** The endless feed: any page number answers with the next five items. */
function feedRoutes(): Record<string, RouteHandler> {
  const routes: Record<string, RouteHandler> = {};
  for (let page = 1; page <= 100; page++) {
    const items = Array.from({ length: FEED_BATCH }, (_, i) => `Item ${(page - 1) * FEED_BATCH + i + 1}`);
    routes[`/api/feed?page=${page}`] = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(items));
    };
  }
  return routes;
}

/** Opens a mirrored file offline, scrolls through it as a reader would, waits for its images, and returns the view. */
async function readOffline(page: Page, file: string): Promise<PageView> {
  await openOffline(page, pathToFileURL(file).href);
  await page.evaluate(async () => {
    for (let y = 0; y <= document.documentElement.scrollHeight; y += innerHeight) {
      scrollTo(0, y);
      await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    }
    const pending = Array.from(document.images).filter((image) => !image.complete);
    const settled = pending.map((image) => new Promise((done) => {
      image.addEventListener('load', done, { once: true });
      image.addEventListener('error', done, { once: true });
    }));
    await Promise.race([Promise.all(settled), new Promise((done) => setTimeout(done, 2000))]);
  });
  return viewOf(page);
}

function assertEveryImageLoaded(view: PageView): void {
  assert.ok(view.images.length > 0, `${view.url} shows no image`);
  for (const image of view.images) {
    assert.ok(image.naturalWidth > 0, `${image.src} did not load offline in ${view.url}`);
    assert.ok(image.currentSrc.startsWith('file:'), `${image.src} is not a mirrored file`);
  }
  assert.deepEqual(view.blockedRequests, [], 'the page tried to reach the network');
}

describe('rendering JavaScript pages into a mirror that works offline', () => {
  let server: FixtureServer;
  let other: FixtureServer;
  let run: MirrorRun;
  /** The page that never finishes loading, crawled on its own with a short render timeout, alongside. */
  let stalled: MirrorRun;
  let browser: Browser;
  let page: Page;
  const file = (path: string) => join(run.site, path);
  const saved = (path: string) => readFileSync(file(path), 'utf8');

  before(async () => {
    other = await startServer({ root: 'render' });
    const wholeOutput = await tempDir('sitemirror-render-');
    server = await startServer({
      root: 'render',
      routes: {
        ...feedRoutes(),
        // The 404 that link settlement must repair: answered only once the page linking to it is in the mirror, so
        // the page is always written with the link first, however the crawl's workers happen to interleave.
        '/gone.html': async (_req, res) => {
          const linking = join(wholeOutput, server.hostFolder, 'script-body.html');
          for (let waited = 0; !existsSync(linking) && waited < 20_000; waited += 20) await new Promise((wake) => setTimeout(wake, 20));
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('gone\n');
        },
        // Never answered: an async script that holds the load event back for ever.
        '/js/stall.js': () => undefined,
        '/elsewhere.html': (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(readFileSync(join(FIXTURES, 'render', 'elsewhere.html'), 'utf8').replaceAll('{{OTHER}}', other.origin));
        },
      },
    });
    const args = ['--render', 'always', '--scroll-steps', String(SCROLL_STEPS), '--timeout', '5s', '--retries', '0'];
    const [whole, alone] = await Promise.all([
      crawlInto(server, wholeOutput, '/', args),
      crawlInto(server, await tempDir('sitemirror-render-'), '/never-loads.html', [...args, '--render-timeout', '2s', '--depth', '0']),
    ]);
    run = { server, ...whole };
    stalled = { server, ...alone };
    browser = await launchBrowser();
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close();
    await server.close();
    await other.close();
  });

  it('finishes, says once which browser renders, and fails only the one gone page', () => {
    assert.equal(run.result.code, 1, run.result.stderr);
    const browserLines = run.events.filter((event) => event.event === 'info' && /^rendering pages with/.test(event.message ?? ''));
    assert.equal(browserLines.length, 1, run.result.stdout);
    const failures = run.events.filter((event) => event.event === 'failed');
    assert.deepEqual(failures.map((event) => event.url), [`${server.origin}/gone.html`]);
  });

  it('a body built entirely by a script: its text and image are there offline, its script is gone', async () => {
    const view = await readOffline(page, file('script-body.html'));
    assert.match(view.text, /Built by a script/);
    assert.match(view.text, /Every word here was written by build-body\.js\./);
    assertEveryImageLoaded(view);
    assert.equal(view.images[0]!.naturalWidth, 20);
    const html = saved('script-body.html');
    assert.ok(!/<script|onclick|<noscript|needs JavaScript/i.test(html), html);
    assert.ok(html.includes('<a href="json-list.html">Next: the fruit list</a>'), 'the link stays, relative, without its handler');
  });

  it('a page rewritten again when links settle stays without scripts (the kept body is the script-free snapshot)', () => {
    const summary = run.events.find((event) => event.event === 'summary')!;
    assert.ok((summary.rewrittenForSettlement as number) >= 1, 'script-body.html was rewritten once gone.html failed');
    const html = saved('script-body.html');
    assert.ok(html.includes(`<a href="${server.origin}/gone.html">A page that is gone</a>`), html);
    assert.ok(!/<script|<noscript/i.test(html));
  });

  it('a page that fetches JSON and renders a list', async () => {
    const view = await readOffline(page, file('json-list.html'));
    for (const fruit of ['Apples', 'Pears', 'Quinces']) assert.match(view.text, new RegExp(fruit));
    assert.doesNotMatch(view.text, /Loading/);
    assertEveryImageLoaded(view);
    assert.deepEqual(readFileSync(file('api/fruit.json')), readFileSync(join(FIXTURES, 'render', 'api', 'fruit.json')));
  });

  it('lazy images load on the scroll: loading=lazy and an IntersectionObserver', async () => {
    const view = await readOffline(page, file('lazy-images.html'));
    assertEveryImageLoaded(view);
    const byWidth = Object.fromEntries(view.images.map((image) => [image.currentSrc.replace(/^.*\//, ''), image.naturalWidth]));
    assert.deepEqual(byWidth, { 'lazy-native.png': 40, 'lazy-observed.png': 50 });
    assert.match(view.text, /Bottom of the page/);
  });

  it('CSS background images a script added, inline and through the CSSOM', async () => {
    await openOffline(page, pathToFileURL(file('css-background.html')).href);
    const backgrounds = await page.evaluate(async () =>
      Promise.all(['#hero', '.banner'].map(async (selector) => {
        const url = /url\("(.*)"\)/.exec(getComputedStyle(document.querySelector(selector)!).backgroundImage)?.[1] ?? '';
        const image = new Image();
        image.src = url;
        await image.decode().catch(() => undefined);
        return { url, width: image.naturalWidth };
      })),
    );
    assert.deepEqual(backgrounds.map((b) => [b.url.replace(/^.*\//, ''), b.width]), [['bg.png', 60], ['banner.png', 70]]);
    for (const background of backgrounds) assert.ok(background.url.startsWith('file:'));
    assert.ok(saved('css-background.html').includes('<style id="dynamic">.banner { background-image: url("img/banner.png"); }</style>'));
  });

  it('an endless feed is scrolled at most --scroll-steps times', async () => {
    const view = await readOffline(page, file('infinite.html'));
    const items = view.text.match(/Item \d+/g) ?? [];
    assert.ok(items.length > FEED_BATCH, `scrolling loaded more than the first batch (${items.length} items)`);
    assert.ok(items.length <= FEED_BATCH * (SCROLL_STEPS + 1), `${items.length} items for ${SCROLL_STEPS} scroll steps`);
    const batches = server.paths().filter((target) => target.startsWith('/api/feed?page=')).length;
    assert.equal(items.length, batches * FEED_BATCH);
  });

  it('a page that never finishes loading is saved as it stood at the render timeout, with one warning', async () => {
    assert.equal(stalled.result.code, 0, stalled.result.stderr);
    const warnings = stalled.events.filter((event) => event.event === 'warning');
    assert.deepEqual(warnings.map((w) => w.message), [
      `${server.origin}/never-loads.html is saved as it stood: it did not finish loading within the render timeout (2 s)`,
    ]);
    const view = await readOffline(page, join(stalled.site, 'never-loads.html'));
    assert.match(view.text, /Rendered before the stall/);
    assert.match(view.text, /Written by a script while a request hangs/);
    assertEveryImageLoaded(view);
    assert.ok(!existsSync(join(stalled.site, 'js/stall.js')));
  });

  it('a page whose script throws keeps what ran', async () => {
    const view = await readOffline(page, file('throws.html'));
    assert.match(view.text, /Written before the error/);
    assert.match(view.text, /A later script still ran/);
    assertEveryImageLoaded(view);
  });

  it('aborts what robots.txt disallows; loads but does not save other hosts', () => {
    assert.ok(!server.paths().some((target) => target.startsWith('/private/')), 'a disallowed URL was requested');
    assert.ok(saved('elsewhere.html').includes('The private data was refused'));
    assert.deepEqual(other.paths(), ['/img/other.png'], 'the browser loaded the other host’s image');
    assert.ok(!existsSync(join(run.output, other.hostFolder)), 'nothing of the other host is saved');
    assert.ok(saved('elsewhere.html').includes(`src="${other.origin}/img/other.png"`), 'its link is the absolute origin URL');
  });

  it('downloads each URL once: the browser is served the fetched page, and shares what pages load', () => {
    const counts = new Map<string, number>();
    // The stalled page's crawl, in another folder, asks for robots.txt, the page, its image and the script once more.
    const secondCrawl = ['/robots.txt', '/never-loads.html', '/img/red.png', '/js/stall.js'];
    for (const target of server.paths()) counts.set(target, (counts.get(target) ?? 0) + 1);
    for (const target of secondCrawl) counts.set(target, counts.get(target)! - 1);
    assert.deepEqual([...counts].filter(([, n]) => n > 1), []);
    assert.equal(counts.get('/img/red.png'), 1, 'red.png is on three pages');
    assert.equal(counts.get('/api/fruit.json'), 1);
  });

  it('gives rendered pages relative links and one canonical tag, and a mirror verify accepts', async () => {
    assert.deepEqual(canonicalProblems(run), []);
    assert.deepEqual(brokenLinks(run.site), []);
    assert.ok(saved('index.html').includes('<a href="lazy-images.html">Lazy images</a>'));
    for (const path of listFiles(run.site).filter((p) => p.endsWith('.html'))) {
      assert.ok(!/<script[\s>]|\son[a-z]+=/i.test(saved(path)), `${path} kept a script or an event handler`);
    }
    const verify = await runCli(['verify', run.output]);
    assert.equal(verify.code, 0, verify.stdout);
  });
});

describe('interrupting a crawl while a page renders', () => {
  it('stops at once, leaves the page to fetch again, and a resume renders it', async () => {
    let interrupt: (() => void) | undefined;
    // The page's stalled script is asked for while the page renders: the moment to interrupt.
    const server = await startServer({ root: 'render', routes: { '/js/stall.js': () => interrupt?.() } });
    try {
      const output = await tempDir('sitemirror-render-');
      const args = ['crawl', `${server.origin}/never-loads.html`, '-o', output, '--render', 'always', '--depth', '0'];
      const child = spawn(process.execPath, [BIN, ...args, '--render-timeout', '60s'], { env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      let interruptedAt = 0;
      interrupt = () => {
        interruptedAt = Date.now();
        child.kill('SIGINT');
      };
      const code = await new Promise<number | null>((done) => child.on('exit', done));
      assert.equal(code, 1, stderr);
      assert.match(stderr, /Stopped because the crawl was interrupted/);
      assert.ok(Date.now() - interruptedAt < 5_000, `took ${Date.now() - interruptedAt} ms to stop, not the 60 s render timeout`);
      assert.ok(!existsSync(join(output, server.hostFolder, 'never-loads.html')), 'the page was not saved half-rendered');
      const resumed = await runCli([...args, '--render-timeout', '2s']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(readFileSync(join(output, server.hostFolder, 'never-loads.html'), 'utf8'), /Written by a script while a request hangs/);
    } finally {
      await server.close();
    }
  });
});
