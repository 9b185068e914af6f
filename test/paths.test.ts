import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { disambiguate, localPathFor, predictedPathFor, preferredAlias, relativeHref } from '../src/paths.js';
import { normalizeUrl } from '../src/url.js';

const HTML = 'text/html';
const CSS = 'text/css';
const PNG = 'image/png';

/** The file a browser opens when `href` is written in `fromFile` (both under file:///root/). */
function opens(fromFile: string, href: string): string {
  const base = `file:///root/${fromFile.split('/').map(encodeURIComponent).join('/')}`;
  const target = new URL(href, base);
  assert.equal(target.protocol, 'file:');
  assert.equal(target.search + target.hash, '', `href ${href} must not carry a query or fragment`);
  return decodeURIComponent(target.pathname).replace(/^\/root\//, '');
}

function assertSafePath(local: string): void {
  const parts = local.split('/');
  for (const part of parts) {
    assert.ok(part !== '' && part !== '.' && part !== '..', `bad part ${JSON.stringify(part)} in ${local}`);
    assert.ok(Buffer.byteLength(part) <= 255, `part over 255 bytes in ${local}`);
    assert.doesNotMatch(part, /[\x00-\x1F\x7F\\<>:"|?*]/, `unsafe character in ${JSON.stringify(part)}`);
    assert.doesNotMatch(part, /%(?![0-9A-F]{2})/, `stray % in ${JSON.stringify(part)}`);
    assert.doesNotMatch(part, /^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i, `device name ${part}`);
    assert.doesNotMatch(part, /[. ]$/, `trailing dot or space in ${JSON.stringify(part)}`);
  }
  const joined = path.posix.normalize(path.posix.join('/root', local));
  assert.equal(joined, `/root/${local}`, 'normalising must not move the path');
  assert.ok(joined.startsWith('/root/'));
}

describe('localPathFor', () => {
  const table: [url: string, type: string | undefined, expected: string][] = [
    // host folder
    ['http://h/', HTML, 'h/index.html'],
    ['http://127.0.0.1:8080/x', undefined, '127.0.0.1_8080/x'],
    ['https://H:443/x', '', 'h/x'],
    ['http://h:443/x', '', 'h_443/x'],
    ['http://Bücher.example/', HTML, 'xn--bcher-kva.example/index.html'],
    ['http://a_8080/', HTML, 'a%5F8080/index.html'],
    ['http://[::1]:8080/', HTML, '[%3A%3A1]_8080/index.html'],
    ['http://.sitemirror/x', '', '%2Esitemirror/x'],
    ['http://con/', HTML, '%63on/index.html'],
    // directories and extensions (E-07, R-08)
    ['http://h/docs/', HTML, 'h/docs/index.html'],
    ['http://h/subdir', HTML, 'h/subdir.html'],
    ['http://h/subdir/index.html', HTML, 'h/subdir/index.html'],
    ['http://h/control.php', HTML, 'h/control.php.html'],
    ['http://h/report.pdf', HTML, 'h/report.pdf.html'],
    ['http://h/page.htm', HTML, 'h/page.htm'],
    ['http://h/PAGE.HTML', HTML, 'h/PAGE.HTML'],
    ['http://h/iframe', 'application/xhtml+xml', 'h/iframe.html'],
    ['http://h/css?family=Lato', CSS, 'h/css@family=Lato.css'],
    ['http://h/site.css', CSS, 'h/site.css'],
    ['http://h/wrongtype.jpg', PNG, 'h/wrongtype.jpg'],
    ['http://h/lie.png', PNG, 'h/lie.png'],
    ['http://h/logo', PNG, 'h/logo.png'],
    ['http://h/jquery.js?ver=3.6.0', 'text/javascript', 'h/jquery.js@ver=3.6.0.js'],
    ['http://h/img.png?v=2', PNG, 'h/img.png@v=2.png'],
    ['http://h/notype.png', '', 'h/notype.png'],
    ['http://h/notype.pdf', undefined, 'h/notype.pdf'],
    ['http://h/download', 'application/octet-stream', 'h/download'],
    ['http://h/thing', 'application/x-never-heard-of', 'h/thing'],
    // queries (R-13, L-02); fragments never appear
    ['http://h/search?q=mirror#top', HTML, 'h/search@q=mirror.html'],
    ['http://h/?b=2&c=3', HTML, 'h/index@b=2&c=3.html'],
    ['http://h/?b=2&amp;c=3', HTML, 'h/index@b=2&amp;c=3.html'],
    ['http://h/a?', HTML, 'h/a.html'],
    ['http://h/a?x=%2F%25%40%23/@', HTML, 'h/a@x=%252F%2525%2540%23%2F%40.html'],
    ['http://h/a?q=caf%C3%A9%20au%20lait', HTML, 'h/a@q=café au lait.html'],
    ['http://h/subdir/third.html?x&h=http%3A%2F%2Fexample.com', HTML, 'h/subdir/third.html@x&h=http%253A%252F%252Fexample.com.html'],
    // decoding for readability (E-01), encoding for safety (E-05, L-01)
    ['http://h/p1_fran%C3%A7ais.html', HTML, 'h/p1_français.html'],
    ['http://h/p3_%E2%82%AC%E2%82%AC%E2%82%AC.html', HTML, 'h/p3_€€€.html'],
    ['http://h/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82/', HTML, 'h/привет/index.html'],
    ['http://h/Hello%20G%C3%BCnter.png', PNG, 'h/Hello Günter.png'],
    ['http://h/bad%E7utf8', '', 'h/bad%25E7utf8'],
    ['http://h/%EF%BB%BFbom', '', 'h/\uFEFFbom'],
    ['http://h/%7e%41', '', 'h/~A'],
    ['http://h/<*a*>.png', PNG, 'h/%3C%2Aa%2A%3E.png'],
    ['http://h/some:path/', HTML, 'h/some%3Apath/index.html'],
    ['http://h/site;sub:.html', HTML, 'h/site;sub%3A.html'],
    ['http://h/a|b"c@d', '', 'h/a%7Cb%22c%40d'],
    ['http://h/it\'s', '', "h/it's"],
    ['http://h/it%27s', '', 'h/it%2527s'],
    ['http://h/100%25', '', 'h/100%2525'],
    ['http://h/100%zz', '', 'h/100%25zz'],
    ['http://h/a%2Fb%5Cc', '', 'h/a%2Fb%5Cc'],
    ['http://h/nul%00/x', '', 'h/nul%00/x'],
    ['http://h/tab%09', '', 'h/tab%09'],
    ['http://h/a//b', '', 'h/a/%2E/b'],
    ['http://h/end.', '', 'h/end%2E'],
    ['http://h/end%20', '', 'h/end%20'],
    ['http://h/.well-known/x', '', 'h/.well-known/x'],
    // Windows device names
    ['http://h/con', undefined, 'h/%63on'],
    ['http://h/NUL', '', 'h/%4EUL'],
    ['http://h/aux.html', HTML, 'h/%61ux.html'],
    ['http://h/com1.txt', '', 'h/%63om1.txt'],
    ['http://h/lpt9/x', '', 'h/%6Cpt9/x'],
    ['http://h/console', '', 'h/console'],
    // traversal (E-05, D-09): URL parsing resolves dots, encoded ones stay names
    ['http://h/some/path/../../../../images/a.png', PNG, 'h/images/a.png'],
    ['http://h/%2e%2e/%2E%2e/x', '', 'h/x'],
    ['http://h/..%2F..%2Fevil.pdf', '', 'h/..%2F..%2Fevil.pdf'],
    ['http://h/a\\..\\..\\b', '', 'h/b'],
    ['http://h/%5C..%5C..%5Cevil', '', 'h/%5C..%5C..%5Cevil'],
    ['http://h/cdispo/evil.php', HTML, 'h/cdispo/evil.php.html'],
  ];
  for (const [url, type, expected] of table) {
    it(`maps ${url} (${type ?? 'no type'}) to ${expected}`, () => {
      const local = localPathFor(url, type);
      assert.equal(local, expected);
      assertSafePath(local);
    });
  }

  it('gives http and https of one host the same folder', () => {
    assert.equal(localPathFor('https://h/a.css', CSS), localPathFor('http://h/a.css', CSS));
  });

  it('gives the same path to a URL and its normalised form', () => {
    const url = 'HTTP://H:80/%7efoo/./b%c3%a9/?q=%c3%a9#frag';
    assert.equal(localPathFor(url, HTML), localPathFor(normalizeUrl(url), HTML));
  });

  it('rejects URLs that are not http(s)', () => {
    assert.throws(() => localPathFor('file:///etc/passwd'), TypeError);
    assert.throws(() => localPathFor('not a url'), TypeError);
  });

  describe('long names (E-05)', () => {
    it('keeps names of NAME_MAX-19 and NAME_MAX-18 characters under deeper/than/ as they are', () => {
      for (const length of [255 - 19, 255 - 18]) {
        const name = `${'a'.repeat(length - 5)}.html`;
        assert.equal(localPathFor(`http://h/deeper/than/${name}`, HTML), `h/deeper/than/${name}`);
      }
    });

    it('cuts a name over 255 bytes to 200 bytes, then ~hash, then the extension', () => {
      const local = localPathFor(`http://h/deeper/than/${'b'.repeat(254)}`, HTML);
      assert.match(local, /^h\/deeper\/than\/b{200}~[0-9a-f]{8}\.html$/);
      assert.equal(localPathFor(`http://h/deeper/than/${'b'.repeat(254)}`, HTML), local, 'same name on every run');
      assertSafePath(local);
    });

    it('does not let two long names that share a prefix collide', () => {
      const prefix = 'p'.repeat(300);
      assert.notEqual(localPathFor(`http://h/${prefix}x.png`, PNG), localPathFor(`http://h/${prefix}y.png`, PNG));
    });

    it('cuts multi-byte names at a character boundary, and long folder names too', () => {
      const cyrillic = encodeURIComponent('ж'.repeat(200));
      const local = localPathFor(`http://h/${cyrillic}/${cyrillic}.html?q=${encodeURIComponent('é'.repeat(3000))}`, HTML);
      assert.doesNotMatch(local, /\uFFFD/);
      assertSafePath(local);
    });

    it('never splits one of its own %XX escapes when cutting', () => {
      const local = localPathFor(`http://h/${':'.repeat(100)}`, '');
      assert.match(local, /^h\/(%3A)+~[0-9a-f]{8}$/);
    });
  });
});

describe('predictedPathFor', () => {
  it('predicts .html for pages, .css for stylesheets and the URL as is for other requisites', () => {
    assert.equal(predictedPathFor('http://h/about', 'html'), 'h/about.html');
    assert.equal(predictedPathFor('http://h/css?family=Lato', 'css'), 'h/css@family=Lato.css');
    assert.equal(predictedPathFor('http://h/logo', 'other'), 'h/logo');
    assert.equal(predictedPathFor('http://h/docs/', 'html'), localPathFor('http://h/docs/', HTML));
  });
});

describe('disambiguate', () => {
  it('inserts ~ and 8 hex chars of the URL hash before the extension', () => {
    assert.match(disambiguate('h/a.html', 'http://h/a'), /^h\/a~[0-9a-f]{8}\.html$/);
    assert.match(disambiguate('h/LICENSE', 'http://h/LICENSE'), /^h\/LICENSE~[0-9a-f]{8}$/);
  });

  it('is deterministic and differs between URLs', () => {
    assert.equal(disambiguate('h/a.html', 'http://h/a'), disambiguate('h/a.html', 'http://h/a'));
    assert.notEqual(disambiguate('h/a.html', 'http://h/a'), disambiguate('h/a.html', 'http://h/A'));
  });

  it('stays within 255 bytes', () => {
    const long = localPathFor(`http://h/${'z'.repeat(250)}`, HTML);
    assert.ok(Buffer.byteLength(disambiguate(long, 'u').split('/')[1]) <= 255);
  });
});

describe('preferredAlias (R-08)', () => {
  it('names a shared file after the shortest URL, then the first in code-unit order', () => {
    assert.equal(preferredAlias(['http://h/a/index.html', 'http://h/a/']), 'http://h/a/');
    assert.equal(preferredAlias(['http://h/b.html', 'http://h/b']), 'http://h/b');
    assert.equal(preferredAlias(['http://h/y', 'http://h/x']), 'http://h/x');
  });

  it('does not depend on the order the aliases come in', () => {
    fc.assert(
      fc.property(fc.array(fc.webUrl(), { minLength: 1, maxLength: 6 }), (urls) => {
        assert.equal(preferredAlias(urls), preferredAlias([...urls].reverse()));
        assert.ok(urls.includes(preferredAlias(urls)));
      }),
    );
  });
});

describe('relativeHref', () => {
  const table: [from: string, to: string, href: string][] = [
    ['h/a/x.html', 'h/b/y.html', '../b/y.html'],
    ['h/a/x.html', 'h/a/x.html', 'x.html'],
    ['h/index.html', 'h/index.html', 'index.html'],
    ['h/index.html', 'h/docs/index.html', 'docs/index.html'],
    ['h/a/b/c.html', 'h/a.html', '../../a.html'],
    ['h/a/x.html', 'h/a', '../a'],
    ['h/index.html', 'cdn.example/lib/app.js', '../cdn.example/lib/app.js'],
    ['h/index.html', 'h/Hello Günter.png', 'Hello%20G%C3%BCnter.png'],
    ['h/index.html', 'h/index@b=2&c=3.html', 'index@b=2%26c=3.html'],
    ['h/index.html', "h/it's (1) #2?.css", 'it%27s%20%281%29%20%232%3F.css'],
    ['h/index.html', 'h/site;sub%3A.html', 'site;sub%253A.html'],
    ['h/index.html', 'h/a:b.html', './a:b.html'],
    ['h/index.html', 'h/x/a:b.html', 'x/a:b.html'],
  ];
  for (const [from, to, href] of table) {
    it(`links ${from} to ${to} as ${href}`, () => {
      assert.equal(relativeHref(from, to), href);
      assert.equal(opens(from, href), to);
    });
  }

  it('opens the same target as the segment-by-segment reading it replaced, for any two paths', () => {
    // The earlier implementation, kept as the reference: common leading folders, '..' for the rest, then the target.
    const bySegments = (fromFile: string, toFile: string): string => {
      const fromFolders = fromFile.split('/').slice(0, -1);
      const toParts = toFile.split('/');
      let common = 0;
      while (common < fromFolders.length && common < toParts.length - 1 && fromFolders[common] === toParts[common]) common++;
      const parts = [...new Array<string>(fromFolders.length - common).fill('..'), ...toParts.slice(common).map((part) => part === '' ? '' : encodeURIComponent(part).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))];
      const href = parts.join('/');
      return parts[0]!.includes(':') || href.startsWith('/') ? `./${href}` : href;
    };
    const segment = fc.constantFrom('h', 'a', 'b', 'ab', 'a b', 'x:y', 'index.html', 'a.css', 'é', '%3A', '');
    const path = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('/'));
    fc.assert(
      fc.property(path, path, (from, to) => {
        const href = relativeHref(from, to);
        assert.equal(decodeURIComponent(new URL(href, `file:///m/${encodeURI(from)}`).pathname), decodeURIComponent(new URL(bySegments(from, to), `file:///m/${encodeURI(from)}`).pathname));
        assert.equal(href.startsWith('./') || href.startsWith('../') || !href.split('/')[0]!.includes(':'), true);
      }),
      { numRuns: 2000 },
    );
  });

  it('writes a link that opens site;sub:.html exactly (L-01)', () => {
    const target = localPathFor('http://h/site;sub:.html', HTML);
    const href = relativeHref('h/index.html', target);
    assert.doesNotMatch(href.split('/')[0], /:/);
    assert.equal(decodeURIComponent(new URL(href, 'file:///m/h/index.html').pathname), `/m/${target}`);
  });

  it('writes a link that opens the query variant of subdir/third.html (L-02)', () => {
    const target = localPathFor('http://h/subdir/third.html?x&h=http%3A%2F%2Fexample.com', HTML);
    assert.notEqual(target, localPathFor('http://h/subdir/third.html', HTML));
    const href = relativeHref('h/index.html', target);
    assert.equal(href, 'subdir/third.html@x%26h=http%25253A%25252F%25252Fexample.com.html');
    assert.equal(opens('h/index.html', href), target);
  });

  it('keeps /subdir and /subdir/ apart whichever is linked first (R-08)', () => {
    const page = localPathFor('http://h/subdir', HTML);
    const folder = localPathFor('http://h/subdir/', HTML);
    assert.notEqual(page, folder);
    assert.equal(opens('h/index.html', relativeHref('h/index.html', page)), 'h/subdir.html');
    assert.equal(opens('h/index.html', relativeHref('h/index.html', folder)), 'h/subdir/index.html');
  });
});

// Arbitrary URLs built from the pieces that break naive mappers.
const piece = fc.oneof(
  fc.constantFrom('.', '..', '%2e', '%2E%2e', '\\', '%5C', '%00', '\u0000', '%', '%25', '%zz', '%2F', ':', '%3A', '@', '%40'),
  fc.constantFrom('?', '#', 'con', 'aux.html', 'index', ' ', '%20', 'é', '%C3%A9', '%E7', '😀', "'", '%27', '~', '.html', '.png'),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.string({ unit: 'grapheme', minLength: 100, maxLength: 180 }),
);
const segment = fc.array(piece, { maxLength: 4 }).map((pieces) => pieces.join(''));
const arbitraryUrl = fc
  .record({
    host: fc.constantFrom('h', 'H', 'a_8080', 'a:8080', 'xn--bcher-kva.example', '[::1]', 'con', '.x'),
    segments: fc.array(segment, { minLength: 1, maxLength: 4 }),
    query: fc.option(fc.array(piece, { maxLength: 4 }).map((pieces) => pieces.join(''))),
  })
  .map(({ host, segments, query }) => `http://${host}/${segments.join('/')}${query === null ? '' : `?${query}`}`);
// A small space of near-miss spellings (`'` and `%27`, `//` and `/_/`, a BOM and nothing), so collisions would show.
const nearMiss = fc.constantFrom('', 'a', '_', ':', '%3A', "'", '%27', '%', '%25', '%2525', '@', '%40', '?', '%3F', '%EF%BB%BF');
const nearMissPart = fc.constantFrom('.', '%2F', '/', '\\', '%5C', 'con', 'index', ' ', '%20', '%2E', '~', '%7E', '.html');
const denseUrl = fc
  .record({
    host: fc.constantFrom('h', 'a_8080', 'a:8080'),
    segments: fc.array(fc.array(fc.oneof(nearMiss, nearMissPart), { maxLength: 2 }), { minLength: 1, maxLength: 3 }),
    query: fc.option(fc.array(nearMiss, { maxLength: 2 })),
  })
  .map(({ host, segments, query }) => `http://${host}/${segments.map((parts) => parts.join('')).join('/')}${query === null ? '' : `?${query.join('')}`}`);
const mediaType = fc.constantFrom(HTML, CSS, PNG, '', 'application/octet-stream');
const APPENDED: Record<string, string> = { [HTML]: '.html', [CSS]: '.css', [PNG]: '.png' };

/** True when the URL belongs to a documented alias family for this type (/a/ ~ /a/index…, /a ~ /a.html). */
function isAlias(normalized: string, type: string): boolean {
  const { pathname, search } = new URL(normalized);
  const last = pathname.slice(pathname.lastIndexOf('/') + 1);
  const name = (last || 'index') + (search ? `@${search.slice(1)}` : '');
  return last === 'index' || (APPENDED[type] !== undefined && name.endsWith(APPENDED[type]));
}

/** normalizeUrl keeps an empty query (`http://h/?`), which is the same resource as `http://h/`. */
function withoutEmptyQuery(url: string): string {
  const normalized = normalizeUrl(url);
  return new URL(normalized).search === '' ? normalized.replace(/\?$/, '') : normalized;
}

describe('properties', () => {
  it('keeps every path inside the root, with safe parts of at most 255 bytes', () => {
    fc.assert(fc.property(arbitraryUrl, mediaType, (url, type) => assertSafePath(localPathFor(url, type))), { numRuns: 2000 });
  });

  it('gives distinct normalised URLs distinct paths, outside the documented aliases', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(arbitraryUrl, denseUrl), { minLength: 2, maxLength: 60 }), mediaType, (urls, type) => {
        const owner = new Map<string, string>();
        for (const normalized of new Set(urls.map(withoutEmptyQuery))) {
          if (isAlias(normalized, type)) continue;
          const local = localPathFor(normalized, type);
          const previous = owner.get(local);
          assert.ok(previous === undefined || previous === normalized, `${previous} and ${normalized} share ${local}`);
          owner.set(local, normalized);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('writes hrefs that a browser resolves to exactly the target file', () => {
    fc.assert(
      fc.property(arbitraryUrl, arbitraryUrl, mediaType, mediaType, (fromUrl, toUrl, fromType, toType) => {
        const from = localPathFor(fromUrl, fromType);
        const to = localPathFor(toUrl, toType);
        assert.equal(opens(from, relativeHref(from, to)), to);
      }),
      { numRuns: 2000 },
    );
  });
});
