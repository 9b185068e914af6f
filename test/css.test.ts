import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseStyleDeclarations, parseStylesheet } from '../src/css.js';
import type { LinkResolver } from '../src/types.js';

const HOST = 'http://host';

/** A mirror that holds exactly the given URLs, at the given paths relative to the document being written. */
function mirrorOf(paths: Record<string, string>): LinkResolver {
  return (url) => paths[url] ?? null;
}
const nothingMirrored: LinkResolver = () => null;

const urlsOf = (css: string, base: string): string[] => parseStylesheet(css, base).references.map((ref) => ref.url);

describe('css: @import and url() (L-07)', () => {
  it('finds imports (expected css) and images (expected other), relative to the stylesheet, as requisites', () => {
    const css = [
      '@import "files/index-import-1.css";',
      '@import url("files/index-import-2.css");',
      "body { background-image:url('http://host/files/index-image-1.png') }",
    ].join('\n');
    assert.deepEqual(parseStylesheet(css, `${HOST}/index.css`).references, [
      { url: `${HOST}/files/index-import-1.css`, kind: 'requisite', expected: 'css' },
      { url: `${HOST}/files/index-import-2.css`, kind: 'requisite', expected: 'css' },
      { url: `${HOST}/files/index-image-1.png`, kind: 'requisite', expected: 'other' },
    ]);
  });

  it('rewrites to paths relative to the stylesheet file, keeping each quote style', () => {
    const css = '@import "files/index-import-1.css";\n@import url("files/index-import-2.css");\na{background:url(\'http://host/files/index-image-1.png\')}';
    const resolve = mirrorOf({
      [`${HOST}/files/index-import-1.css`]: 'files/index-import-1.css',
      [`${HOST}/files/index-import-2.css`]: 'files/index-import-2.css',
      [`${HOST}/files/index-image-1.png`]: 'files/index-image-1.png',
    });
    assert.equal(
      parseStylesheet(css, `${HOST}/index.css`).serialize(resolve),
      '@import "files/index-import-1.css";\n@import url("files/index-import-2.css");\na{background:url(\'files/index-image-1.png\')}',
    );
  });

  it('rewrites absolute imports and images inside an imported stylesheet relative to that file', () => {
    const css = '@import "http://host/files/index-import-3.css";\ndiv{background:url(http://host/files/index-image-2.png)}';
    const resolve = mirrorOf({
      [`${HOST}/files/index-import-3.css`]: 'index-import-3.css',
      [`${HOST}/files/index-image-2.png`]: 'index-image-2.png',
    });
    assert.equal(
      parseStylesheet(css, `${HOST}/files/index-import-2.css`).serialize(resolve),
      '@import "index-import-3.css";\ndiv{background:url(index-image-2.png)}',
    );
  });

  it('keeps media queries, supports(), layer() and a space before the semicolon exactly', () => {
    const css = [
      '@import url(print.css) print and (orientation:landscape);',
      '@import "screen.css" screen;',
      '@import url("/grid.css") supports(display:grid) layer(base) ;',
      "@import url('layered.css') layer;",
    ].join('\n');
    const sheet = parseStylesheet(css, `${HOST}/css/main.css`);
    assert.deepEqual(
      sheet.references.map((ref) => [ref.url, ref.expected]),
      [
        [`${HOST}/css/print.css`, 'css'],
        [`${HOST}/css/screen.css`, 'css'],
        [`${HOST}/grid.css`, 'css'],
        [`${HOST}/css/layered.css`, 'css'],
      ],
    );
    const resolve = mirrorOf({
      [`${HOST}/css/print.css`]: 'p.css',
      [`${HOST}/css/screen.css`]: 's.css',
      [`${HOST}/grid.css`]: '../grid.css',
      [`${HOST}/css/layered.css`]: 'l.css',
    });
    assert.equal(
      sheet.serialize(resolve),
      [
        '@import url(p.css) print and (orientation:landscape);',
        '@import "s.css" screen;',
        '@import url("../grid.css") supports(display:grid) layer(base) ;',
        "@import url('l.css') layer;",
      ].join('\n'),
    );
  });

  it('survives a truncated @import without a closing quote and adds no bogus reference', () => {
    for (const css of ['@import "unterminated.css', '@import url("good.css");\n@import "broken.css\n', '@import url(broken.css']) {
      const sheet = parseStylesheet(css, `${HOST}/a.css`);
      assert.ok(!sheet.references.some((ref) => ref.url.includes('broken') || ref.url.includes('unterminated')), css);
      assert.equal(typeof sheet.serialize(nothingMirrored), 'string');
    }
    assert.deepEqual(urlsOf('@import url("good.css");\n@import "broken.css\n', `${HOST}/a.css`), [`${HOST}/good.css`]);
  });

  it('follows wget2 main.css: root-relative and quoted url()s, @charset, and a data: URI left alone', () => {
    const css = [
      '@charset "UTF-8";',
      'body { background: url(/page2.html) no-repeat center; }',
      "p { background-image: url('page4.html'); }",
      'i { background: url(data:image/png;base64,iVBORw0KGgo=) }',
    ].join('\n');
    const sheet = parseStylesheet(css, `${HOST}/sub/main.css`);
    assert.deepEqual(sheet.references.map((ref) => ref.url), [`${HOST}/page2.html`, `${HOST}/sub/page4.html`]);
    const out = sheet.serialize(mirrorOf({ [`${HOST}/page2.html`]: '../page2.html', [`${HOST}/sub/page4.html`]: 'page4.html' }));
    assert.equal(
      out,
      [
        '@charset "utf-8";',
        'body { background: url(../page2.html) no-repeat center; }',
        "p { background-image: url('page4.html'); }",
        'i { background: url(data:image/png;base64,iVBORw0KGgo=) }',
      ].join('\n'),
    );
  });

  it('imports relative to the stylesheet (R-05 preload.css, R-09 circular imports)', () => {
    const preload = '@import url("/import1.css");\n@import "import2.css" screen;\ndiv{background:url(background.jpg)}';
    const sheet = parseStylesheet(preload, `${HOST}/preload.css`);
    assert.deepEqual(
      sheet.references.map((ref) => [ref.url, ref.expected]),
      [
        [`${HOST}/import1.css`, 'css'],
        [`${HOST}/import2.css`, 'css'],
        [`${HOST}/background.jpg`, 'other'],
      ],
    );
    const resolve = mirrorOf({
      [`${HOST}/import1.css`]: 'import1.css',
      [`${HOST}/import2.css`]: 'import2.css',
      [`${HOST}/background.jpg`]: 'background.jpg',
    });
    assert.equal(sheet.serialize(resolve), '@import url("import1.css");\n@import "import2.css" screen;\ndiv{background:url(background.jpg)}');
    const style = parseStylesheet('@import url("/style2.css");', `${HOST}/style.css`);
    assert.equal(style.serialize(mirrorOf({ [`${HOST}/style2.css`]: 'style2.css' })), '@import url("style2.css");');
  });
});

describe('css: url() forms', () => {
  it('finds several url()s in one declaration, in order, duplicates removed', () => {
    assert.deepEqual(urlsOf('a{background:url(a.png),URL("b.png"), url(a.png)}', `${HOST}/`), [`${HOST}/a.png`, `${HOST}/b.png`]);
  });

  it('finds @font-face src lists but not format() or local() strings', () => {
    const css = '@font-face{font-family:X;src:url(x.eot);src:url(x.eot?#iefix) format("embedded-opentype"),url("x.woff2") format("woff2"),local("X")}';
    // x.eot? (empty query) is another URL than x.eot; normalising them is the crawler's job.
    assert.deepEqual(urlsOf(css, `${HOST}/f/`), [`${HOST}/f/x.eot`, `${HOST}/f/x.eot?`, `${HOST}/f/x.woff2`]);
    const out = parseStylesheet(css, `${HOST}/f/`).serialize((url) => url.slice(`${HOST}/f/`.length).replace('?', '%3F'));
    assert.equal(out, css.replace('url(x.eot?#iefix)', 'url(x.eot%3F#iefix)'));
  });

  it('finds image-set() and -webkit-image-set() strings and url()s', () => {
    const css = 'a{background-image:image-set("a1.png" 1x, url(a2.png) 2x);b:-webkit-image-set(\'b1.png\' 1x)}';
    assert.deepEqual(urlsOf(css, `${HOST}/`), [`${HOST}/a1.png`, `${HOST}/a2.png`, `${HOST}/b1.png`]);
    const out = parseStylesheet(css, `${HOST}/`).serialize(() => 'L.png');
    assert.equal(out, 'a{background-image:image-set("L.png" 1x, url(L.png) 2x);b:-webkit-image-set(\'L.png\' 1x)}');
  });

  it('leaves data:, fragment-only and other non-http values as written and does not return them', () => {
    const css = 'a{filter:url(#blur);b:url(data:image/svg+xml;utf8,<svg></svg>);c:url("javascript:x");d:url();e:url("")}';
    const sheet = parseStylesheet(css, `${HOST}/`);
    assert.deepEqual(sheet.references, []);
    assert.equal(sheet.serialize(() => 'never.png'), css);
  });

  it('writes the absolute origin URL when the resolver has no local file, keeping the fragment (L-14)', () => {
    const css = "a{x:url('a.png');y:url('b.png');z:url('c.png');s:url(sprite.svg#icon)}";
    const resolve = mirrorOf({ [`${HOST}/a.png`]: 'a.png', [`${HOST}/c.png`]: 'c.png' });
    assert.equal(
      parseStylesheet(css, `${HOST}/`).serialize(resolve),
      "a{x:url('a.png');y:url('http://host/b.png');z:url('c.png');s:url(http://host/sprite.svg#icon)}",
    );
  });

  it('quotes a bare url() value when the rewritten URL needs it, and escapes the quote it uses', () => {
    assert.equal(parseStylesheet('a{b:url(x.png)}', `${HOST}/`).serialize(() => 'my (1).png'), 'a{b:url("my (1).png")}');
    assert.equal(parseStylesheet("a{b:url('x.png')}", `${HOST}/`).serialize(() => "it's.png"), "a{b:url('it\\'s.png')}");
  });

  it('reads CSS escapes in URLs', () => {
    assert.deepEqual(urlsOf('a{b:url(a\\(b\\).png);c:url("q\\"d.png");d:url(\\61 .png)}', `${HOST}/`), [
      `${HOST}/a(b).png`,
      `${HOST}/q%22d.png`,
      `${HOST}/a.png`,
    ]);
  });

  it('does not entity-decode: &amp; in a CSS URL is literal text (L-09)', () => {
    const css = "div{background:url('http://host/external-style.png?v=2&amp;name=external-style.png')}";
    assert.deepEqual(urlsOf(css, `${HOST}/style.css`), [`${HOST}/external-style.png?v=2&amp;name=external-style.png`]);
  });

  it('does not take @namespace or @supports text for a resource', () => {
    assert.deepEqual(urlsOf('@namespace svg url(http://www.w3.org/2000/svg);\n@supports (x: y) { a { b: url(in.png) } }', `${HOST}/`), [`${HOST}/in.png`]);
  });

  it('keeps everything but the URLs byte for byte: comments, hacks, !important, odd spacing', () => {
    const css = '/* head */\r\na  {  *zoom : 1 ; _height:1px; background : /* c */ url( x.png )  no-repeat !important ;--v:url(v.png)}\n@media print{b{c:url("p.png")}}';
    const out = parseStylesheet(css, `${HOST}/`).serialize((url) => url.slice(HOST.length + 1).toUpperCase());
    assert.equal(out, css.replace('x.png', 'X.PNG').replace('v.png', 'V.PNG').replace('p.png', 'P.PNG'));
  });

  it('recovers from broken CSS without throwing (unclosed block, unclosed string)', () => {
    const css = 'a { background: url(x.png);\nb { color: "open';
    const sheet = parseStylesheet(css, `${HOST}/`);
    assert.deepEqual(sheet.references.map((ref) => ref.url), [`${HOST}/x.png`]);
    assert.equal(sheet.serialize(() => 'y.png'), css.replace('x.png', 'y.png'));
  });

  it('changes an existing @charset to "utf-8" and adds none', () => {
    assert.equal(parseStylesheet('@charset "iso-8859-1";\na{}', `${HOST}/`).serialize(nothingMirrored), '@charset "utf-8";\na{}');
    assert.equal(parseStylesheet('a{}', `${HOST}/`).serialize(nothingMirrored), 'a{}');
  });

  it('finds every url() in a stylesheet parsed in pieces, whatever braces hide in strings and comments', () => {
    const block = (i: number) =>
      `/* ${'} ; '.repeat(20)} x { y: url(in-comment.png) } */ .a\\}${i} { content: "}; x { y: url(in-string.png) }"; background: url(b${i}.png) } @media print { .p${i} { background: url('p${i}.png') } }\n` +
      `.s${i}::after { content: '\\'}' } .u${i} { background: url(${'u'.repeat(300)}}${i};x.png) } @import "late${i}.css";\n`;
    const blocks = Array.from({ length: 3000 }, (_, i) => block(i));
    const css = blocks.join('');
    assert.ok(css.length > 3 * 256 * 1024, 'large enough to be cut into pieces');
    const sheet = parseStylesheet(css, `${HOST}/`);
    assert.equal(sheet.references.length, 4 * 3000);
    const out = sheet.serialize((url) => url.slice(HOST.length + 1).toUpperCase());
    const expected = blocks
      .map((text, i) => text.replace(`b${i}.png`, `B${i}.PNG`).replace(`p${i}.png`, `P${i}.PNG`).replace(`late${i}.css`, `LATE${i}.CSS`).replace(`${'u'.repeat(300)}}${i};x.png`, `${'U'.repeat(300)}%7D${i};X.PNG`))
      .join('');
    assert.equal(out, expected);
  });

  it('parses and rewrites a stylesheet with a million url()s in linear time', () => {
    const parts: string[] = [];
    for (let i = 0; i < 1_000_000; i++) parts.push(`.c${i}{background:url(i/${i % 1000}.png)}`);
    const sheet = parseStylesheet(parts.join('\n'), `${HOST}/`);
    assert.equal(sheet.references.length, 1000);
    const out = sheet.serialize((url) => url.slice(HOST.length + 1));
    assert.ok(out.endsWith('.c999999{background:url(i/999.png)}'));
  });
});

describe('css: style="" declarations', () => {
  it('finds url()s in a declaration list, resolved against the page base', () => {
    const sheet = parseStyleDeclarations("background: url('http://host/style-attr.png?a=1&style-attr.png')", `${HOST}/page.html`);
    assert.deepEqual(sheet.references, [{ url: `${HOST}/style-attr.png?a=1&style-attr.png`, kind: 'requisite', expected: 'other' }]);
    assert.equal(
      parseStyleDeclarations('color:red;background:url(img/b.png)', `${HOST}/d/page.html`).serialize(() => '../b.png'),
      'color:red;background:url(../b.png)',
    );
  });
});
