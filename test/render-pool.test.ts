// The renderer itself (src/render.ts, src/visit.ts) with a real Chromium: crashes of a page or of the whole browser
// are met with a fresh one and a retry, a stuck page times out instead of hanging, the pool stays bounded, and a
// page's own navigations and popups do not take the snapshot elsewhere.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { SitemirrorError } from '../src/errors.ts';
import { PageRenderer, type RenderJob, type RequestDecision } from '../src/render.ts';
import type { PageSource } from '../src/types.ts';
import { CHROMIUM_PATH } from './support/browser.ts';
import { FIXTURES, startServer, type FixtureServer } from './support/server.ts';

/** A short timeout keeps the endless-loop case quick: it ends after the timeout and as long again of grace. */
const LIMITS = { timeoutMs: 2_500, scrollSteps: 2, maxBytes: 10 * 1024 * 1024 };

/** A fetched HTML page as the crawler hands it over; the renderer serves these bytes, the server is not asked. */
function fetched(url: string, html: string): PageSource {
  return { requestedUrl: url, finalUrl: url, status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, contentType: 'text/html', charset: 'utf-8', body: Buffer.from(html), redirectChain: [], via: 'http' };
}

const loadEverything = async (): Promise<RequestDecision> => ({ action: 'load', capture: true });

describe('the page renderer', () => {
  let server: FixtureServer;
  /** Every browser the renderer launched, newest last, so a test can crash one. */
  const launched: Browser[] = [];
  let renderer: PageRenderer;

  before(async () => {
    server = await startServer({ root: 'render' });
    renderer = await PageRenderer.launch({
      ...LIMITS,
      executablePath: CHROMIUM_PATH,
      pages: 2,
      userAgent: 'sitemirror-test',
      launch: async (executablePath, args) => {
        const browser = await chromium.launch({ executablePath, headless: true, args });
        launched.push(browser);
        return browser;
      },
    });
  });
  after(async () => {
    await renderer.close();
    await server.close();
  });

  /** The renderer's page now showing `url` (it is the only one that does). */
  const pageShowing = (url: string) => launched.at(-1)!.contexts()[0]!.pages().find((page) => page.url() === url)!;

  it('renders a page: the DOM after scripts ran, with its doctype, and what it loaded', async () => {
    const rendered = await renderer.render({ document: fetched(`${server.origin}/script-body.html`, readFixture('script-body.html')), decide: loadEverything });
    const html = rendered.source.body.toString('utf8');
    assert.ok(html.startsWith('<!DOCTYPE html>\n<html lang="en">'), html.slice(0, 60));
    assert.match(html, /<h1>Built by a script<\/h1>/);
    assert.equal(rendered.source.via, 'browser');
    assert.equal(rendered.source.status, 200);
    assert.deepEqual(rendered.captured.map((response) => response.url).sort(), [`${server.origin}/img/red.png`, `${server.origin}/js/build-body.js`]);
    assert.equal(rendered.incomplete, undefined);
  });

  it('writes into the snapshot what only the live page held: form state, CSSOM rules, a pushState address', async () => {
    const url = `${server.origin}/deep/page.html`;
    const script = `document.querySelector('input[type=text]').value = 'typed by a script';
      document.querySelector('input[type=checkbox]').checked = true;
      document.querySelector('textarea').value = 'notes';
      document.getElementById('rules').sheet.insertRule('p { color: red; }');
      history.replaceState(null, '', '/elsewhere/place.html');`;
    const html = `<!doctype html><title>State</title><style id="rules"></style><input type="text"><input type="checkbox"><textarea></textarea><a href="sibling.html">s</a><script>${script}</script>`;
    const rendered = await renderer.render({ document: fetched(url, html), decide: loadEverything });
    const body = rendered.source.body.toString('utf8');
    assert.match(body, /<input type="text" value="typed by a script">/);
    assert.match(body, /<input type="checkbox" checked="">/);
    assert.match(body, /<textarea>notes<\/textarea>/);
    assert.match(body, /<style id="rules">p \{ color: red; \}<\/style>/);
    // Links resolve against the address the page showed, as they did in the live page; html.ts honours <base>.
    assert.match(body, new RegExp(`<head><base href="${server.origin}/elsewhere/place.html">`));
    assert.equal(rendered.source.finalUrl, url, 'the page is still saved under the URL it was fetched from');
  });

  it('replaces a page that crashed and renders the URL again', async () => {
    const url = `${server.origin}/script-body.html`;
    let crashes = 0;
    const rendered = await renderer.render({
      document: fetched(url, readFixture('script-body.html')),
      decide: async () => {
        if (crashes++ === 0) {
          const session = await pageShowing(url).context().newCDPSession(pageShowing(url));
          void session.send('Page.crash').catch(() => undefined);
          return { action: 'abort' };
        }
        return { action: 'load', capture: true };
      },
    });
    assert.ok(crashes >= 2, 'the second try asked again');
    assert.match(rendered.source.body.toString('utf8'), /Built by a script/);
  });

  it('launches a new browser when the whole browser died, and renders the URL again', async () => {
    const url = `${server.origin}/json-list.html`;
    const browsersBefore = launched.length;
    let crashed = false;
    const rendered = await renderer.render({
      document: fetched(url, readFixture('json-list.html')),
      decide: async () => {
        if (!crashed) {
          crashed = true;
          const session = await launched.at(-1)!.newBrowserCDPSession();
          void session.send('Browser.crash').catch(() => undefined);
          return { action: 'abort' };
        }
        return { action: 'load', capture: true };
      },
    });
    assert.equal(launched.length, browsersBefore + 1);
    assert.match(rendered.source.body.toString('utf8'), /Quinces/);
  });

  it('gives up with a BROWSER error when the page crashes on every try, and renders the next page as usual', async () => {
    const url = `${server.origin}/throws.html`;
    const attempt = renderer.render({
      document: fetched(url, '<!doctype html><title>x</title><img src="/img/red.png">'),
      decide: async () => {
        const session = await pageShowing(url).context().newCDPSession(pageShowing(url));
        void session.send('Page.crash').catch(() => undefined);
        return { action: 'abort' };
      },
    });
    await assert.rejects(attempt, (error: unknown) => error instanceof SitemirrorError && error.code === 'BROWSER' && /crashed 2 times/.test(error.message));
    const next = await renderer.render({ document: fetched(`${server.origin}/throws.html`, readFixture('throws.html')), decide: loadEverything });
    assert.match(next.source.body.toString('utf8'), /A later script still ran/);
  });

  it('times out a page stuck in an endless loop instead of hanging, and the pool recovers', async () => {
    const started = Date.now();
    const stuck = renderer.render({
      document: fetched(`${server.origin}/loop.html`, '<!doctype html><title>Loop</title><p>before</p><script>setTimeout(() => { for (;;) {} }, 0)</script>'),
      decide: loadEverything,
    });
    await assert.rejects(stuck, (error: unknown) => error instanceof SitemirrorError && error.code === 'TIMEOUT');
    assert.ok(Date.now() - started < 2 * LIMITS.timeoutMs + 2_000, `gave up after ${Date.now() - started} ms`);
    const next = await renderer.render({ document: fetched(`${server.origin}/script-body.html`, readFixture('script-body.html')), decide: loadEverything });
    assert.match(next.source.body.toString('utf8'), /Built by a script/);
  });

  it('renders no more pages at once than its pool holds', async () => {
    let open = 0;
    let peak = 0;
    const jobs: RenderJob[] = Array.from({ length: 5 }, (_, i) => ({
      document: fetched(`${server.origin}/pool-${i}.html`, `<!doctype html><title>${i}</title><img src="/img/green.png?${i}">`),
      decide: async () => {
        open++;
        peak = Math.max(peak, open);
        await new Promise((done) => setTimeout(done, 150));
        open--;
        return { action: 'load', capture: false };
      },
    }));
    const rendered = await Promise.all(jobs.map((job) => renderer.render(job)));
    assert.equal(rendered.length, 5);
    // The bound is what matters; whether two renders overlap in time depends on the machine's load.
    assert.ok(peak >= 1 && peak <= 2, `${peak} pages rendered at once with a pool of 2`);
  });

  it('blocks service workers: none is installed, so nothing answers the page from a cache we cannot see', async () => {
    const url = `${server.origin}/worker.html`;
    const script = `navigator.serviceWorker.register('/sw.js')
      .then(() => fetch('/api/fruit.json')).then((response) => response.text())
      .then((text) => { document.getElementById('out').textContent = text; });`;
    const rendered = await renderer.render({ document: fetched(url, `<!doctype html><title>SW</title><p id="out">pending</p><script>${script}</script>`), decide: loadEverything });
    assert.match(rendered.source.body.toString('utf8'), /Quinces/);
    assert.deepEqual(rendered.captured.map((response) => response.url), [`${server.origin}/api/fruit.json`]);
    assert.ok(!server.paths().includes('/sw.js'), 'the worker script was never fetched');
  });

  it('stops a script or meta refresh that navigates away, keeps this page, and reports where it led', async () => {
    const url = `${server.origin}/leaves.html`;
    const rendered = await renderer.render({
      document: fetched(url, '<!doctype html><title>Leaves</title><meta http-equiv="refresh" content="0; url=/by-refresh.html"><p id="p">stayed</p><script>location.href = "/by-script.html"; window.open("/popup.html")</script>'),
      decide: loadEverything,
    });
    assert.match(rendered.source.body.toString('utf8'), /<p id="p">stayed<\/p>/);
    assert.ok(rendered.navigations.includes(`${server.origin}/by-script.html`), rendered.navigations.join(' '));
    assert.ok(!server.paths().some((path) => ['/by-script.html', '/by-refresh.html', '/popup.html'].includes(path)), server.paths().join(' '));
    assert.equal(launched.at(-1)!.contexts()[0]!.pages().filter((page) => page.url().includes('popup')).length, 0, 'the popup was closed');
  });
});

function readFixture(name: string): string {
  return readFileSync(join(FIXTURES, 'render', name), 'utf8');
}
