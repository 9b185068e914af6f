// When a rendered page is done (src/visit.ts): content that a timeout or a slow response brings after the load event is
// waited for and captured, a page that keeps re-arming a timer is not waited on for ever, and a pooled page that goes
// straight from one document to the next gives the next visit nothing of the previous one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import { PageRenderer, type RequestDecision } from '../src/render.ts';
import type { PageSource } from '../src/types.ts';
import { CHROMIUM_PATH } from './support/browser.ts';
import { startServer, type FixtureServer } from './support/server.ts';

const LIMITS = { timeoutMs: 10_000, scrollSteps: 2, maxBytes: 10 * 1024 * 1024 };
/** Well past the longest quiet wait (500 ms without a request), well short of its 5 s ceiling. */
const SETTLED_WITHIN_MS = 4_000;

function fetched(url: string, html: string): PageSource {
  return { requestedUrl: url, finalUrl: url, status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, contentType: 'text/html', charset: 'utf-8', body: Buffer.from(html), redirectChain: [], via: 'http' };
}

const loadEverything = async (): Promise<RequestDecision> => ({ action: 'load', capture: true });

/** A page whose script, once loaded, lists the fruit from `api` (after `delayMs` when given) with their icons. */
function fruitPage(api: string, delayMs?: number): string {
  const list = `fetch('${api}').then((response) => response.json()).then((fruit) => {
      document.getElementById('list').innerHTML = fruit.map((item) => '<li><img src="' + item.icon + '"> ' + item.name + '</li>').join('');
    })`;
  const start = delayMs === undefined ? list : `setTimeout(() => ${list}, ${delayMs})`;
  return `<!doctype html><title>Fruit</title><ul id="list"><li>Loading</li></ul><script>addEventListener('load', () => ${start})</script>`;
}

describe('when a rendered page is done', () => {
  let server: FixtureServer;
  let renderer: PageRenderer;
  let browser: Browser;

  before(async () => {
    server = await startServer({
      root: 'render',
      routes: {
        '/api/slow.json': (_req, res) => {
          setTimeout(() => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end('[{"name": "Medlars", "icon": "/img/red.png"}]');
          }, 600);
        },
      },
    });
    // One page: every render reuses it, as the pool does under load.
    renderer = await PageRenderer.launch({
      ...LIMITS,
      executablePath: CHROMIUM_PATH,
      pages: 1,
      userAgent: 'sitemirror-test',
      launch: async (executablePath, args) => {
        browser = await chromium.launch({ executablePath, headless: true, args });
        return browser;
      },
    });
  });
  after(async () => {
    await renderer.close();
    await server.close();
  });

  it('captures content that a timeout brings 300 ms after the load event: the data, the list, its images', async () => {
    const rendered = await renderer.render({ document: fetched(`${server.origin}/late.html`, fruitPage('/api/fruit.json', 300)), decide: loadEverything });
    const html = rendered.source.body.toString('utf8');
    assert.match(html, /Quinces/);
    assert.deepEqual(rendered.captured.map((response) => response.url).sort(), [`${server.origin}/api/fruit.json`, `${server.origin}/img/green.png`, `${server.origin}/img/red.png`]);
    assert.equal(rendered.incomplete, undefined);
  });

  it('waits for a timeout set at a load event that came long after the network went quiet', async () => {
    // A busy script holds the load event back 800 ms with no request: the quiet before load must not count.
    const busy = '<script>const until = Date.now() + 800; while (Date.now() < until);</script>';
    const rendered = await renderer.render({ document: fetched(`${server.origin}/busy.html`, fruitPage('/api/fruit.json?busy', 300).replace('<script>', `${busy}<script>`)), decide: loadEverything });
    assert.match(rendered.source.body.toString('utf8'), /Quinces/);
    assert.deepEqual(rendered.captured.map((response) => response.url).sort(), [`${server.origin}/api/fruit.json?busy`, `${server.origin}/img/green.png`, `${server.origin}/img/red.png`]);
  });

  // Waiting for such requests to be reported would take a second (the backstop) on top of the 100 ms timer and the
  // quiet wait. Timed against the same page without them, rendered just before, so that a loaded machine's slowness
  // is not taken for that second.
  const unreported = [
    { name: 'requests the page made that never reach the network: a bad URL, a data: URL', path: 'odd', head: '', requests: ["fetch('http://[')", "fetch('data:text/plain,plums')"] },
    { name: 'a request the page\'s Content Security Policy blocks before it leaves', path: 'blocked', head: `<meta http-equiv="Content-Security-Policy" content="connect-src 'self'">`, requests: ["fetch('http://elsewhere.invalid/api.json')"] },
  ];
  for (const { name, path, head, requests } of unreported) {
    it(`does not wait long on ${name}`, async () => {
      const timedRender = async (page: string, firstRequests: string[]) => {
        const html = `<!doctype html><title>Unreported</title>${head}<p id="out">waiting</p><script>
          addEventListener('load', () => setTimeout(() => {
            ${firstRequests.map((request) => `${request}.catch(() => undefined);`).join('\n            ')}
            fetch('/api/fruit.json?${page}').then((r) => r.text()).then((text) => { document.getElementById('out').textContent = text; });
          }, 100));</script>`;
        const started = Date.now();
        const rendered = await renderer.render({ document: fetched(`${server.origin}/${page}.html`, html), decide: loadEverything });
        return { rendered, ms: Date.now() - started };
      };
      // Twice, the faster counting: the first render in a fresh browser is the slow one.
      const plain = { ms: Math.min((await timedRender(`${path}-plain`, [])).ms, (await timedRender(`${path}-plain`, [])).ms) };
      const { rendered, ms } = await timedRender(path, requests);
      assert.ok(ms - plain.ms < 600, `took ${ms} ms, the page without those requests ${plain.ms} ms`);
      assert.match(rendered.source.body.toString('utf8'), /Quinces/);
      assert.ok(rendered.captured.some((response) => response.url === `${server.origin}/api/fruit.json?${path}`));
    });
  }

  it('waits for a chain of timeouts that ends in a request', async () => {
    const html = `<!doctype html><title>Chain</title><p id="out">waiting</p><script>
      addEventListener('load', () => setTimeout(() => setTimeout(() => fetch('/api/fruit.json?chain').then((r) => r.text()).then((text) => {
        document.getElementById('out').textContent = text;
      }), 200), 200));</script>`;
    const rendered = await renderer.render({ document: fetched(`${server.origin}/chain.html`, html), decide: loadEverything });
    assert.match(rendered.source.body.toString('utf8'), /Quinces/);
    assert.deepEqual(rendered.captured.map((response) => response.url), [`${server.origin}/api/fruit.json?chain`]);
  });

  it('waits for an interval that polls, then loads the content and stops', async () => {
    const html = `<!doctype html><title>Poll</title><p id="out">waiting</p><script>
      addEventListener('load', () => { let ticks = 0; const poll = setInterval(() => {
        if (++ticks < 3) return;
        clearInterval(poll);
        fetch('/api/fruit.json?polled').then((r) => r.text()).then((text) => { document.getElementById('out').textContent = text; });
      }, 100); });</script>`;
    const rendered = await renderer.render({ document: fetched(`${server.origin}/poll.html`, html), decide: loadEverything });
    assert.match(rendered.source.body.toString('utf8'), /Quinces/);
    assert.deepEqual(rendered.captured.map((response) => response.url), [`${server.origin}/api/fruit.json?polled`]);
  });

  it('waits for a response the server sends 600 ms late', async () => {
    const rendered = await renderer.render({ document: fetched(`${server.origin}/slow.html`, fruitPage('/api/slow.json')), decide: loadEverything });
    assert.match(rendered.source.body.toString('utf8'), /Medlars/);
    assert.deepEqual(rendered.captured.map((response) => response.url).sort(), [`${server.origin}/api/slow.json`, `${server.origin}/img/red.png`]);
  });

  it('does not wait on a timer the page re-arms for ever: done once the network was quiet for 500 ms', async () => {
    const html = '<!doctype html><title>Ticks</title><p id="n">0</p><script>let n = 0; (function tick() { document.getElementById("n").textContent = ++n; setTimeout(tick, 20); })()</script>';
    const started = Date.now();
    const rendered = await renderer.render({ document: fetched(`${server.origin}/ticks.html`, html), decide: loadEverything });
    assert.ok(Date.now() - started < SETTLED_WITHIN_MS, `took ${Date.now() - started} ms`);
    assert.equal(rendered.incomplete, undefined);
    assert.match(rendered.source.body.toString('utf8'), /<p id="n">\d+<\/p>/);
  });

  it('goes from a settled page straight to the next, and what the previous page sends as it leaves is not captured for the next', async () => {
    const leaving = `<!doctype html><title>Leaving</title><p>first</p><script>
      addEventListener('pagehide', () => { fetch('/api/fruit.json?from=previous', { keepalive: true }); new Image().src = '/img/red.png?from=previous'; });</script>`;
    await renderer.render({ document: fetched(`${server.origin}/first.html`, '<!doctype html><title>First</title>'), decide: loadEverything });
    const pooled = browser.contexts()[0]!.pages()[0]!;
    const documentsShown: string[] = [];
    pooled.on('framenavigated', (frame) => void (frame === pooled.mainFrame() && documentsShown.push(frame.url())));
    await renderer.render({ document: fetched(`${server.origin}/leaving.html`, leaving), decide: loadEverything });
    const next = await renderer.render({ document: fetched(`${server.origin}/next.html`, '<!doctype html><title>Next</title><img src="/img/green.png">'), decide: loadEverything });
    assert.deepEqual(documentsShown, [`${server.origin}/leaving.html`, `${server.origin}/next.html`], 'no about:blank between the two');
    assert.deepEqual(next.captured.map((response) => response.url), [`${server.origin}/img/green.png`]);
  });

  it('renders on a page that showed another document a URL with escapes and non-ASCII characters', async () => {
    await renderer.render({ document: fetched(`${server.origin}/plain.html`, '<!doctype html><title>Plain</title>'), decide: loadEverything });
    const odd = new URL(`${server.origin}/odd path/ünïcode{x}|y.html?q=a b&r=é`).href;
    const rendered = await renderer.render({ document: fetched(odd, '<!doctype html><title>Odd</title><p id="p"></p><script>document.getElementById("p").textContent = "built here"</script>'), decide: loadEverything });
    assert.match(rendered.source.body.toString('utf8'), /<p id="p">built here<\/p>/);
    assert.deepEqual(rendered.navigations, []);
  });
});
