import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fragmentOf, httpOriginOf, normalizeUrl, pathnameOf, resolveUrl } from '../src/url.ts';

describe('normalizeUrl', () => {
  const cases: [string, string, string][] = [
    ['drops the fragment', 'http://h/a#x', 'http://h/a'],
    ['lower-cases scheme and host', 'HTTP://Example.COM/A', 'http://example.com/A'],
    ['removes the default port', 'http://h:80/a', 'http://h/a'],
    ['removes the https default port', 'https://h:443/a', 'https://h/a'],
    ['keeps another port', 'http://h:8080/a', 'http://h:8080/a'],
    ['resolves dot segments', 'http://h/a/./b/../c', 'http://h/a/c'],
    ['upper-cases percent-escapes', 'http://h/a%2fb', 'http://h/a%2Fb'],
    ['decodes escaped unreserved characters', 'http://h/%7Euser/%41', 'http://h/~user/A'],
    ['normalises escapes in the query', 'http://h/?q=%7e%2f', 'http://h/?q=~%2F'],
    ['drops an empty query', 'http://h/p?', 'http://h/p'],
    ['keeps the query order', 'http://h/?b=1&a=2', 'http://h/?b=1&a=2'],
    ['encodes raw spaces', 'http://h/with spaces .html', 'http://h/with%20spaces%20.html'],
  ];
  for (const [name, input, expected] of cases) it(name, () => assert.equal(normalizeUrl(input), expected));
});

describe('resolveUrl', () => {
  it('resolves relative references against the base', () => assert.equal(resolveUrl('../b/c.html', 'http://h/a/x.html'), 'http://h/b/c.html'));
  it('treats the scheme case-insensitively', () => assert.equal(resolveUrl('htTp://h/second.html', 'http://h/'), 'http://h/second.html'));
  it('removes CR and LF inside a reference (WHATWG)', () => assert.equal(resolveUrl('http://h/second\r\npage.html', 'http://h/'), 'http://h/secondpage.html'));
  for (const reference of ['mailto:a@b', 'javascript:void(0)', 'data:text/plain,x', 'file:///etc/passwd', 'ftp://h/x', '', '   ', 'http://'])
    it(`returns null for ${JSON.stringify(reference)}`, () => assert.equal(resolveUrl(reference, 'http://h/'), null));
});

describe('fragmentOf', () => {
  it('returns the fragment with its #', () => assert.equal(fragmentOf('a.html#x'), '#x'));
  it('returns an empty string without one', () => assert.equal(fragmentOf('a.html'), ''));
});

describe('resolveUrl against the WHATWG parser', () => {
  // Root-relative references take a quick path (the base's origin in front); any of them must read as the parser reads it.
  const piece = fc.constantFrom('/', 'a', 'B', '.', '..', '?', '=', '&', '%41', '%2e', ' ', '\\', "'", '"', '#', 'é', ':', '@', '~', '+', '//', '\t');
  const reference = fc.array(piece, { maxLength: 10 }).map((pieces) => pieces.join(''));
  const base = fc.constantFrom('http://h/a/x.html', 'https://H.example:443/dir/', 'http://127.0.0.1:8080/', 'http://u:p@h/a?q', 'mailto:x@h', 'file:///tmp/a.html');
  const byParser = (ref: string, from: string): string | null => {
    const trimmed = ref.trim();
    if (trimmed === '') return null;
    try {
      const url = new URL(trimmed, from);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch {
      return null;
    }
  };

  it('gives what the parser gives, for references that start with a slash and for any other', () => {
    fc.assert(
      fc.property(fc.oneof(reference.map((ref) => `/${ref}`), reference), base, (ref, from) => {
        assert.equal(resolveUrl(ref, from), byParser(ref, from));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('pathnameOf against the WHATWG parser', () => {
  it('gives the parsed pathname of any URL that parses, written as the parser writes URLs or not', () => {
    const start = fc.constantFrom('http://h', 'https://u:p@h:8443', 'http://[::1]', 'HTTP://H', 'http:/', 'http://', 'ftp://h', 'https://h?q', 'x');
    const piece = fc.constantFrom('/', 'a', '.', '..', 'b.html', '?', '#', '%2e', '%2E', '%41', '%', '\\', ' ', '\t', 'é', '"', '<', '`', '{', ':', '@', '~');
    const rest = fc.array(piece, { maxLength: 10 }).map((pieces) => pieces.join(''));
    const byParser = (url: string): string => {
      try {
        return new URL(url).pathname;
      } catch {
        return '';
      }
    };
    fc.assert(
      fc.property(start, rest, (head, tail) => {
        const url = `${head}${tail}`;
        if (URL.canParse(url)) assert.equal(pathnameOf(url), byParser(url), url);
        else assert.ok(pathnameOf(url) === '' || pathnameOf(url).startsWith('/'), url);
        const href = URL.canParse(url) ? new URL(url).href : undefined;
        if (href !== undefined) assert.equal(pathnameOf(href), byParser(href), href);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('httpOriginOf against the WHATWG parser', () => {
  it('gives the parsed origin of any http(s) URL that parses, and undefined for the rest', () => {
    const scheme = fc.constantFrom('http://', 'https://', 'HTTP://', 'ftp://', 'http:/', '');
    const label = fc.constantFrom('h', 'H', 'www', 'xn--bcher-kva', 'xn--a', 'xn--', 'a--b', 'bücher', '0', '00', '1', '127', '255', '256', '0x7f', '08', 'a-', '-a', '', 'a_b', '%41');
    const host = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
    const port = fc.constantFrom('', ':', ':80', ':443', ':8080', ':080', ':0', ':65535', ':65536', ':99999', ':1a');
    const user = fc.constantFrom('', 'u@', 'u:p@');
    const rest = fc.constantFrom('/', '/a/b.html', '?q=1', '/?q', '#f', '', '\\x', '/%2e/');
    const byParser = (url: string): string | undefined => {
      try {
        const parsed = new URL(url);
        return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
      } catch {
        return undefined;
      }
    };
    const urls = fc.tuple(scheme, user, fc.oneof(host, fc.constantFrom('[::1]', '[::FFFF:7f00:1]')), port, rest).map((parts) => parts.join(''));
    fc.assert(
      fc.property(urls, (url) => {
        assert.equal(httpOriginOf(url), byParser(url), url);
      }),
      { numRuns: 5000 },
    );
    assert.equal(httpOriginOf('http://127.0.0.1:8901/a'), 'http://127.0.0.1:8901');
  });
});
