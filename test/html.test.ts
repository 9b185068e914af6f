import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { load } from 'cheerio';
import { htmlWithoutScripts, parseHtml, runsScripts } from '../src/html.js';
import fc from 'fast-check';
import { expectedForPage, extensionOf } from '../src/linktable.js';
import { parseSrcset } from '../src/srcset.js';
import type { LinkResolver, Reference } from '../src/types.js';

const HOST = 'http://host';

/** A mirror that holds exactly the given URLs, at the given paths relative to the page being written. */
function mirrorOf(paths: Record<string, string>): LinkResolver {
  return (url) => paths[url] ?? null;
}
const nothingMirrored: LinkResolver = () => null;

function page(body: string, head = ''): string {
  return `<!DOCTYPE html><html><head>${head}</head><body>${body}</body></html>`;
}

/** Serialises with the given resolver and reads the result back as a browser would. */
function rewrite(html: string, pageUrl: string, resolve: LinkResolver, canonicalUrl: string | null = null) {
  const out = parseHtml(html, pageUrl).serialize(resolve, { canonicalUrl });
  return { out, $: load(out) };
}

const refs = (html: string, pageUrl = `${HOST}/index.html`): Reference[] => parseHtml(html, pageUrl).references;
const urls = (html: string, pageUrl = `${HOST}/index.html`): string[] => refs(html, pageUrl).map((ref) => ref.url);

describe('html: which <link rel> values are requisites (R-05)', () => {
  const index = page(
    '<p>A link to a <a href="http://host/secondpage.html">second page</a>.' +
      '<picture><source srcset="logo.svg"></picture> Hey, a picture <img src="picture.png"/>.' +
      ' Hey, a srcset <img srcset="picture1.png, picture2.png 150w,picture3.png 100x"/>.' +
      '<link rel="stylesheet" href="test1.css" /><link href="test2.css" rel="stylesheet" />' +
      '<link rel="shortcut icon" href="myfavicon.ico" /><link rel="icon" href="icon.ico" />' +
      '<link rel="alternate icon" href="icon2.ico" /><link rel="alternate icon whatever" href="icon3.ico" />' +
      '<link rel=" icon whatever" href="icon4.ico" /><link rel="wontdownload" href="wontdownload.txt" />' +
      '<link href="not.txt" rel="whatever" /><link href="preload.css" rel="preload" as="style"/></p>',
  );

  it('lists exactly the page link and the requisites, in document order', () => {
    const requisite = (name: string, expected = 'other') => ({ url: `${HOST}/${name}`, kind: 'requisite', expected });
    assert.deepEqual(refs(index), [
      { url: `${HOST}/secondpage.html`, kind: 'page', expected: 'html' },
      requisite('logo.svg'),
      requisite('picture.png'),
      requisite('picture1.png'),
      requisite('picture2.png'),
      requisite('picture3.png'),
      requisite('test1.css', 'css'),
      requisite('test2.css', 'css'),
      requisite('myfavicon.ico'),
      requisite('icon.ico'),
      requisite('icon2.ico'),
      requisite('icon3.ico'),
      requisite('icon4.ico'),
      requisite('preload.css', 'css'),
    ]);
  });

  it('rewrites kept requisites to local paths and other rel values to the origin', () => {
    const local = ['logo.svg', 'picture.png', 'picture1.png', 'picture2.png', 'picture3.png', 'test1.css', 'icon4.ico', 'preload.css'];
    const { $ } = rewrite(index, `${HOST}/index.html`, mirrorOf(Object.fromEntries(local.map((name) => [`${HOST}/${name}`, name]))));
    assert.equal($('img[srcset]').attr('srcset'), 'picture1.png, picture2.png 150w,picture3.png 100x');
    assert.equal($('link[href$="icon4.ico"]').attr('href'), 'icon4.ico');
    assert.equal($('link[rel="wontdownload"]').attr('href'), `${HOST}/wontdownload.txt`);
    assert.equal($('link[rel="whatever"]').attr('href'), `${HOST}/not.txt`);
    assert.equal($('a').attr('href'), `${HOST}/secondpage.html`);
  });

  it('keeps descriptors when requisites above the page are rewritten upwards (no-parent variant)', () => {
    const html = page(
      '<img src="../picture.png"/><img srcset="../picture1.png, /picture2.png 150w,http://host/picture3.png 100x"/>' +
        '<link rel="stylesheet" href="/test1.css" /><link href="../preload.css" rel="preload" as="style"/>',
    );
    const { $ } = rewrite(html, `${HOST}/firstlevel/index.html`, (url) => `..${new URL(url).pathname}`);
    assert.equal($('img').first().attr('src'), '../picture.png');
    assert.equal($('img[srcset]').attr('srcset'), '../picture1.png, ../picture2.png 150w,../picture3.png 100x');
    assert.equal($('link[rel=stylesheet]').attr('href'), '../test1.css');
    assert.equal($('link[as]').attr('href'), '../preload.css');
  });

  const relCases: Array<[string, string | null, Reference['expected'] | null]> = [
    ['rel="stylesheet"', null, 'css'],
    ['rel="alternate stylesheet"', null, 'css'],
    ['rel="ICON"', null, 'other'],
    ['rel="apple-touch-icon"', null, 'other'],
    ['rel="apple-touch-icon-precomposed"', null, 'other'],
    ['rel="mask-icon"', null, 'other'],
    ['rel="manifest"', null, 'other'],
    ['rel="preload"', 'style', 'css'],
    ['rel="preload"', 'font', 'other'],
    ['rel="preload"', 'image', 'other'],
    ['rel="preload"', 'script', 'other'],
    ['rel="modulepreload"', null, 'other'],
    ['rel="preload"', 'fetch', null],
    ['rel="preload"', null, null],
    ['rel="alternate"', null, null],
    ['rel="next"', null, null],
    ['rel="dns-prefetch"', null, null],
    ['rel=""', null, null],
    ['', null, 'css'], // no rel at all: by extension (website-scraper's circular test)
  ];
  for (const [rel, as, expected] of relCases) {
    it(`treats <link ${rel || '(no rel)'}${as ? ` as=${as}` : ''} href=x.css> as ${expected ?? 'not a reference'}`, () => {
      const html = page('', `<link ${rel} ${as ? `as="${as}"` : ''} href="x.css">`);
      assert.deepEqual(refs(html), expected === null ? [] : [{ url: `${HOST}/x.css`, kind: 'requisite', expected }]);
    });
  }

  it('treats a <link href> without rel and without .css as a plain requisite', () => {
    assert.deepEqual(refs(page('', '<link href="favicon">')), [{ url: `${HOST}/favicon`, kind: 'requisite', expected: 'other' }]);
  });
});

describe('html: link kinds and expected types', () => {
  it('finds embedded documents and media as requisites (L-17)', () => {
    const html = page(
      '<iframe src="/iframe"></iframe><object data="movie.swf"></object><embed src="e.swf">' +
        '<video src="v.mp4" poster="poster.jpg"><track src="subs.vtt"></video><audio><source src="a.ogg"></audio>' +
        '<input type="image" src="btn.png"><input type="text" src="not.png"><table background="t.gif"><tr><td background="td.gif"></td></tr></table>' +
        '<script src="app.js"></script><img data-src="lazy.jpg" data-srcset="lazy2.jpg 2x"><picture><source data-srcset="lazy3.webp"></picture>',
    );
    assert.deepEqual(
      refs(html).map((ref) => [ref.url.slice(HOST.length), ref.kind, ref.expected]),
      [
        ['/iframe', 'requisite', 'html'],
        ['/movie.swf', 'requisite', 'other'],
        ['/e.swf', 'requisite', 'other'],
        ['/v.mp4', 'requisite', 'other'],
        ['/poster.jpg', 'requisite', 'other'],
        ['/subs.vtt', 'requisite', 'other'],
        ['/a.ogg', 'requisite', 'other'],
        ['/btn.png', 'requisite', 'other'],
        ['/t.gif', 'requisite', 'other'],
        ['/td.gif', 'requisite', 'other'],
        ['/app.js', 'requisite', 'other'],
        ['/lazy.jpg', 'requisite', 'other'],
        ['/lazy2.jpg', 'requisite', 'other'],
        ['/lazy3.webp', 'requisite', 'other'],
      ],
    );
  });

  it('fetches the frames of a frameset as HTML requisites', () => {
    const html = '<html><head></head><frameset cols="50%,50%"><frame src="left.html"><frame src="right"></frameset></html>';
    assert.deepEqual(refs(html), [
      { url: `${HOST}/left.html`, kind: 'requisite', expected: 'html' },
      { url: `${HOST}/right`, kind: 'requisite', expected: 'html' },
    ]);
  });

  it('follows a meta refresh as a page link and rewrites only its URL (L-17)', () => {
    const html = page('', '<meta http-equiv="Refresh" content="0;  URL = \'x.html\'">');
    assert.deepEqual(refs(html), [{ url: `${HOST}/x.html`, kind: 'page', expected: 'html' }]);
    const { $ } = rewrite(html, `${HOST}/index.html`, mirrorOf({ [`${HOST}/x.html`]: 'local/x.html' }));
    assert.equal($('meta[http-equiv]').attr('content'), "0;  URL = 'local/x.html'");
    for (const content of ['5', '0;', 'text/html; charset=utf-8']) assert.deepEqual(refs(page('', `<meta http-equiv="refresh" content="${content}">`)), []);
    assert.deepEqual(urls(page('', '<meta http-equiv="refresh" content="3; next.html">')), [`${HOST}/next.html`]);
    assert.deepEqual(urls(page('', '<meta name="x" content="0; url=no.html">')), []);
  });

  it('finds SVG image and use references (href and xlink:href) but leaves in-document fragments', () => {
    const html = page('<svg><image xlink:href="pic.png"/><use href="sprite.svg#icon"/><use href="#local"/><a xlink:href="p.html">p</a></svg>');
    assert.deepEqual(urls(html), [`${HOST}/pic.png`, `${HOST}/sprite.svg`, `${HOST}/p.html`]);
    const out = rewrite(html, `${HOST}/index.html`, () => 'L.svg').out;
    // Spliced into the page's own text: the self-closing slashes stay as written.
    assert.match(out, /<image xlink:href="L\.svg"\/>/);
    assert.match(out, /<use href="L\.svg#icon"\/>/);
    assert.match(out, /<use href="#local"\/>/);
  });

  it('lets a requisite win over a page link to the same URL, at the first position', () => {
    assert.deepEqual(refs(page('<a href="x.png">x</a><a href="y.html">y</a><img src="x.png"><a href="y.html#again">')), [
      { url: `${HOST}/x.png`, kind: 'requisite', expected: 'other' },
      { url: `${HOST}/y.html`, kind: 'page', expected: 'html' },
    ]);
  });

  const pageTypes: Array<[string, Reference['expected']]> = [
    ['/doc.pdf', 'other'],
    ['/notes.TXT', 'other'],
    ['/song.mp3', 'other'],
    ['/archive.zip', 'other'],
    ['/style.css', 'css'],
    ['/about', 'html'],
    ['/dir/', 'html'],
    ['/index.php?x=1.pdf', 'html'],
    ['/page.aspx', 'html'],
    ['/old.shtml', 'html'],
    ['/v1.2/guide', 'html'],
    ['/release-1.0', 'html'],
  ];
  for (const [path, expected] of pageTypes) {
    it(`expects a page link to ${path} to be ${expected}`, () => assert.equal(expectedForPage(`${HOST}${path}`), expected));
  }

  it('leaves empty, fragment-only and non-http links exactly as written and returns none of them', () => {
    const links = ['', '#top', 'mailto:a@b.c', 'javascript:void(0)', 'tel:+123', 'data:text/plain,x', 'file:///etc/passwd', 'about:blank', 'ftp://h/x'];
    const html = page(links.map((href) => `<a href="${href}">x</a>`).join(''));
    assert.deepEqual(refs(html), []);
    const { $ } = rewrite(html, `${HOST}/index.html`, () => 'never.html');
    assert.deepEqual($('a').map((_, a) => $(a).attr('href')).get(), links);
  });

  it('rewrites form actions and other-rel links without listing them', () => {
    const html = page('<form action="/post?x=1"></form><button formaction="b"></button>', '<link rel="alternate" hreflang="de" href="/de/">');
    assert.deepEqual(refs(html), []);
    const { $ } = rewrite(html, `${HOST}/a/index.html`, nothingMirrored);
    assert.equal($('form').attr('action'), `${HOST}/post?x=1`);
    assert.equal($('button').attr('formaction'), `${HOST}/a/b`);
    assert.equal($('link').attr('href'), `${HOST}/de/`);
  });

  it('parses <noscript> content as markup and rewrites it without moving the rest of <head>', () => {
    const html = page('<noscript><img src="body.png"></noscript>', '<noscript><img src="pixel.gif"></noscript><link rel="stylesheet" href="s.css">');
    assert.deepEqual(urls(html), [`${HOST}/pixel.gif`, `${HOST}/s.css`, `${HOST}/body.png`]);
    const { $ } = rewrite(html, `${HOST}/index.html`, (url) => `local${new URL(url).pathname}`);
    assert.equal($('head link[rel=stylesheet]').attr('href'), 'local/s.css');
    assert.equal($('head noscript').text(), '<img src="local/pixel.gif">');
    assert.equal($('body noscript').text(), '<img src="local/body.png">');
  });
});

describe('html: rewriting (L-02, L-14, R-13, B-01)', () => {
  it('treats an odd-case scheme as the same host and rewrites <style> url()s; <script> text is untouched (L-02)', () => {
    const html = page(
      '<a href="second.html">a</a><a href="htTp://host/second.html">b</a><a href="subdir/third.html?x&h=http%3A%2F%2Fexample.com#frag">c</a>' +
        '<SCRIPT>document.write(\'<img src="rw1">\');</SCRIPT>',
      '<style>body{background:url(htTp://host/second.html)}</style>',
    );
    assert.deepEqual(urls(html), [`${HOST}/second.html`, `${HOST}/subdir/third.html?x&h=http%3A%2F%2Fexample.com`]);
    const { $, out } = rewrite(
      html,
      `${HOST}/index.html`,
      mirrorOf({ [`${HOST}/second.html`]: 'second.html', [`${HOST}/subdir/third.html?x&h=http%3A%2F%2Fexample.com`]: 'subdir/third.html%3Fx&h=http%253A%252F%252Fexample.com' }),
    );
    assert.deepEqual($('a').map((_, a) => $(a).attr('href')).get(), ['second.html', 'second.html', 'subdir/third.html%3Fx&h=http%253A%252F%252Fexample.com#frag']);
    assert.equal($('style').text(), 'body{background:url(second.html)}');
    assert.ok(out.includes('<SCRIPT>document.write(\'<img src="rw1">\');</SCRIPT>'), 'the script is kept byte for byte');
  });

  it('writes the absolute origin URL, fragment kept, for anything not in the mirror (L-14)', () => {
    const html = page(
      '<img src="/missing-img.png"><script src="/missing-script.js"></script><a href="/link1.html#part">l</a>',
      "<style>a{background:url('a.png')} b{background:url('b.png')} c{background:url('c.png')}</style>",
    );
    const { $ } = rewrite(html, `${HOST}/index.html`, mirrorOf({ [`${HOST}/a.png`]: 'a.png', [`${HOST}/c.png`]: 'c.png' }));
    assert.equal($('style').text(), "a{background:url('a.png')} b{background:url('http://host/b.png')} c{background:url('c.png')}");
    assert.equal($('img').attr('src'), `${HOST}/missing-img.png`);
    assert.equal($('script').attr('src'), `${HOST}/missing-script.js`);
    assert.equal($('a').attr('href'), `${HOST}/link1.html#part`);
  });

  it('decodes entities in a query once (R-13)', () => {
    const html = page('<a href="?b=2&amp;c=3&amp;d=4">q</a>');
    assert.deepEqual(refs(html, `${HOST}/`), [{ url: `${HOST}/?b=2&c=3&d=4`, kind: 'page', expected: 'html' }]);
    const { out } = rewrite(html, `${HOST}/`, mirrorOf({ [`${HOST}/?b=2&c=3&d=4`]: 'index@b=2&c=3&d=4.html' }));
    assert.ok(out.includes('href="index@b=2&amp;c=3&amp;d=4.html"'));
  });

  it('resolves links through <base> and writes disallowed ones as origin URLs (B-01)', () => {
    const html = page(
      '<a href="../secondpage.html">s</a><a href="subpage1.html?query&param#frag">1</a><a href="./subpage2.html">2</a><a href="./audio.mp3">m</a>',
      '<base href="/subdir2/">',
    );
    const doc = parseHtml(html, `${HOST}/secondpage.html`);
    assert.deepEqual(
      doc.references.map((ref) => [ref.url, ref.expected]),
      [
        [`${HOST}/secondpage.html`, 'html'],
        [`${HOST}/subdir2/subpage1.html?query&param`, 'html'],
        [`${HOST}/subdir2/subpage2.html`, 'html'],
        [`${HOST}/subdir2/audio.mp3`, 'other'],
      ],
    );
    const $ = load(doc.serialize(mirrorOf({ [`${HOST}/secondpage.html`]: 'secondpage.html' }), { canonicalUrl: null }));
    assert.deepEqual($('a').map((_, a) => $(a).attr('href')).get(), [
      'secondpage.html',
      `${HOST}/subdir2/subpage1.html?query&param#frag`,
      `${HOST}/subdir2/subpage2.html`,
      `${HOST}/subdir2/audio.mp3`,
    ]);
  });
});

describe('html: entities and quoting (L-09)', () => {
  const html = page(
    '<img src="http://host/img.png?a=1&amp;b=2"><div style="background: url(\'http://host/style-attr.png?a=1&amp;style-attr.png\')"></div>' +
      '<div id="q" style="background: url(&quot;http://host/style-attr2.png&quot;)"></div><div data-test=\'[{"breakpoint": 1200,"slidesToShow": 3}]\'></div>',
    '<link href="http://host/fonts?family=Myriad&amp;v=2" rel="stylesheet">',
  );

  it('requests URLs with entities decoded once', () => {
    assert.deepEqual(urls(html), [
      `${HOST}/fonts?family=Myriad&v=2`,
      `${HOST}/img.png?a=1&b=2`,
      `${HOST}/style-attr.png?a=1&style-attr.png`,
      `${HOST}/style-attr2.png`,
    ]);
  });

  it('writes valid markup: no double escaping, &quot; styles still parse, JSON attributes read back the same', () => {
    const { $, out } = rewrite(html, `${HOST}/index.html`, nothingMirrored);
    assert.ok(!out.includes('&amp;amp;'));
    assert.equal($('img').attr('src'), `${HOST}/img.png?a=1&b=2`);
    assert.equal($('#q').attr('style'), 'background: url("http://host/style-attr2.png")');
    assert.equal($('[data-test]').attr('data-test'), '[{"breakpoint": 1200,"slidesToShow": 3}]');
  });
});

describe('html: srcset (L-11)', () => {
  const resolveTo = (url: string) => `local${new URL(url).pathname}`;
  const srcsetCases: Array<[string, string, string[]]> = [
    ['b.gif 480w, c.gif 800w', 'local/b.gif 480w, local/c.gif 800w', ['/b.gif', '/c.gif']],
    ['d.gif 1x, c.gif 2x', 'local/d.gif 1x, local/c.gif 2x', ['/d.gif', '/c.gif']],
    ['e.gif, f.gif', 'local/e.gif, local/f.gif', ['/e.gif', '/f.gif']],
    ['  h.gif   2x ,  i.gif  ', '  local/h.gif   2x ,  local/i.gif  ', ['/h.gif', '/i.gif']],
    ['http://host/abs.gif 2x', 'local/abs.gif 2x', ['/abs.gif']],
    ['data:image/gif;base64,AAAA,BBBB= 1x, dz.gif 2x', 'data:image/gif;base64,AAAA,BBBB= 1x, local/dz.gif 2x', ['/dz.gif']],
    ['same.gif 1x, same.gif 2x', 'local/same.gif 1x, local/same.gif 2x', ['/same.gif']],
    ['m1.gif 1x,\n      m2.gif 2x,\n      m3.gif 3x', 'local/m1.gif 1x,\n      local/m2.gif 2x,\n      local/m3.gif 3x', ['/m1.gif', '/m2.gif', '/m3.gif']],
    ['w.gif 100w 50h, comma,.gif 2w', 'local/w.gif 100w 50h, local/comma,.gif 2w', ['/w.gif', '/comma,.gif']],
    ['', '', []],
  ];
  for (const [srcset, expected, paths] of srcsetCases) {
    it(`rewrites srcset ${JSON.stringify(srcset)} keeping descriptors and spacing`, () => {
      const html = page(`<img srcset="${srcset}" alt="after">`);
      assert.deepEqual(urls(html), paths.map((path) => `${HOST}${path}`));
      const { $ } = rewrite(html, `${HOST}/index.html`, resolveTo);
      assert.equal($('img').attr('srcset'), expected);
      assert.equal($('img').attr('alt'), 'after');
    });
  }

  it('does not corrupt candidates that share a long prefix (the wget bug)', () => {
    const srcset = '/size/w300/x.png 300w, /size/w600/x.png 600w, /size/w900/x.png 900w, /size/w1200/x.png 1200w';
    const { $ } = rewrite(page(`<img srcset="${srcset}">`), `${HOST}/index.html`, (url) => `..${new URL(url).pathname}`);
    assert.equal($('img').attr('srcset'), srcset.replaceAll('/size/', '../size/'));
  });

  it('leaves an unparsable srcset untouched and returns nothing from it', () => {
    for (const srcset of ['a.png 1x 2x', 'a.png foo', 'a.png 0w', 'a.png 50h']) {
      assert.equal(parseSrcset(srcset), null, srcset);
      const html = page(`<img srcset="${srcset}">`);
      assert.deepEqual(refs(html), []);
      assert.equal(rewrite(html, `${HOST}/index.html`, resolveTo).$('img').attr('srcset'), srcset);
    }
  });
});

describe('html: <base> (L-12)', () => {
  it('resolves against <base>, drops CR/LF and decodes character references in URLs', () => {
    const html = page(
      '<a href="http://host/second\r\npage.html">1</a><a href="subpage1.h&#116;ml?qu&#x65;ry&amp;param#frag">2</a>' +
        '<a href="./subpage2.html">3</a><a href="../subdir3%3A/">4</a>',
      '<base href="/subdir1/">',
    );
    const doc = parseHtml(html, `${HOST}/index.html`);
    assert.equal(doc.baseUrl, `${HOST}/subdir1/`);
    assert.deepEqual(doc.references.map((ref) => ref.url), [
      `${HOST}/secondpage.html`,
      `${HOST}/subdir1/subpage1.html?query&param`,
      `${HOST}/subdir1/subpage2.html`,
      `${HOST}/subdir3%3A/`,
    ]);
    const $ = load(doc.serialize(mirrorOf({ [`${HOST}/subdir1/subpage1.html?query&param`]: 'subdir1/subpage1@query&param.html' }), { canonicalUrl: `${HOST}/index.html` }));
    assert.equal($('base').length, 0);
    assert.equal($('a').eq(1).attr('href'), 'subdir1/subpage1@query&param.html#frag');
    assert.equal($('link[rel=canonical]').attr('href'), `${HOST}/index.html`);
  });

  it('resolves an unquoted href against its page base', () => {
    assert.deepEqual(urls(page('<a href=./subpage2.html>x</a>', '<base href="/subdir2/">'), `${HOST}/secondpage.html`), [`${HOST}/subdir2/subpage2.html`]);
  });

  it('ignores a broken base such as http:// and uses the page URL', () => {
    const html = page('<a href="http://host/abs.html">a</a><a href="//host/proto.html">p</a><a href="/root.html">r</a><a href="rel.html">l</a>', '<base href="http://">');
    const doc = parseHtml(html, `${HOST}/dir/index2.html`);
    assert.equal(doc.baseUrl, `${HOST}/dir/index2.html`);
    assert.deepEqual(doc.references.map((ref) => ref.url), [`${HOST}/abs.html`, `${HOST}/proto.html`, `${HOST}/root.html`, `${HOST}/dir/rel.html`]);
  });

  it('keeps a base target without its href', () => {
    const { $ } = rewrite(page('', '<base href="/x/" target="_blank">'), `${HOST}/`, nothingMirrored);
    assert.equal($('base').length, 1);
    assert.equal($('base').attr('target'), '_blank');
    assert.equal($('base').attr('href'), undefined);
  });
});

describe('html: canonical, charset, robots, title', () => {
  it('adds a canonical when there is none', () => {
    const { $ } = rewrite(page(''), `${HOST}/a?q=1`, nothingMirrored, `${HOST}/a?q=1`);
    assert.deepEqual($('link[rel=canonical]').map((_, l) => $(l).attr('href')).get(), [`${HOST}/a?q=1`]);
  });

  it('keeps an existing canonical made absolute (against the base), never local, and removes duplicates', () => {
    const html = page('<link rel="canonical" href="/late">', '<base href="/b/"><link rel="canonical" href="canon.html"><link rel="Canonical" href="other.html">');
    const { $ } = rewrite(html, `${HOST}/a.html`, () => 'local.html', `${HOST}/a.html`);
    assert.deepEqual($('link[rel]').map((_, l) => $(l).attr('href')).get(), [`${HOST}/b/canon.html`]);
  });

  it('adds no canonical when canonicalUrl is null', () => {
    assert.equal(rewrite(page(''), `${HOST}/`, nothingMirrored, null).$('link[rel=canonical]').length, 0);
  });

  it('writes <meta charset="utf-8"> first in <head> and removes other charset declarations', () => {
    const html = '<html><head><title>t</title><meta http-equiv="Content-Type" content="text/html; charset=shift_jis"><meta charset="iso-8859-1"></head><body></body></html>';
    const { out } = rewrite(html, `${HOST}/`, nothingMirrored);
    assert.ok(out.startsWith('<html><head><meta charset="utf-8"><title>t</title>'), out);
    assert.equal(out.match(/charset/g)?.length, 1);
  });

  const robotsCases: Array<[string, boolean]> = [
    ['noindex, nofollow', true],
    ['NONE', true],
    ['nofollow', true],
    ['noindex', false],
    ['index,follow', false],
  ];
  for (const [content, nofollow] of robotsCases) {
    it(`reads <meta name="robots" content="${content}"> as nofollow=${nofollow}`, () => {
      assert.equal(parseHtml(page('', `<meta name="ROBOTS" content="${content}">`), `${HOST}/`).nofollow, nofollow);
    });
  }

  it('reads the title with whitespace collapsed, keeps the doctype and the whole document', () => {
    const html = '<!DOCTYPE html>\n<html lang="fr"><head><title>  Café\n  crème </title></head><body><p>é</p><svg><title>no</title></svg></body></html>';
    const doc = parseHtml(html, `${HOST}/`);
    assert.equal(doc.title, 'Café crème');
    const out = doc.serialize(nothingMirrored, { canonicalUrl: null });
    assert.ok(out.startsWith('<!DOCTYPE html>'));
    assert.ok(out.includes('<p>é</p>'));
  });

  it('drops scripts (but not JSON-LD) and inline event handlers when asked', () => {
    const html = page('<button onclick="go()">b</button><script>x()</script><script type="application/ld+json">{"a":1}</script>', '<script src="a.js"></script>');
    const out = parseHtml(html, `${HOST}/`).serialize(nothingMirrored, { canonicalUrl: null, dropScripts: true });
    assert.ok(!out.includes('onclick') && !out.includes('x()') && !out.includes('a.js'));
    assert.ok(out.includes('<script type="application/ld+json">{"a":1}</script>'));
  });

  it('drops <noscript> with the scripts: a rendered snapshot shows what a reader with scripts saw', () => {
    const html = page('<p>built</p><noscript><p>Please enable JavaScript</p><img src="pixel.gif"></noscript>');
    const out = parseHtml(html, `${HOST}/`).serialize(nothingMirrored, { canonicalUrl: null, dropScripts: true });
    assert.ok(out.includes('<p>built</p>'));
    assert.ok(!out.includes('noscript') && !out.includes('enable JavaScript') && !out.includes('pixel.gif'), out);
  });

  it('htmlWithoutScripts leaves a page whose links no longer name scripts or noscript content', () => {
    const html = page('<a href="/next" onclick="go()">next</a><noscript><img src="/fallback.png"></noscript><script src="/app.js"></script>');
    const out = htmlWithoutScripts(html);
    assert.deepEqual(parseHtml(out, `${HOST}/`).references.map((ref) => ref.url), [`${HOST}/next`]);
    assert.ok(!out.includes('onclick'));
  });

  it('serializes the same page again with another resolver, since the parsed text is never changed', () => {
    const doc = parseHtml(page('<a href="a.html">a</a>'), `${HOST}/`);
    assert.match(doc.serialize(nothingMirrored, { canonicalUrl: null }), /href="http:\/\/host\/a\.html"/);
    assert.match(doc.serialize(() => 'local.html', { canonicalUrl: null }), /href="local\.html"/);
  });

  it('keeps everything but the links byte for byte: markup, case, quotes, comments, entities', () => {
    const html = '<!doctype html>\n<HTML lang=en><Head>\n<!-- note --><TITLE>A &amp; B</TITLE></Head>\n<BODY><P CLASS=x>caf&eacute; <a HREF=\'b.html\' data-x="1">b</a><br/></BODY></HTML>\n';
    const doc = parseHtml(html, `${HOST}/`);
    assert.equal(doc.title, 'A & B');
    const out = doc.serialize(() => 'local/b.html', { canonicalUrl: null });
    assert.equal(out, html.replace('<Head>', '<Head><meta charset="utf-8">').replace("HREF='b.html'", "HREF='local/b.html'"));
  });
});

describe('extensionOf reads the path the parser gives', () => {
  it('agrees with the parsed pathname for any http(s) URL', () => {
    const piece = fc.constantFrom('/', 'a', '.', 'html', 'css', 'PNG', 'pdf', '?', '#', '.js', 'x.tar.gz', '@', ':', '%2E', '..', '\\');
    const tail = fc.array(piece, { maxLength: 8 }).map((pieces) => pieces.join(''));
    const origin = fc.constantFrom('http://h', 'https://u@h:8443', 'http://[::1]:80', 'http://h.example', 'https://u:p%2F@h');
    fc.assert(
      fc.property(origin, tail, (start, rest) => {
        const url = new URL(`${start}/${rest}`).href;
        const path = new URL(url).pathname;
        const name = path.slice(path.lastIndexOf('/') + 1);
        const dot = name.lastIndexOf('.');
        assert.equal(extensionOf(url), dot <= 0 ? '' : name.slice(dot + 1).toLowerCase(), url);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('runsScripts tells which pages --render auto sends to the browser', () => {
  const runs: [string, string][] = [
    ['a classic inline script', page('<script>document.title = "x"</script>')],
    ['an external script', page('', '<script src="/app.js" defer></script>')],
    ['a module script', page('<script type="module" src="/app.mjs"></script>')],
    ['a script typed text/javascript, in capitals', page('<SCRIPT TYPE="Text/JavaScript">go()</SCRIPT>')],
    ['a legacy JavaScript type with a parameter', page('<script type="application/x-javascript; charset=utf-8">go()</script>')],
    ['a script inside inline SVG', page('<svg><script>go()</script></svg>')],
    ['a body onload handler', '<!doctype html><html><body onload="go()"><p>x</p></body></html>'],
    ['an image onerror handler', page('<img src="a.png" onerror="this.remove()">')],
  ];
  for (const [what, html] of runs) it(`yes for ${what}`, () => assert.equal(runsScripts(html), true));

  const still: [string, string][] = [
    ['a page without scripts', page('<p>Hello</p><a href="b.html">b</a><img src="a.png" loading="lazy">')],
    ['JSON-LD structured data', page('', '<script type="application/ld+json">{"@type":"WebPage"}</script>')],
    ['a template and a JSON data block', page('<script type="text/template"><p>x</p></script><script type="application/json">{}</script>')],
    ['a script inside <noscript>', page('<noscript><script>never()</script></noscript>')],
    ['script and onclick written as text or in a comment', page('<p>&lt;script&gt; onclick=go()</p><!-- <script>go()</script> -->')],
    ['a javascript: link, which runs only when clicked', page('<a href="javascript:void 0">x</a>')],
  ];
  for (const [what, html] of still) it(`no for ${what}`, () => assert.equal(runsScripts(html), false));
});
