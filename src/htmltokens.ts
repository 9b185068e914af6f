// One linear pass over HTML text with htmlparser2's tokenizer (cheerio's own parser), keeping where every start tag
// and attribute value sits in the text, so links can be rewritten by splicing the original text: the rest of the
// page stays byte for byte as served, and no tree is built or serialized. Pure.
// entities/decode, which htmlparser2's tokenizer loads anyway; the package's index adds the encoders' tables.
import { decodeHTML, decodeHTMLAttribute } from 'entities/decode';
import type { QuoteType as QuoteKind, Tokenizer as HtmlTokenizer, TokenizerCallbacks } from 'htmlparser2';

// htmlparser2's index also loads its tree builder and DomUtils, about 25 ms of a crawl's start-up spent before the
// first page can be read; its Tokenizer module alone is all this needs. The package does not export that file, so it
// is found beside the index (the version is pinned in package.json; every HTML test loads it).
const tokenizerModule = (await import(new URL('./Tokenizer.js', import.meta.resolve('htmlparser2')).href)) as {
  default: typeof HtmlTokenizer;
  QuoteType: typeof QuoteKind;
};
const QuoteType = tokenizerModule.QuoteType;
/** htmlparser2's tokenizer as it ships, for the tests and the bench that hold IndexOfTokenizer to it. */
export const StockTokenizer = tokenizerModule.default;

/** The fields of htmlparser2's tokenizer that fastForwardTo moves (private in its types). */
interface TokenizerCursor {
  buffer: string;
  index: number;
  offset: number;
}

/**
 * htmlparser2's tokenizer, skipping through text, raw text and quoted values to the next significant character with
 * indexOf instead of its loop over char codes: that loop was the largest single cost of a crawl (0.16 ms of a page's
 * 3.7, profile without inlining). Same contract: index lands on the character, or on the buffer's last one when the
 * character is absent.
 */
export class IndexOfTokenizer extends StockTokenizer {}
Object.defineProperty(IndexOfTokenizer.prototype, 'fastForwardTo', {
  value: function fastForwardTo(this: TokenizerCursor, charCode: number): boolean {
    const found = this.buffer.indexOf(String.fromCharCode(charCode), this.index + 1 - this.offset);
    if (found === -1) {
      this.index = this.buffer.length + this.offset - 1;
      return false;
    }
    this.index = found + this.offset;
    return true;
  },
});

/** Where an attribute sits in the text: its name starts at nameStart, the whole attribute ends at end. */
export interface AttributeSpan {
  nameStart: number;
  /** The value between its quotes (or the unquoted value); equal to end of the name for a valueless attribute. */
  valueStart: number;
  valueEnd: number;
  end: number;
  quote: QuoteKind;
}

/** A start tag as written: names in lower case, attribute values decoded (the first of a repeated name wins). */
export interface HtmlTag {
  name: string;
  attribs: Readonly<Record<string, string>>;
  spans: ReadonlyMap<string, AttributeSpan>;
  /** [start, end) of the start tag, from '<' to after '>'. */
  start: number;
  end: number;
  /** For elements that hold text (script, style, title, noscript, …): [start, end) of their content and the end of their end tag. */
  contentEnd?: number;
  elementEnd?: number;
  /** Inside <noscript>: a browser with scripting on shows none of it, so it says nothing about the page itself. */
  inNoscript: boolean;
  /** Inside <svg> or <math>, where <title> and <style> are not the page's. */
  inForeign: boolean;
  /** Text content with entities decoded, kept for <title> only. */
  text?: string;
}

export interface HtmlTokens {
  tags: HtmlTag[];
  /** Positions for inserting into <head>: after the first <head> start tag, or after <html>, or after the doctype. */
  headStart: number;
  /** Start of the first </head>, or -1. */
  headEnd: number;
}

/** Elements whose end is needed: their content is rewritten (style), read (title) or removed with them (script, noscript). */
const CONTAINERS = new Set(['script', 'style', 'title', 'noscript']);
/** What a tag without attributes holds, shared: about two thirds of a page's tags have none, and each made a map and an object. */
const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({});
const NO_SPANS: ReadonlyMap<string, AttributeSpan> = new Map();
const FOREIGN = new Set(['svg', 'math']);
/** The first letters, in lower case, of the end tags onclosetag acts on (head, FOREIGN, CONTAINERS). */
const CLOSE_TAG_INITIALS = new Set([0x68, 0x73, 0x6d, 0x74, 0x6e]);

class TokenCollector implements TokenizerCallbacks {
  readonly tags: HtmlTag[] = [];
  headOpenEnd = -1;
  htmlOpenEnd = -1;
  doctypeEnd = -1;
  headEnd = -1;
  private tag: HtmlTag | null = null;
  /** The current tag's attributes, made at its first one. */
  private attribs: Record<string, string> | null = null;
  private spans: Map<string, AttributeSpan> | null = null;
  private attributeName = '';
  private attributeNameStart = 0;
  private attributeNameEnd = 0;
  /** The value as reported so far: one part, nearly always (an array per attribute was 2% of a crawl's garbage). */
  private value = '';
  private readonly open: HtmlTag[] = [];
  private noscriptDepth = 0;
  private foreignDepth = 0;
  private titleParts: string[] | null = null;

  constructor(private readonly html: string) {}

  onopentagname(start: number, endIndex: number): void {
    this.tag = {
      name: this.html.slice(start, endIndex).toLowerCase(),
      attribs: NO_ATTRIBUTES,
      spans: NO_SPANS,
      start: start - 1,
      end: endIndex,
      inNoscript: this.noscriptDepth > 0,
      inForeign: this.foreignDepth > 0,
    };
    this.attribs = null;
    this.spans = null;
  }

  onattribname(start: number, endIndex: number): void {
    this.attributeName = this.html.slice(start, endIndex).toLowerCase();
    this.attributeNameStart = start;
    this.attributeNameEnd = endIndex;
    this.value = '';
  }

  onattribdata(start: number, endIndex: number): void {
    const part = this.html.slice(start, endIndex);
    this.value = this.value === '' ? part : this.value + part;
  }

  onattribentity(): void {} // not called: the tokenizer leaves entities alone (see tokenizeHtml)

  onattribend(quote: QuoteKind, endIndex: number): void {
    const tag = this.tag;
    if (tag === null) return;
    // SVG's xlink:href is the element's href (parse5 stores it under that local name too).
    let name = this.attributeName;
    if (name === 'xlink:href' && !tag.spans.has('href')) name = 'href';
    if (tag.spans.has(name)) return;
    let valueStart = this.attributeNameEnd;
    let end = this.attributeNameEnd;
    if (quote !== QuoteType.NoValue) {
      valueStart = this.html.indexOf('=', this.attributeNameEnd) + 1;
      while (isWhitespace(this.html.charCodeAt(valueStart))) valueStart++;
      if (quote !== QuoteType.Unquoted) valueStart++;
      end = endIndex;
    }
    // For a quoted value the tokenizer reports the index just past the closing quote.
    const valueEnd = quote === QuoteType.NoValue || quote === QuoteType.Unquoted ? end : end - 1;
    const raw = this.value;
    if (this.attribs === null || this.spans === null) {
      tag.attribs = this.attribs = {};
      tag.spans = this.spans = new Map();
    }
    this.attribs[name] = raw.includes('&') ? decodeHTMLAttribute(raw) : raw;
    this.spans.set(name, { nameStart: this.attributeNameStart, valueStart, valueEnd, end, quote });
  }

  onopentagend(endIndex: number): void {
    this.finishTag(endIndex + 1, false);
  }

  onselfclosingtag(endIndex: number): void {
    this.finishTag(endIndex + 1, true);
  }

  private finishTag(end: number, selfClosing: boolean): void {
    const tag = this.tag;
    if (tag === null) return;
    this.tag = null;
    tag.end = end;
    this.tags.push(tag);
    const outside = !tag.inNoscript && !tag.inForeign;
    if (tag.name === 'head' && this.headOpenEnd === -1 && outside) this.headOpenEnd = end;
    if (tag.name === 'html' && this.htmlOpenEnd === -1) this.htmlOpenEnd = end;
    if (FOREIGN.has(tag.name) && !selfClosing) this.foreignDepth++;
    // The tokenizer reads script, style, title, textarea and xmp as raw text, so a self-closing slash cannot skip them.
    if (CONTAINERS.has(tag.name) && (!selfClosing || tag.name !== 'noscript')) {
      this.open.push(tag);
      if (tag.name === 'noscript') this.noscriptDepth++;
      if (tag.name === 'title') this.titleParts = [];
    }
  }

  onclosetag(start: number, endIndex: number): void {
    // Most end tags (</a>, </p>, </div>, </li>) are none of those: no name string made for them.
    if (!CLOSE_TAG_INITIALS.has(this.html.charCodeAt(start) | 0x20)) return;
    const name = this.html.slice(start, endIndex).toLowerCase();
    const closeEnd = this.html.indexOf('>', endIndex) + 1 || this.html.length;
    if (name === 'head' && this.headEnd === -1 && this.noscriptDepth === 0 && this.foreignDepth === 0) this.headEnd = start - 2;
    if (FOREIGN.has(name) && this.foreignDepth > 0) this.foreignDepth--;
    if (!CONTAINERS.has(name)) return;
    const index = this.open.findLastIndex((tag) => tag.name === name);
    if (index === -1) return;
    const [tag] = this.open.splice(index, 1);
    tag!.contentEnd = start - 2;
    tag!.elementEnd = closeEnd;
    if (name === 'noscript') this.noscriptDepth--;
    if (name === 'title' && this.titleParts !== null) {
      tag!.text = decodeHTML(this.titleParts.join(''));
      this.titleParts = null;
    }
  }

  ontext(start: number, endIndex: number): void {
    this.titleParts?.push(this.html.slice(start, endIndex));
  }

  ontextentity(): void {} // not called (see tokenizeHtml)

  ondeclaration(_start: number, endIndex: number): void {
    if (this.doctypeEnd === -1) this.doctypeEnd = endIndex + 1;
  }

  onend(): void {
    // An element left open runs to the end of the text, as in a browser.
    for (const tag of this.open) {
      tag.contentEnd = this.html.length;
      tag.elementEnd = this.html.length;
      if (tag.name === 'title' && this.titleParts !== null) tag.text = decodeHTML(this.titleParts.join(''));
    }
    this.open.length = 0;
  }

  oncdata(): void {}
  oncomment(): void {}
  onprocessinginstruction(): void {}
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d;
}

export function tokenizeHtml(html: string): HtmlTokens {
  const collector = new TokenCollector(html);
  // Entities are decoded afterwards, only in the attribute values and the title that have any, by the decoder the
  // tokenizer itself would use (entities, in its attribute and text modes): the tokenizer then skips through text
  // to the next '<' and through a value to its closing quote, instead of checking every character for '&' (a
  // third less time on a typical page).
  const tokenizer = new IndexOfTokenizer({ decodeEntities: false }, collector);
  tokenizer.write(html);
  tokenizer.end();
  const headStart = [collector.headOpenEnd, collector.htmlOpenEnd, collector.doctypeEnd].find((at) => at !== -1) ?? 0;
  return { tags: collector.tags, headStart, headEnd: collector.headEnd };
}

/** A change to the text: [start, end) replaced by text (an insertion when start === end). */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/**
 * Applies edits in one join. Insertions at a position come before a replacement starting there, in the order given;
 * an edit inside a range already removed (a link inside a dropped <noscript>) is dropped with it.
 */
export function applyEdits(html: string, edits: readonly TextEdit[]): string {
  if (edits.length === 0) return html;
  const parts: string[] = [];
  let cursor = 0;
  for (const edit of editsInOrder(edits)) {
    parts.push(html.slice(cursor, edit.start), edit.text);
    cursor = edit.end;
  }
  parts.push(html.slice(cursor));
  return parts.join('');
}

/**
 * applyEdits on the bytes of an all-ASCII text, where every character is one byte: the output is copied from the
 * bytes as served and the edits' UTF-8, without building the rewritten page as a string and encoding it again
 * (the bytes themselves when there is nothing to edit).
 */
export function applyEditsToAscii(bytes: Buffer, edits: readonly TextEdit[]): Buffer {
  if (edits.length === 0) return bytes;
  const kept = editsInOrder(edits);
  let length = bytes.length;
  for (const edit of kept) length += Buffer.byteLength(edit.text) - (edit.end - edit.start);
  const output = Buffer.allocUnsafe(length);
  let cursor = 0;
  let at = 0;
  for (const edit of kept) {
    at += bytes.copy(output, at, cursor, edit.start);
    at += output.write(edit.text, at);
    cursor = edit.end;
  }
  bytes.copy(output, at, cursor);
  return output;
}

/** The edits applyEdits applies, in the order it applies them (see there). */
function editsInOrder(edits: readonly TextEdit[]): TextEdit[] {
  // Array.prototype.sort is stable: edits that compare equal keep the order given.
  const ordered = edits.slice().sort((a, b) => a.start - b.start || insertionFirst(a, b) || b.end - a.end);
  const kept: TextEdit[] = [];
  let cursor = 0;
  for (const edit of ordered) {
    if (edit.start < cursor) continue;
    kept.push(edit);
    cursor = edit.end;
  }
  return kept;
}

function insertionFirst(a: TextEdit, b: TextEdit): number {
  return Number(a.start !== a.end) - Number(b.start !== b.end);
}

/** An attribute value written back in its own quotes (an unquoted value gains double quotes). */
export function quotedValue(value: string, quote: QuoteKind): string {
  const escaped = value.replace(/&/g, '&amp;');
  if (quote === QuoteType.Single) return escaped.replace(/'/g, '&#39;');
  const inDouble = escaped.replace(/"/g, '&quot;');
  return quote === QuoteType.Double ? inDouble : `"${inDouble}"`;
}

/** The edit that sets an attribute's value, keeping its quotes; null when the value does not change. */
export function attributeEdit(tag: HtmlTag, name: string, value: string): TextEdit | null {
  const span = tag.spans.get(name);
  if (span === undefined || tag.attribs[name] === value) return null;
  if (span.quote === QuoteType.NoValue) return { start: span.end, end: span.end, text: `=${quotedValue(value, QuoteType.Unquoted)}` };
  return { start: span.valueStart, end: span.valueEnd, text: quotedValue(value, span.quote) };
}

/** The edit that removes an attribute with the whitespace before it. */
export function attributeRemoval(html: string, tag: HtmlTag, name: string): TextEdit | null {
  const span = tag.spans.get(name);
  if (span === undefined) return null;
  let start = span.nameStart;
  while (start > tag.start && isWhitespace(html.charCodeAt(start - 1))) start--;
  return { start, end: span.end, text: '' };
}

/** The edit that removes an element: its start tag, and its content and end tag when it has them. */
export function elementRemoval(tag: HtmlTag): TextEdit {
  return { start: tag.start, end: tag.elementEnd ?? tag.end, text: '' };
}
