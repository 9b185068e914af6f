// SCENARIOS.md §3, links: L-01, L-02, L-12, L-14, L-17 end to end through the real CLI, checked on disk and in Chromium.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { followLink, launchBrowser, openOffline } from './support/browser.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';
import { canonicalProblems, loadSaved, mirrorFixture, type MirrorRun } from './support/scenario.ts';
import { serveFixture } from './support/server.ts';

const HTML = 'text/html; charset=utf-8';
const fixture = (scenario: string) => `scenarios/rewriting/${scenario}`;
const fileUrl = (run: MirrorRun, path: string) => pathToFileURL(join(run.site, path)).href;
/** How a browser reads a relative href in a saved file: the file it opens, or null if that is not a local file. */
function openedFile(run: MirrorRun, from: string, href: string): string | null {
  const url = new URL(href, fileUrl(run, from));
  return url.protocol === 'file:' ? fileURLToPath(url) : null;
}

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser.close());

describe('L-01 reserved characters in file names (; and :)', () => {
  let run: MirrorRun;
  before(async () => {
    run = await mirrorFixture({
      root: fixture('l01'),
      routes: {
        '/site;sub:.html': serveFixture(`${fixture('l01')}/site-sub.html`, HTML),
        '/a:b.html': serveFixture(`${fixture('l01')}/a-b.html`, HTML),
      },
    });
  });
  after(() => run.server.close());

  it('saves both targets; `:` is written %3A by our naming rule (README "Output layout"), `;` is kept', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    const files = listFiles(run.site);
    assert.ok(files.includes('site;sub%3A.html'), files.join(', '));
    assert.ok(files.includes('a%3Ab.html'), files.join(', '));
    assert.match(readFileSync(join(run.site, 'site;sub%3A.html'), 'utf8'), /The page at \/site;sub:\.html/);
    assert.deepEqual(brokenLinks(run.site), []);
    assert.deepEqual(canonicalProblems(run), []);
  });

  it('writes no relative href whose first segment holds a colon (it would read as a URL scheme)', () => {
    const $ = loadSaved(run, 'index.html');
    for (const href of $('a').map((_, a) => $(a).attr('href')).get()) {
      assert.doesNotMatch(href, /^[^/?#]*:/, href);
      assert.ok(existsSync(openedFile(run, 'index.html', href)!), href);
    }
  });

  it('opens each rewritten link from disk in Chromium', async () => {
    const page = await browser.newPage();
    try {
      await openOffline(page, fileUrl(run, 'index.html'));
      assert.equal((await followLink(page, '#semicolon-colon')).title, 'semicolon and colon');
      await openOffline(page, fileUrl(run, 'index.html'));
      const scheme = await followLink(page, '#scheme-like');
      assert.equal(scheme.title, 'scheme-like name');
      assert.ok(scheme.url.startsWith('file:'), scheme.url);
    } finally {
      await page.close();
    }
  });
});

describe('L-02 absolute links, odd scheme case, query strings and <style>', () => {
  let run: MirrorRun;
  before(async () => {
    run = await mirrorFixture({
      root: fixture('l02'),
      routes: { '/subdir/third.html?x&h=http%3A%2F%2Fexample.com': serveFixture(`${fixture('l02')}/third-query.html`, HTML) },
    });
  });
  after(() => run.server.close());

  it('treats htTp:// as the same host: every variant is relative', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    const $ = loadSaved(run, 'index.html');
    assert.equal($('#plain').attr('href'), 'second.html');
    assert.equal($('#odd-scheme').attr('href'), 'second.html');
    assert.equal($('#odd-scheme-subdir').attr('href'), 'subdir/third.html');
    const styles = $('style').map((_, style) => $(style).text()).get();
    assert.equal(styles.length, 2);
    for (const css of styles) assert.match(css, /url\(second\.html\)/, css);
  });

  it('saves the query variant as its own file and links it with the fragment, escaped for a file URL', () => {
    const href = loadSaved(run, 'index.html')('#query').attr('href')!;
    assert.ok(href.endsWith('#frag'), href);
    // `?` would start a query from disk and `%` must survive one decoding: neither may stand literally.
    assert.doesNotMatch(href.replace(/#frag$/, ''), /[?#]|%(?![0-9A-F]{2})/, href);
    const target = openedFile(run, 'index.html', href)!;
    assert.match(readFileSync(target, 'utf8'), /third page, query x&amp;h=http:\/\/example\.com/);
    assert.match(readFileSync(join(run.site, 'subdir/third.html'), 'utf8'), /third page, no query/);
    assert.deepEqual(canonicalProblems(run), []);
  });

  it('leaves <script> text alone and never fetches what document.write would add', () => {
    assert.match(readFileSync(join(run.site, 'index.html'), 'utf8'), /<script>document\.write\('<img src="rw1">'\);<\/script>/i);
    assert.ok(!run.server.paths().some((path) => path.includes('rw1')), run.server.paths().join(' '));
  });

  it('opens the query variant from disk in Chromium at its fragment', async () => {
    const page = await browser.newPage();
    try {
      await openOffline(page, fileUrl(run, 'index.html'));
      const view = await followLink(page, '#query');
      assert.equal(view.title, 'third with query');
      assert.equal(new URL(view.url).hash, '#frag');
    } finally {
      await page.close();
    }
  });
});

describe('L-12 <base href>', () => {
  let run: MirrorRun;
  before(async () => {
    run = await mirrorFixture({
      root: fixture('l12'),
      routes: {
        '/subdir1/subpage1.html?query&param': serveFixture(`${fixture('l12')}/subdir1/subpage1-query.html`, HTML),
        '/subdir3%3A/': serveFixture(`${fixture('l12')}/subdir3/index.html`, HTML),
      },
    });
  });
  after(() => run.server.close());

  it('resolves links against the base, drops CR/LF inside URLs and decodes character references once', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    const paths = run.server.paths();
    for (const expected of ['/secondpage.html', '/subdir1/subpage1.html?query&param', '/subdir1/subpage2.html', '/subdir3%3A/', '/subdir2/subpage2.html']) {
      assert.ok(paths.includes(expected), `${expected} not requested: ${paths.join(' ')}`);
    }
    assert.ok(!paths.some((path) => /%0[AD]|&amp;|&#/i.test(path)), paths.join(' '));
  });

  it('ignores the broken base http:// and resolves against the page URL', () => {
    const paths = run.server.paths();
    for (const expected of ['/abs.html', '/proto.html', '/root.html', '/deep/rel.html']) assert.ok(paths.includes(expected), expected);
    const $ = loadSaved(run, 'deep/index2.html');
    assert.deepEqual(
      ['#absolute', '#protocol-relative', '#root-relative', '#relative'].map((id) => $(id).attr('href')),
      ['../abs.html', '../proto.html', '../root.html', 'rel.html'],
    );
  });

  it('removes <base> so the relative links written resolve from the saved file itself', () => {
    for (const path of ['index.html', 'secondpage.html', 'deep/index2.html']) assert.equal(loadSaved(run, path)('base').length, 0, path);
    const $ = loadSaved(run, 'index.html');
    assert.equal($('#crlf').attr('href'), 'secondpage.html');
    assert.equal($('#dot').attr('href'), 'subdir1/subpage2.html');
    assert.match($('#charrefs').attr('href')!, /^subdir1\/subpage1\.html@query%26param\.html#frag$/);
    assert.equal(loadSaved(run, 'secondpage.html')('#unquoted').attr('href'), 'subdir2/subpage2.html');
    assert.deepEqual(brokenLinks(run.site), []);
  });

  it('uses the page URL, not the base, for the canonical link', () => {
    assert.equal(loadSaved(run, 'index.html')('link[rel=canonical]').attr('href'), `${run.server.origin}/`);
    assert.deepEqual(canonicalProblems(run), []);
  });

  it('has Chromium resolve every link of the saved pages to an existing local file', async () => {
    const page = await browser.newPage();
    try {
      for (const path of ['index.html', 'secondpage.html', 'deep/index2.html']) {
        await openOffline(page, fileUrl(run, path));
        assert.equal(await page.evaluate(() => document.baseURI), fileUrl(run, path));
        const hrefs = await page.$$eval('a', (links) => links.map((a) => (a as HTMLAnchorElement).href));
        for (const href of hrefs) {
          assert.ok(href.startsWith('file:'), `${path}: ${href}`);
          const file = fileURLToPath(href.replace(/#.*$/, ''));
          assert.ok(existsSync(file) && statSync(file).isFile(), `${path}: ${href}`);
        }
      }
      await openOffline(page, fileUrl(run, 'index.html'));
      assert.equal((await followLink(page, '#colon')).title, 'subdir3 colon');
      await openOffline(page, fileUrl(run, 'index.html'));
      assert.equal((await followLink(page, '#charrefs')).title, 'subpage1 with query');
    } finally {
      await page.close();
    }
  });
});

describe('L-14 links that failed or were filtered out become absolute, not local', () => {
  let run: MirrorRun;
  let origin: string;
  before(async () => {
    run = await mirrorFixture({
      root: fixture('l14'),
      routes: {
        '/missing-img.png': (req) => void req.socket.destroy(),
        '/b.png': serveFixture(`${fixture('l14')}/b.png`, 'text/plain', {}, 500),
      },
      args: ['--depth', '1', '--exclude', '/filtered/', '--retries', '0'],
    });
    origin = run.server.origin;
  });
  after(() => run.server.close());

  it('exits 1 and reports each failure', () => {
    assert.equal(run.result.code, 1, run.result.stderr);
    const failed = new Map(run.events.filter((e) => e.event === 'failed').map((e) => [e.url, e.code]));
    assert.equal(failed.get(`${origin}/missing-img.png`), 'NETWORK');
    assert.ok(failed.has(`${origin}/b.png`), JSON.stringify([...failed]));
    assert.ok(failed.has(`${origin}/missing-script.js`), JSON.stringify([...failed]));
  });

  it('never requests what the depth limit or the exclude rule dropped', () => {
    const paths = run.server.paths();
    assert.ok(paths.includes('/link1.html'));
    assert.deepEqual(paths.filter((path) => path.startsWith('/filtered/') || path === '/missing-link.html'), []);
  });

  it('keeps saved requisites local and writes every other link as its absolute origin URL', () => {
    const $ = loadSaved(run, 'index.html');
    const css = $('style').text();
    assert.match(css, /\.a \{ background: url\('a\.png'\); \}/);
    assert.match(css, new RegExp(`\\.b \\{ background: url\\('${origin}/b\\.png'\\); \\}`));
    assert.match(css, /\.c \{ background: url\('c\.png'\); \}/);
    assert.ok(existsSync(join(run.site, 'a.png')) && existsSync(join(run.site, 'c.png')));
    assert.ok(!existsSync(join(run.site, 'b.png')) && !existsSync(join(run.site, 'missing-img.png')));
    assert.equal($('#missing').attr('src'), `${origin}/missing-img.png`);
    assert.equal($('script[src]').attr('src'), `${origin}/missing-script.js`);
    assert.equal($('#filtered-img').attr('src'), `${origin}/filtered/pic.png`);
    assert.equal($('#filtered').attr('href'), `${origin}/filtered/page.html`);
    assert.equal($('#link1').attr('href'), 'link1.html');
    const link1 = loadSaved(run, 'link1.html');
    assert.equal(link1('#too-deep').attr('href'), `${origin}/missing-link.html`);
    assert.equal(link1('#home').attr('href'), 'index.html');
  });

  it('leaves no local link to a file that does not exist', () => {
    assert.deepEqual(brokenLinks(run.site), []);
    assert.deepEqual(canonicalProblems(run), []);
  });

  it('has Chromium load the kept images from disk and ask the origin (blocked) for the rest', async () => {
    const page = await browser.newPage();
    try {
      const view = await openOffline(page, fileUrl(run, 'index.html'));
      assert.deepEqual(
        [...view.blockedRequests].sort(),
        [`${origin}/b.png`, `${origin}/filtered/pic.png`, `${origin}/missing-img.png`, `${origin}/missing-script.js`],
      );
    } finally {
      await page.close();
    }
  });
});

describe('L-17 meta refresh, iframes and other embedded documents', () => {
  const routes = { '/iframe': serveFixture(`${fixture('l17')}/iframe.html`, HTML) };
  const media = ['media/doc.pdf', 'media/anim.svg', 'media/poster.png', 'media/clip.mp4', 'media/subs.vtt', 'media/sound.mp3'];
  let run: MirrorRun;
  let shallow: MirrorRun;
  before(async () => {
    run = await mirrorFixture({ root: fixture('l17'), routes });
    shallow = await mirrorFixture({ root: fixture('l17'), routes, args: ['--depth', '0'] });
  });
  after(async () => {
    await run.server.close();
    await shallow.server.close();
  });

  it('follows the refresh target as a page and rewrites only its url= part, keeping the delay', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.ok(existsSync(join(run.site, 'pages/next.html')));
    assert.equal(loadSaved(run, 'index.html')('meta[http-equiv=refresh]').attr('content'), '0; url=pages/next.html');
  });

  it('saves the iframe document as HTML with its own requisites and rewritten links', () => {
    const $ = loadSaved(run, 'index.html');
    assert.equal($('#frame').attr('src'), 'iframe.html');
    const frame = loadSaved(run, 'iframe.html');
    assert.equal(frame('#cat').attr('src'), 'cat.png');
    assert.equal(frame('#next').attr('href'), 'pages/next.html');
    assert.ok(existsSync(join(run.site, 'cat.png')));
    assert.deepEqual(brokenLinks(run.site), []);
    assert.deepEqual(canonicalProblems(run), []);
  });

  it('treats <object data>, <embed src>, <video poster/src>, <track src> and <audio><source> as requisites', () => {
    for (const path of media) assert.ok(existsSync(join(run.site, path)), path);
    const $ = loadSaved(run, 'index.html');
    assert.deepEqual(
      [$('#object').attr('data'), $('#embed').attr('src'), $('#video').attr('poster'), $('#video').attr('src'), $('#track').attr('src'), $('#audio-source').attr('src')],
      ['media/doc.pdf', 'media/anim.svg', 'media/poster.png', 'media/clip.mp4', 'media/subs.vtt', 'media/sound.mp3'],
    );
  });

  it('fetches the iframe and the media even at depth 0, where the refresh target is abs-origin', () => {
    assert.equal(shallow.result.code, 0, shallow.result.stderr);
    for (const path of [...media, 'iframe.html', 'cat.png']) assert.ok(existsSync(join(shallow.site, path)), path);
    assert.ok(!shallow.server.paths().includes('/pages/next.html'));
    const origin = shallow.server.origin;
    assert.equal(loadSaved(shallow, 'index.html')('meta[http-equiv=refresh]').attr('content'), `0; url=${origin}/pages/next.html`);
    assert.equal(loadSaved(shallow, 'iframe.html')('#next').attr('href'), `${origin}/pages/next.html`);
    assert.deepEqual(brokenLinks(shallow.site), []);
  });

  it('shows the iframe document with its image from disk in Chromium', async () => {
    const page = await browser.newPage();
    try {
      const view = await openOffline(page, fileUrl(run, 'iframe.html'));
      assert.equal(view.title, 'L-17 iframe');
      assert.deepEqual(view.images.map((image) => image.naturalWidth > 0), [true]);
      assert.deepEqual(view.blockedRequests, []);
    } finally {
      await page.close();
    }
  });
});
