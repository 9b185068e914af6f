// SCENARIOS.md §5, charsets: E-01 (non-ASCII hrefs in legacy-encoded pages) and E-03 (saved pages read the same
// offline), end to end through the real CLI, checked on disk and in Chromium.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { followLink, launchBrowser, openOffline, openOnline } from './support/browser.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';
import { canonicalProblems, loadSaved, mirrorFixture, type MirrorRun } from './support/scenario.ts';
import { serveFixture } from './support/server.ts';
import { runCli } from './support/cli.ts';

const fileUrl = (run: MirrorRun, path: string) => pathToFileURL(join(run.site, path)).href;

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser.close());

describe('E-01 non-ASCII hrefs in an ISO-8859-15 page', () => {
  const e01 = (file: string) => `scenarios/encoding/e01/${file}`;
  // The server has only the UTF-8 percent-encoded paths; anything else (%E7, %A4, %C2%A4) is a 404.
  const pages: [target: string, file: string, contentType: string][] = [
    ['/', 'index.html', 'text/html; charset=ISO-8859-15'],
    ['/p1_fran%C3%A7ais.html', 'p1.html', 'text/html; charset=ISO-8859-15'],
    ['/p2_%C3%A9%C3%A9n.html', 'p2.html', 'text/html; charset=UTF-8'],
    ['/p3_%E2%82%AC%E2%82%AC%E2%82%AC.html', 'p3.html', 'text/html; charset=UTF-8'],
    ['/p4_m%C3%A9%C3%A9r.html', 'p4.html', 'text/html; charset=UTF-8'],
    ['/p5.html', 'p5.html', 'text/html'],
    ['/p6.html', 'p6.html', 'text/html'],
    ['/p7_%E2%82%AC.html', 'p7.html', 'text/html; charset=utf-8'],
    ['/p8_caf%C3%A9.html', 'p8.html', 'text/html; charset=utf-8'],
  ];
  let run: MirrorRun;
  before(async () => {
    run = await mirrorFixture({ routes: Object.fromEntries(pages.map(([target, file, type]) => [target, serveFixture(e01(file), type)])) });
  });
  after(() => run.server.close());

  it('requests the UTF-8 percent-encoding of each href as decoded with its page charset: header, then meta, then a guess', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual([...run.server.paths()].sort(), ['/robots.txt', ...pages.map(([target]) => target)].sort());
  });

  it("sends the linking page's URL as Referer", () => {
    const referer = (target: string) => run.server.requests.find((request) => request.url === target)?.headers.referer;
    const origin = run.server.origin;
    assert.equal(referer('/p1_fran%C3%A7ais.html'), `${origin}/`);
    assert.equal(referer('/p2_%C3%A9%C3%A9n.html'), `${origin}/p1_fran%C3%A7ais.html`);
    assert.equal(referer('/p4_m%C3%A9%C3%A9r.html'), `${origin}/p2_%C3%A9%C3%A9n.html`);
    assert.equal(referer('/p7_%E2%82%AC.html'), `${origin}/p5.html`);
  });

  it('saves readable UTF-8 file names and links to them', () => {
    const files = listFiles(run.site);
    for (const name of ['p1_français.html', 'p2_één.html', 'p3_€€€.html', 'p4_méér.html', 'p7_€.html', 'p8_café.html']) {
      assert.ok(files.includes(name), `${name} missing; mirror has ${files.join(', ')}`);
    }
    const $ = loadSaved(run, 'index.html');
    assert.equal($('#p1').attr('href'), 'p1_fran%C3%A7ais.html');
    assert.equal($('#p3').attr('href'), 'p3_%E2%82%AC%E2%82%AC%E2%82%AC.html');
    assert.equal(loadSaved(run, 'p1_français.html')('#p2').attr('href'), 'p2_%C3%A9%C3%A9n.html');
    assert.deepEqual(brokenLinks(run.site), []);
    assert.deepEqual(canonicalProblems(run), []);
  });

  it('passes `sitemirror verify`', async () => {
    const verify = await runCli(['verify', run.output]);
    assert.equal(verify.code, 0, verify.stdout);
  });

  it('stores each page as UTF-8 that says so, whatever the origin charset', () => {
    const p1 = readFileSync(join(run.site, 'p1_français.html'), 'utf8');
    assert.match(p1, /<title>La seule page en français<\/title>/);
    assert.equal((p1.match(/charset/gi) ?? []).length, 1, p1);
    assert.match(p1, /<meta charset="utf-8">/);
    assert.match(readFileSync(join(run.site, 'p2_één.html'), 'utf8'), /Één is niet veel/);
    assert.match(readFileSync(join(run.site, 'p5.html'), 'utf8'), /<title>Meta only €<\/title>/);
    assert.match(readFileSync(join(run.site, 'p6.html'), 'utf8'), /<title>Guessed – café<\/title>/);
  });

  it('has Chromium follow the links from disk to the right pages', async () => {
    const page = await browser.newPage();
    try {
      for (const [start, link, title] of [
        ['index.html', '#p1', 'La seule page en français'],
        ['index.html', '#p3', 'Euro page €'],
        ['p1_français.html', '#p2', 'Die enkele nederlandstalige pagina'],
        ['p2_één.html', '#p4', 'Bekende supermarkt'],
        ['p5.html', '#p7', 'Euro'],
        ['p6.html', '#p8', 'Café'],
      ]) {
        await openOffline(page, fileUrl(run, start!));
        assert.equal((await followLink(page, link!)).title, title, `${start} ${link}`);
      }
    } finally {
      await page.close();
    }
  });
});

describe('E-03 saved HTML keeps its characters (no mojibake, no double encoding)', () => {
  const e03 = (file: string) => `scenarios/encoding/e03/${file}`;
  const MIXED = '한국어 Українська 中文 Élan';
  // What each page must show; the origin rendering is compared too, where the origin declares its charset.
  const pages: [name: string, contentType: string, mustShow: string[]][] = [
    ['a-header', 'text/html; charset=utf-8', [MIXED, 'Résumé: déjà vu', '(a) header only – é']],
    ['b-meta', 'text/html', [MIXED, 'Résumé: déjà vu', '(b) meta only – é']],
    ['c-none', 'text/html', [MIXED, 'Résumé: déjà vu', '(c) declared nowhere – é']],
    ['d-gb2312', 'text/html', ['中文页面：简体字，汉语拼音 zhōngwén', 'Русский текст в GB2312.', '(d) 简体中文页面']],
    ['e-latin1', 'text/html; charset=ISO-8859-1', ['Crème brûlée, Élan, déjà vu – “quoted” ½ ß ÿ', '(e) Crème brûlée – été']],
    ['f-shiftjis', 'text/html; charset=Shift_JIS', ['日本語のページ：ひらがな、カタカナ、漢字', '(f) 日本語のページ']],
  ];
  let run: MirrorRun;
  before(async () => {
    const routes = Object.fromEntries(pages.map(([name, type]) => [`/${name}.html`, serveFixture(e03(`${name}.html`), type)]));
    const index = serveFixture(e03('index.html'), 'text/html; charset=utf-8');
    const latin1Css = serveFixture(e03('e-latin1.css'), 'text/css');
    run = await mirrorFixture({ routes: { ...routes, '/': index, '/index.html': index, '/e-latin1.css': latin1Css } });
  });
  after(() => run.server.close());

  it('saves every page as UTF-8 with exactly one charset declaration, utf-8', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    for (const [name, , mustShow] of pages) {
      const html = readFileSync(join(run.site, `${name}.html`), 'utf8');
      assert.deepEqual(html.match(/charset\s*=\s*["']?[\w-]+/gi), ['charset="utf-8'], name);
      for (const text of mustShow) assert.ok(html.includes(text), `${name}: ${text}`);
      assert.doesNotMatch(html, /Ã|Â|\uFFFD/, name);
    }
    assert.deepEqual(brokenLinks(run.site), []);
    assert.deepEqual(canonicalProblems(run), []);
  });

  it('keeps fragments with é as written, in links to other pages and within a page', () => {
    const $ = loadSaved(run, 'index.html');
    assert.equal($('#a-header').attr('href'), 'a-header.html#résumé');
    assert.equal(loadSaved(run, 'e-latin1.html')('a').first().attr('href'), '#café');
    assert.equal(loadSaved(run, 'e-latin1.html')('a').eq(1).attr('href'), 'b-meta.html#résumé');
    assert.equal(loadSaved(run, 'b-meta.html')('a').eq(1).attr('href'), 'index.html#été');
  });

  it("keeps the characters of a legacy stylesheet that relies on its page's charset", async () => {
    const css = readFileSync(join(run.site, 'e-latin1.css'), 'utf8');
    assert.equal(css, '.note::before { content: "Crème – "; }\n');
    const [offlinePage, onlinePage] = [await browser.newPage(), await browser.newPage()];
    const generated = (page: Page) => page.$eval('.note', (note) => getComputedStyle(note, '::before').content);
    try {
      await openOnline(onlinePage, `${run.server.origin}/e-latin1.html`);
      await openOffline(offlinePage, fileUrl(run, 'e-latin1.html'));
      assert.equal(await generated(onlinePage), '"Crème – "');
      assert.equal(await generated(offlinePage), '"Crème – "');
    } finally {
      await offlinePage.close();
      await onlinePage.close();
    }
  });

  it('shows the same title and text offline as the origin shows online', async () => {
    const page = await browser.newPage();
    const originPage = await browser.newPage();
    try {
      for (const [name, , mustShow] of pages) {
        const offline = await openOffline(page, fileUrl(run, `${name}.html`));
        for (const text of mustShow) assert.ok(`${offline.title}\n${offline.text}`.includes(text), `${name} offline lacks ${text}:\n${offline.text}`);
        // (c) declares no charset: what a browser guesses for it online depends on its locale, so only the text above counts.
        if (name === 'c-none') continue;
        const online = await openOnline(originPage, `${run.server.origin}/${name}.html`);
        assert.deepEqual({ title: offline.title, text: offline.text }, { title: online.title, text: online.text }, name);
      }
    } finally {
      await page.close();
      await originPage.close();
    }
  });
});
