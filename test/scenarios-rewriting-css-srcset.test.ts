// SCENARIOS.md §3, values inside values: L-07 (CSS @import and url()), L-09 (entities), L-11 (srcset), end to end.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchBrowser, openOffline } from './support/browser.ts';
import { brokenLinks } from './support/linkcheck.ts';
import { canonicalProblems, loadSaved, mirrorFixture, type MirrorRun } from './support/scenario.ts';
import { serveFixture } from './support/server.ts';

const fixture = (scenario: string) => `scenarios/rewriting/${scenario}`;
const fileUrl = (run: MirrorRun, path: string) => pathToFileURL(join(run.site, path)).href;
const read = (run: MirrorRun, path: string) => readFileSync(join(run.site, path), 'utf8');
/** The file a relative reference in a saved file opens, as a browser resolves it from disk. */
const openedFile = (run: MirrorRun, from: string, href: string) => fileURLToPath(new URL(href, fileUrl(run, from)));
const requested = (run: MirrorRun) => [...new Set(run.server.paths())].sort();

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser.close());

describe('L-07 CSS @import forms and url() inside external CSS, relative to the CSS file', () => {
  let run: MirrorRun;
  before(async () => {
    run = await mirrorFixture({ root: fixture('l07') });
  });
  after(() => run.server.close());

  it('fetches every import and image once, and nothing from data: URIs or the cut-off @import', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(requested(run), [
      '/',
      '/css/imports.css',
      '/css/main.css',
      '/css/page4.html',
      '/css/sub/layer.css',
      '/css/sub/media.css',
      '/css/sub/spaced.css',
      '/css/sub/supports.css',
      '/files/index-image-1.png',
      '/files/index-image-2.png',
      '/files/index-import-1.css',
      '/files/index-import-2.css',
      '/files/index-import-3.css',
      '/index.css',
      '/page2.html',
      '/robots.txt',
    ]);
    assert.equal(run.server.paths().length, requested(run).length, 'a URL was requested twice');
  });

  it('rewrites paths relative to each CSS file, absolute ones included', () => {
    assert.equal(
      read(run, 'index.css'),
      `@import "files/index-import-1.css";\n@import url("files/index-import-2.css");\nbody { background-image: url('files/index-image-1.png'); }\n`,
    );
    assert.equal(read(run, 'files/index-import-2.css'), `@import "index-import-3.css";\ndiv { background: url("index-image-2.png"); }\n`);
  });

  it('keeps @charset, the text after url(), and data: URIs exactly', () => {
    const css = read(run, 'css/main.css');
    assert.equal(
      css,
      readFileSync(join(import.meta.dirname, '..', 'fixtures', fixture('l07'), 'css/main.css'), 'utf8')
        .replace('url(/page2.html)', 'url(../page2.html)'),
    );
    assert.match(css, /url\('page4\.html'\)/);
  });

  it('keeps media queries, supports(), layer() and spacing after @import, and leaves the cut-off @import alone', () => {
    assert.equal(
      read(run, 'css/imports.css'),
      [
        '@import url("sub/media.css") screen and (min-width: 600px);',
        '@import "sub/supports.css" supports(display: grid);',
        '@import url(sub/layer.css) layer(base);',
        '@import "sub/spaced.css" ;',
        '@import "/css/sub/never-requested.css',
        '',
      ].join('\n'),
    );
  });

  it('leaves no broken local reference in any page or stylesheet', () => {
    assert.deepEqual(brokenLinks(run.site), []);
    assert.deepEqual(canonicalProblems(run), []);
  });
});

describe('L-09 HTML entities in attributes; CSS is not entity-decoded; quoting stays valid', () => {
  let run: MirrorRun;
  const png = `${fixture('l09')}/image.png`;
  before(async () => {
    run = await mirrorFixture({
      root: fixture('l09'),
      routes: {
        '/fonts?family=Myriad&v=2': serveFixture(`${fixture('l09')}/fonts.css`, 'text/css'),
        '/style-attr.png?a=1&style-attr.png': serveFixture(png, 'image/png'),
        '/img.png?a=1&b=2': serveFixture(png, 'image/png'),
        '/external-style.png?v=2&amp;name=external-style.png': serveFixture(png, 'image/png'),
      },
    });
  });
  after(() => run.server.close());

  it('decodes entities in HTML attributes once, and never in CSS', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    const paths = run.server.paths();
    for (const expected of [
      '/fonts?family=Myriad&v=2',
      '/style-attr.png?a=1&style-attr.png',
      '/style-attr2.png',
      '/img.png?a=1&b=2',
      '/external-style.png?v=2&amp;name=external-style.png',
    ]) {
      assert.ok(paths.includes(expected), `${expected} not requested: ${paths.join(' ')}`);
    }
    assert.equal(paths.filter((path) => path.startsWith('/external-style.png')).length, 1);
  });

  it('writes valid markup: no double escaping, the &quot; style still parses, every reference resolves', () => {
    const raw = read(run, 'index.html');
    assert.doesNotMatch(raw, /&amp;amp;|&amp;quot;/);
    const $ = loadSaved(run, 'index.html');
    for (const [selector, attribute] of [['link[rel=stylesheet]', 'href'], ['#img', 'src']] as const) {
      const value = $(selector).first().attr(attribute)!;
      assert.ok(!value.startsWith('http') && existsSync(openedFile(run, 'index.html', value)), `${selector}: ${value}`);
    }
    for (const id of ['#single', '#quot']) {
      const match = /^background: url\((['"])([^'"]+)\1\); height: 10px$/.exec($(id).attr('style')!);
      assert.ok(match, $(id).attr('style'));
      assert.ok(existsSync(openedFile(run, 'index.html', match[2]!)), match[2]);
    }
    assert.match(read(run, 'style.css'), /^body \{ background: url\('external-style\.png@v=2%26amp;name=external-style\.png'\); \}\n$/);
    assert.deepEqual(brokenLinks(run.site), []);
    assert.deepEqual(canonicalProblems(run), []);
  });

  it('keeps a JSON data attribute unchanged when read back', () => {
    const value = loadSaved(run, 'second.html')('#slider').attr('data-test')!;
    assert.deepEqual(JSON.parse(value), [{ breakpoint: 1200, slidesToShow: 3 }]);
  });

  it('has Chromium show every image and background from disk, and read the same JSON', async () => {
    const page = await browser.newPage();
    try {
      const view = await openOffline(page, fileUrl(run, 'index.html'));
      assert.ok(view.images.every((image) => image.naturalWidth > 0), JSON.stringify(view.images));
      const backgrounds = await page.$$eval('#single, #quot, body', (elements) => elements.map((el) => getComputedStyle(el).backgroundImage));
      for (const background of backgrounds) assert.match(background, /^url\("file:\/\//, background);
      await openOffline(page, fileUrl(run, 'second.html'));
      const data = await page.$eval('#slider', (el) => JSON.parse((el as HTMLElement).dataset.test ?? 'null') as unknown);
      assert.deepEqual(data, [{ breakpoint: 1200, slidesToShow: 3 }]);
      assert.deepEqual(view.blockedRequests, []);
    } finally {
      await page.close();
    }
  });
});

describe('L-11 srcset parsing and rewriting', () => {
  let run: MirrorRun;
  before(async () => {
    run = await mirrorFixture({ root: fixture('l11') });
  });
  after(() => run.server.close());

  it('downloads every real candidate and nothing named after a descriptor or a piece of a data: URI', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    const gifs = ['a', 'b', 'c', 'd', 'dz', 'e', 'f', 'g', 'h', 'i', 'k', 'l', 'm', 'v'].map((name) => `/img/${name}.gif`);
    const sizes = ['w1200', 'w300', 'w600', 'w900'].map((size) => `/size/${size}/x.png`);
    assert.deepEqual(requested(run), ['/', '/abs/j.gif', ...gifs, '/robots.txt', ...sizes].sort());
  });

  it('rewrites each URL in place, keeping descriptors, commas, spacing and data: URIs exactly', () => {
    const $ = loadSaved(run, 'index.html');
    const srcset = (id: string) => $(`#${id}`).attr('srcset');
    assert.equal($('#widths').attr('src'), 'img/a.gif');
    assert.equal(srcset('widths'), 'img/b.gif 480w, img/c.gif 800w');
    assert.equal(srcset('density'), 'img/d.gif 1x, img/c.gif 2x');
    assert.equal(srcset('bare'), 'img/e.gif, img/f.gif');
    assert.equal(srcset('after'), 'img/g.gif 2x');
    assert.equal(srcset('spaces'), '  img/h.gif   2x ,  img/i.gif  ');
    assert.equal(srcset('absolute'), 'abs/j.gif 1.5x');
    assert.equal(srcset('data'), 'data:image/gif;base64,AAAA,BBBB= 1x, img/dz.gif 2x');
    assert.equal(srcset('empty'), '');
    assert.equal($('#video source').attr('src'), 'img/v.gif');
    assert.equal(srcset('repeat'), 'img/k.gif 1x, img/k.gif 2x');
    assert.equal(srcset('multiline'), 'img/l.gif 1x,\n          img/m.gif 2x');
    assert.equal(srcset('prefix'), 'size/w300/x.png 300w, size/w600/x.png 600w, size/w900/x.png 900w, size/w1200/x.png 1200w');
  });

  it('keeps the attributes written after srcset', () => {
    const $ = loadSaved(run, 'index.html');
    assert.equal($('#after').attr('alt'), 'attribute after srcset');
    assert.equal($('#after').attr('title'), 'kept');
    assert.equal($('#multiline').attr('media'), '(min-width: 1px)');
    assert.deepEqual(brokenLinks(run.site), []);
    assert.deepEqual(canonicalProblems(run), []);
  });

  it('has Chromium show every image from disk, whichever candidate it picks', async () => {
    const page = await browser.newPage();
    try {
      const view = await openOffline(page, fileUrl(run, 'index.html'));
      const images = view.images.filter((_, i) => i !== 6); // #data: its 1x candidate is a broken data: URI on the origin too
      assert.equal(images.length, 10);
      for (const image of images) {
        assert.ok(image.currentSrc.startsWith(pathToFileURL(run.site).href) && image.naturalWidth > 0, JSON.stringify(image));
      }
      assert.deepEqual(view.blockedRequests, []);
    } finally {
      await page.close();
    }
  });
});
