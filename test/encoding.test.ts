import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { decodeStylesheet, parseStylesheet } from '../src/css.js';
import { decodeHtml, parseHtml } from '../src/html.js';

const MIXED = '한국어 Українська 中文 Élan';
const JAPANESE = '日本語のページ';
const utf8Page = (head = '') => `<!DOCTYPE html><html><head>${head}<title>${MIXED}</title></head><body><p>${MIXED}</p></body></html>`;
const bytes = (text: string, encoding: string): Buffer => iconv.encode(text, encoding);

describe('decodeHtml: WHATWG encoding sniffing (E-03)', () => {
  it('uses the HTTP charset', async () => {
    assert.deepEqual(await decodeHtml(Buffer.from(utf8Page()), 'utf-8'), { text: utf8Page(), encoding: 'utf-8' });
  });

  it('uses <meta charset> when the header has none', async () => {
    const html = utf8Page('<meta charset="utf-8">');
    assert.deepEqual(await decodeHtml(Buffer.from(html)), { text: html, encoding: 'utf-8' });
  });

  it('reads undeclared bytes that are valid UTF-8 as UTF-8 (never re-encoding them as Latin-1)', async () => {
    assert.deepEqual(await decodeHtml(Buffer.from(utf8Page())), { text: utf8Page(), encoding: 'utf-8' });
  });

  it('reads ISO-8859-1 from the header as windows-1252, as browsers do', async () => {
    const html = '<html><body>Café – “quoted”</body></html>';
    const result = await decodeHtml(bytes(html, 'windows-1252'), 'ISO-8859-1');
    assert.deepEqual(result, { text: html, encoding: 'windows-1252' });
  });

  it('guesses windows-1252 for undeclared bytes that are not valid UTF-8', async () => {
    const html = '<p>Élan vital, déjà vu</p>';
    assert.deepEqual(await decodeHtml(bytes(html, 'latin1')), { text: html, encoding: 'windows-1252' });
  });

  it('decodes Shift_JIS declared only in <meta http-equiv>', async () => {
    const html = `<html><head><meta http-equiv="Content-Type" content="text/html; charset=shift_jis"></head><body>${JAPANESE}</body></html>`;
    assert.deepEqual(await decodeHtml(bytes(html, 'Shift_JIS')), { text: html, encoding: 'shift_jis' });
  });

  it('decodes GB2312 (as its superset GBK)', async () => {
    const html = '<html><head><meta charset="gb2312"></head><body>中文页面</body></html>';
    assert.deepEqual(await decodeHtml(bytes(html, 'gbk')), { text: html, encoding: 'gbk' });
    assert.equal((await decodeHtml(bytes('<p>中文</p>', 'gbk'), 'GB2312')).text, '<p>中文</p>');
  });

  it('lets a byte order mark override a wrong header', async () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(utf8Page())]);
    assert.deepEqual(await decodeHtml(body, 'iso-8859-1'), { text: utf8Page(), encoding: 'utf-8' });
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), bytes('<p>é</p>', 'utf-16le')]);
    assert.deepEqual(await decodeHtml(utf16, 'utf-8'), { text: '<p>é</p>', encoding: 'utf-16le' });
    const utf16be = Buffer.concat([Buffer.from([0xfe, 0xff]), bytes('<p>é</p>', 'utf-16be')]);
    assert.deepEqual(await decodeHtml(utf16be, 'utf-8'), { text: '<p>é</p>', encoding: 'utf-16be' });
  });

  it('lets the header win over <meta>, and ignores an unknown header label', async () => {
    const html = '<meta charset="shift_jis"><p>Café</p>';
    assert.equal((await decodeHtml(Buffer.from(html), 'utf-8')).text, html);
    assert.equal((await decodeHtml(Buffer.from(html), 'no-such-charset')).encoding, 'shift_jis');
  });

  it('lets an undecodable header charset (replacement) beat <meta>, then falls back by the bytes', async () => {
    const html = '<meta charset="shift_jis"><p>Café</p>';
    assert.deepEqual(await decodeHtml(Buffer.from(html), 'iso-2022-kr'), { text: html, encoding: 'utf-8' });
  });

  it('writes a Shift_JIS page out as UTF-8 text that says utf-8 and keeps its Japanese', async () => {
    const html = `<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"><title>${JAPANESE}</title></head><body><a href="ページ.html#見出し">${JAPANESE}</a></body></html>`;
    const { text } = await decodeHtml(bytes(html, 'Shift_JIS'));
    const doc = parseHtml(text, 'http://host/');
    assert.equal(doc.title, JAPANESE);
    assert.deepEqual(doc.references.map((ref) => ref.url), ['http://host/%E3%83%9A%E3%83%BC%E3%82%B8.html']);
    const out = doc.serialize(() => null, { canonicalUrl: null });
    assert.ok(out.includes(`<title>${JAPANESE}</title>`));
    assert.ok(out.includes('#見出し'));
    assert.ok(out.includes('<meta charset="utf-8">'));
    assert.ok(!/shift_jis/i.test(out));
  });
});

describe('decodeStylesheet: CSS Syntax §3.2', () => {
  const css = '@charset "iso-8859-1";\n.a:after { content: "Café" }';

  it('uses @charset when there is no BOM or header, and serialises it as utf-8', () => {
    const text = decodeStylesheet(bytes(css, 'latin1'));
    assert.equal(text, css);
    assert.equal(parseStylesheet(text, 'http://host/a.css').serialize(() => null), css.replace('iso-8859-1', 'utf-8'));
  });

  it('prefers a BOM, then the header, over @charset', () => {
    assert.equal(decodeStylesheet(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(css)]), 'iso-8859-1'), css);
    assert.equal(decodeStylesheet(Buffer.from(css), 'utf-8'), css);
  });

  it("falls back to the referring document's encoding, then UTF-8", () => {
    const plain = '.a:after { content: "Café" }';
    assert.equal(decodeStylesheet(bytes(plain, 'latin1'), undefined, 'windows-1252'), plain);
    assert.equal(decodeStylesheet(Buffer.from(plain)), plain);
    assert.equal(decodeStylesheet(bytes(`@charset "shift_jis";a{content:"${JAPANESE}"}`, 'Shift_JIS'), undefined, 'utf-8'), `@charset "shift_jis";a{content:"${JAPANESE}"}`);
  });

  it('reads undeclared bytes that are not valid UTF-8 as windows-1252 instead of losing them to U+FFFD', () => {
    const legacy = '.a:after { content: "Café – déjà" }';
    assert.equal(decodeStylesheet(bytes(legacy, 'windows-1252')), legacy);
    assert.equal(decodeStylesheet(Buffer.from(legacy)), legacy);
  });
});
