// The tokenizer layer under HTML rewriting (src/htmltokens.ts): attribute spans and text edits on the page's own text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Parser } from 'htmlparser2';
import { applyEdits, applyEditsToAscii, attributeEdit, attributeRemoval, elementRemoval, IndexOfTokenizer, StockTokenizer, tokenizeHtml } from '../src/htmltokens.ts';

const tagsOf = (html: string) => tokenizeHtml(html).tags;

describe('htmltokens: tags and attribute spans', () => {
  it('decodes attribute values, lower-cases names and keeps the first of a repeated attribute', () => {
    const [a] = tagsOf('<A HREF="x.html?a=1&amp;b=2" href="second.html" Title=\'t&#39;s\' hidden>');
    assert.equal(a!.name, 'a');
    assert.deepEqual(a!.attribs, { href: 'x.html?a=1&b=2', title: "t's", hidden: '' });
  });

  it('sets a value in its own quotes, quotes an unquoted one, escapes & and the quote', () => {
    const html = `<a href=plain.html><img src='a.png'><link href="c.css">`;
    const [a, img, link] = tagsOf(html);
    const out = applyEdits(html, [
      attributeEdit(a!, 'href', 'local/plain.html?x=1&y=2')!,
      attributeEdit(img!, 'src', "it's.png")!,
      attributeEdit(link!, 'href', 'say "hi".css')!,
    ]);
    assert.equal(out, `<a href="local/plain.html?x=1&amp;y=2"><img src='it&#39;s.png'><link href="say &quot;hi&quot;.css">`);
  });

  it('leaves an unchanged value alone, entities and all', () => {
    const [a] = tagsOf('<a href="x?a=1&amp;b=2">');
    assert.equal(attributeEdit(a!, 'href', 'x?a=1&b=2'), null);
  });

  it('removes an attribute with its leading whitespace, and an element with its content and end tag', () => {
    const html = '<body onload="go()" class=x><script>if (a < b) {}</script><p>kept</p></body>';
    const [body, script] = tagsOf(html);
    assert.equal(script!.contentEnd, html.indexOf('</script>'));
    assert.equal(applyEdits(html, [attributeRemoval(html, body!, 'onload')!, elementRemoval(script!)]), '<body class=x><p>kept</p></body>');
  });

  it('reads script and style content as text and marks tags inside <noscript> and <svg>', () => {
    const tags = tagsOf('<script>document.write("<img src=no.png>")</script><noscript><img src=a.png></noscript><svg><title>s</title></svg><title>T &amp; U</title>');
    assert.deepEqual(tags.map((tag) => [tag.name, tag.inNoscript, tag.inForeign]), [
      ['script', false, false], ['noscript', false, false], ['img', true, false], ['svg', false, false], ['title', false, true], ['title', false, false],
    ]);
    assert.equal(tags.at(-1)!.text, 'T & U');
  });

  it('finds where <head> content starts: after <head>, else after <html>, else after the doctype', () => {
    assert.equal(tokenizeHtml('<!doctype html><html><head><title>x</title></head>').headStart, '<!doctype html><html><head>'.length);
    assert.equal(tokenizeHtml('<!doctype html><html lang=en><p>x').headStart, '<!doctype html><html lang=en>'.length);
    assert.equal(tokenizeHtml('<!doctype html><p>x').headStart, '<!doctype html>'.length);
    assert.equal(tokenizeHtml('<p>x').headStart, 0);
  });
});

describe('htmltokens: applyEdits', () => {
  it('puts insertions before a replacement at the same place, in the order given, and drops edits inside a removal', () => {
    const html = '<head><meta charset=latin1><noscript><a href=x></noscript></head>';
    const meta = html.indexOf('<meta');
    const noscript = html.indexOf('<noscript>');
    const noscriptEnd = html.indexOf('</head>');
    const link = html.indexOf('x>');
    const out = applyEdits(html, [
      { start: meta, end: noscript, text: '' },
      { start: meta, end: meta, text: '<meta charset="utf-8">' },
      { start: meta, end: meta, text: '<link rel="canonical" href="http://h/">' },
      { start: noscript, end: noscriptEnd, text: '' },
      { start: link, end: link + 1, text: '"y"' },
    ]);
    assert.equal(out, '<head><meta charset="utf-8"><link rel="canonical" href="http://h/"></head>');
  });

  it('writes the same bytes from an ASCII page\'s bytes as from its text, whatever the edits hold', () => {
    const edit = (length: number) =>
      fc.record({ start: fc.nat(length), span: fc.nat(12), text: fc.string({ unit: 'binary', maxLength: 8 }) }).map(({ start, span, text }) => ({ start, end: Math.min(length, start + span), text }));
    const page = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((code) => String.fromCharCode(code)), maxLength: 60 });
    fc.assert(
      fc.property(page.chain((html) => fc.tuple(fc.constant(html), fc.array(edit(html.length), { maxLength: 6 }))), ([html, edits]) => {
        assert.deepEqual(applyEditsToAscii(Buffer.from(html, 'latin1'), edits), Buffer.from(applyEdits(html, edits), 'utf8'));
      }),
      { numRuns: 500 },
    );
  });
});

/** What htmlparser2 decodes itself (entities decoded as it tokenizes): each start tag's attributes, and the title. */
function decodedByParser(html: string): { attribs: Record<string, string>[]; title: string | undefined } {
  const attribs: Record<string, string>[] = [];
  let title: string | undefined;
  let inTitle = false;
  const parser = new Parser(
    {
      onopentag: (name, values) => {
        attribs.push(values);
        if (name === 'title' && title === undefined) [inTitle, title] = [true, ''];
      },
      ontext: (text) => {
        if (inTitle) title += text;
      },
      onclosetag: (name) => {
        if (name === 'title') inTitle = false;
      },
    },
    { decodeEntities: true },
  );
  parser.end(html);
  return { attribs, title };
}

describe('htmltokens: entities decoded after tokenizing, as the tokenizer would', () => {
  // Entities with and without their semicolon, legacy names followed by '=' or a letter, numeric ones out of range.
  const piece = fc.constantFrom('a', '=', ' ', '&', ';', '#', 'x', '1', '&amp;', '&amp', '&copy', '&copy=', '&copyx', '&notin;', '&noti', '&#39;', '&#x41;', '&#0;', '&#x110000;', '&lt', '&gt;b', '&;', '&#', '&#x;');
  const value = fc.array(piece, { maxLength: 12 }).map((pieces) => pieces.join(''));

  it('gives every attribute value and the title exactly as htmlparser2 decodes them', () => {
    fc.assert(
      fc.property(value, value, value, (href, title, text) => {
        const html = `<a href="${href.replace(/"/g, '')}" title='${title.replace(/'/g, '')}' data-x=${text.replace(/[\s>"'=<`]/g, '') || 'v'}>x</a><title>${text.replace(/</g, '')}</title>`;
        const tokens = tokenizeHtml(html).tags;
        const expected = decodedByParser(html);
        assert.deepEqual(tokens.map((tag) => tag.attribs), expected.attribs);
        assert.equal(tokens.find((tag) => tag.name === 'title')?.text, expected.title);
      }),
      { numRuns: 500 },
    );
  });
});

describe('htmltokens: the indexOf tokenizer', () => {
  // IndexOfTokenizer replaces one of htmlparser2's private methods: every callback, with its offsets, must stay the same.
  const piece = fc.constantFrom('<', '>', '<!--', '-->', '<script>', '</script>', '</SCRIPT >', '<style>', '</style>', '<title>', '</title>', '<textarea>', '</textarea>', '"', "'", '=', ' ', '\n', 'a', '<a href=', '<img src="x.png">', '<![CDATA[', ']]>', '<!', '<!DOCTYPE html>', '<?', '</', '&amp;', '--', '<b ', '/>', '<svg>', '</svg>');
  const html = fc.array(piece, { maxLength: 40 }).map((pieces) => pieces.join(''));
  type TokenizerClass = new (options: object, callbacks: object) => { write(text: string): void; end(): void };

  it("calls back exactly as htmlparser2's own tokenizer does, on any mix of tags, comments, raw text and quotes", () => {
    const callbacksOf = (Tokenizer: TokenizerClass, text: string): string[] => {
      const calls: string[] = [];
      const recorder = new Proxy({}, { get: (_target, name) => (...args: unknown[]) => calls.push(`${String(name)}(${args.join(',')})`) });
      const tokenizer = new Tokenizer({ decodeEntities: false }, recorder);
      tokenizer.write(text);
      tokenizer.end();
      return calls;
    };
    assert.ok(callbacksOf(StockTokenizer as unknown as TokenizerClass, '<p>text</p>').length > 0);
    fc.assert(
      fc.property(html, (text) => {
        assert.deepEqual(callbacksOf(IndexOfTokenizer as unknown as TokenizerClass, text), callbacksOf(StockTokenizer as unknown as TokenizerClass, text));
      }),
      { numRuns: 3000 },
    );
  });
});
