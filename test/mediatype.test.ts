import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveMediaType } from '../src/mediatype.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]);
const bytes = (...parts: (string | number[] | Buffer)[]): Buffer =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));
const BOM = [0xef, 0xbb, 0xbf];

describe('effectiveMediaType', () => {
  describe('finds binary bytes behind an HTML label (E-07)', () => {
    const table: [what: string, body: Buffer, expected: string][] = [
      ['PNG', PNG, 'image/png'],
      ['JPEG', JPEG, 'image/jpeg'],
      ['GIF87a', bytes('GIF87a', [1, 0, 1, 0]), 'image/gif'],
      ['GIF89a', bytes('GIF89a', [1, 0, 1, 0]), 'image/gif'],
      ['WebP', bytes('RIFF', [0x24, 0, 0, 0], 'WEBPVP8 '), 'image/webp'],
      ['PDF', bytes('%PDF-1.7\n'), 'application/pdf'],
      ['ZIP', bytes([0x50, 0x4b, 0x03, 0x04, 0x14, 0]), 'application/zip'],
      ['gzip', bytes([0x1f, 0x8b, 0x08, 0, 0, 0]), 'application/gzip'],
      ['WOFF', bytes('wOFF', [0, 1, 0, 0]), 'font/woff'],
      ['WOFF2', bytes('wOF2', [0, 1, 0, 0]), 'font/woff2'],
      ['ICO', bytes([0, 0, 1, 0, 1, 0, 16, 16]), 'image/x-icon'],
      ['PNG after a BOM and whitespace', bytes(BOM, ' \r\n\t', PNG), 'image/png'],
    ];
    for (const [what, body, expected] of table) {
      it(`reads ${what} bytes labelled text/html as ${expected}`, () => {
        assert.equal(effectiveMediaType('text/html', body, 'http://h/lie.png'), expected);
      });
    }
  });

  it('reads PNG bytes as image/png when the label is empty, octet-stream, or text/plain on an .html URL', () => {
    assert.equal(effectiveMediaType('', PNG, 'http://h/x'), 'image/png');
    assert.equal(effectiveMediaType('application/octet-stream', PNG, 'http://h/x.html'), 'image/png');
    assert.equal(effectiveMediaType('text/plain', PNG, 'http://h/x.htm'), 'image/png');
  });

  it('keeps text/plain when the URL is not .html/.htm, even on binary bytes', () => {
    assert.equal(effectiveMediaType('text/plain', PNG, 'http://h/x.txt'), 'text/plain');
    assert.equal(effectiveMediaType('text/plain', bytes('<html>'), 'http://h/x.html'), 'text/plain');
  });

  it('keeps text/html for an HTML body, whatever the URL says (report.pdf that really is HTML)', () => {
    assert.equal(effectiveMediaType('text/html', bytes('<!doctype html><p>hi'), 'http://h/report.pdf'), 'text/html');
    assert.equal(effectiveMediaType('text/html', Buffer.alloc(0), 'http://h/empty.png'), 'text/html');
    assert.equal(effectiveMediaType('text/html', bytes('GIF is a nice format'), 'http://h/'), 'text/html');
  });

  it('trusts any other declared type, even on other binary bytes (wrongtype.jpg labelled image/png)', () => {
    assert.equal(effectiveMediaType('image/png', JPEG, 'http://h/wrongtype.jpg'), 'image/png');
    assert.equal(effectiveMediaType('text/css', PNG, 'http://h/a.css'), 'text/css');
    assert.equal(effectiveMediaType('application/json', bytes('<html>'), 'http://h/a'), 'application/json');
  });

  describe('sniffs HTML when the label is empty or application/octet-stream', () => {
    const table: [what: string, body: Buffer][] = [
      ['<!DOCTYPE html>', bytes('<!DOCTYPE html>\n<title>x</title>')],
      ['<!doctype HTML PUBLIC …>', bytes('<!doctype HTML PUBLIC "-//W3C//DTD HTML 4.01//EN">')],
      ['<html lang>', bytes('<html lang="fr">')],
      ['<HEAD>', bytes('<HEAD><title>x</title>')],
      ['<body>', bytes('<body>')],
      ['a BOM, whitespace and comments first', bytes(BOM, '\n  <!-- a -->\n<!--b--><html>')],
      ['UTF-16LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<html>', 'utf16le')])],
      ['UTF-16BE with a BOM', Buffer.from([0xfe, 0xff, 0, 0x3c, 0, 0x68, 0, 0x74, 0, 0x6d, 0, 0x6c, 0, 0x3e])],
    ];
    for (const [what, body] of table) {
      it(`reads ${what} as text/html`, () => {
        assert.equal(effectiveMediaType('', body, 'http://h/notype.png'), 'text/html');
        assert.equal(effectiveMediaType('application/octet-stream', body, 'http://h/x'), 'text/html');
      });
    }

    it('does not take <htmlfoo>, <header>, an unclosed comment or text for HTML', () => {
      for (const body of ['<htmlfoo>', '<header>', '<!-- <html>', 'hello <html>', '<p>hi</p>']) {
        assert.equal(effectiveMediaType('', bytes(body), 'http://h/x'), '', body);
      }
    });
  });

  describe('falls back to the URL extension when the label is empty and the bytes say nothing', () => {
    const table: [headerType: string, url: string, expected: string][] = [
      ['', 'http://h/notype.png', 'image/png'],
      ['', 'http://h/notype.pdf', 'application/pdf'],
      ['', 'http://h/emptyct.png?v=1#x', 'image/png'],
      ['', 'http://h/page.HTM', 'text/html'],
      ['application/octet-stream', 'http://h/app.js', 'text/javascript'],
      ['application/octet-stream', 'http://h/archive.tar.gz', 'application/gzip'],
      ['', 'http://h/noext', ''],
      ['', 'http://h/dir.png/', ''],
      ['', 'not a url', ''],
    ];
    for (const [headerType, url, expected] of table) {
      it(`gives ${url} labelled '${headerType}' the type '${expected}'`, () => {
        assert.equal(effectiveMediaType(headerType, bytes('plain bytes'), url), expected);
      });
    }
  });

  it('lets a binary signature win over the URL extension when the label is empty', () => {
    assert.equal(effectiveMediaType('', JPEG, 'http://h/notype.png'), 'image/jpeg');
  });

  it('returns a bare lower-case type', () => {
    assert.equal(effectiveMediaType(' Text/HTML ', PNG, 'http://h/x'), 'image/png');
    assert.equal(effectiveMediaType('Image/SVG+XML', bytes('<svg/>'), 'http://h/x'), 'image/svg+xml');
  });
});
