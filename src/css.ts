// Links in CSS: @import targets and url() values, found with postcss and postcss-value-parser (never regular
// expressions), rewritten by splicing the original text so everything else stays byte for byte. Pure.
import { isUtf8 } from 'node:buffer';
import type { AtRule, Declaration, Root } from 'postcss';
import type { Node as ValueNode } from 'postcss-value-parser';
import { bomEncoding, decodeBytes, encodingForLabel } from './charset.js';
import { lazyRequire } from './lazy.js';
import { linkTarget, ReferenceList, rewrittenLink, spliceText, type LinkTarget, type TextSpan } from './reference.js';
import type { LinkResolver, Reference } from './types.js';

// postcss is about 30 ms of a crawl's start-up, which the crawl would spend before it could read robots.txt's answer;
// it loads at its first use instead, or from preloadCssParser while the first requests are on their way.
const postcss = lazyRequire<typeof import('postcss').default>('postcss');
const safeParser = lazyRequire<typeof import('postcss-safe-parser')>('postcss-safe-parser');
const valueParser = lazyRequire<typeof import('postcss-value-parser')>('postcss-value-parser');

/** Loads the CSS parsers now: for a moment when the process would only wait for the network. */
export function preloadCssParser(): void {
  postcss();
  valueParser();
}

export interface ParsedStylesheet {
  /** URLs the stylesheet needs: @import targets (expected 'css') and url() values (expected 'other'), resolved against baseUrl, all kind 'requisite', in order, duplicates removed. */
  references: Reference[];
  /** The stylesheet with every url() and @import rewritten through `resolve` (relative path or absolute origin URL), everything else byte-for-byte as it was, and an existing @charset changed to "utf-8". */
  serialize(resolve: LinkResolver): string;
}

/** A span of the text to replace: a URL token (quoted string or bare url() contents), or @charset's value. */
interface Slot extends TextSpan {
  /** null for the @charset value. */
  target: LinkTarget | null;
  quote: string;
}

export function parseStylesheet(cssText: string, baseUrl: string): ParsedStylesheet {
  return scan(cssText, baseUrl, true);
}

/** For a style="" attribute: a declaration list. */
export function parseStyleDeclarations(cssText: string, baseUrl: string): ParsedStylesheet {
  return scan(cssText, baseUrl, false);
}

function scan(cssText: string, baseUrl: string, isSheet: boolean): ParsedStylesheet {
  const cuts = statementCuts(cssText);
  const slots: Slot[] = [];
  const references = new ReferenceList();
  const addUrl = (start: number, token: ValueNode, expected: 'css' | 'other'): void => {
    if ('unclosed' in token && token.unclosed) return; // a truncated string or url( names nothing for sure
    const quote = token.type === 'string' ? token.quote : '';
    const target = linkTarget(unescapeCss(token.value), baseUrl);
    if (target === null) return;
    references.add(target.url, 'requisite', expected);
    slots.push({ start: start + token.sourceIndex, end: start + token.sourceEndIndex, target, quote });
  };

  // Parsed in pieces cut between top-level statements, so a huge stylesheet never holds one huge syntax tree.
  for (let i = 0; i + 1 < cuts.length; i++) {
    const chunk = cssText.slice(cuts[i], cuts[i + 1]);
    parseLeniently(chunk).walk((node) => {
      if (node.type === 'decl') {
        const value = declarationValue(chunk, node);
        if (value !== null) collectValueUrls(value.text, cuts[i] + value.start, addUrl);
      } else if (node.type === 'atrule' && isSheet && node.parent?.type === 'root') {
        const params = atRuleParams(chunk, node);
        if (params === null) return;
        const start = cuts[i] + params.start;
        const name = node.name.toLowerCase();
        if (name === 'import') collectImportUrl(params.text, start, addUrl);
        if (name === 'charset') slots.push({ start, end: start + params.text.length, target: null, quote: '"' });
      }
    });
  }

  // postcss walks in source order; sort only in case a future node kind breaks that.
  if (!slots.every((slot, i) => i === 0 || slots[i - 1].end <= slot.start)) slots.sort((a, b) => a.start - b.start);
  return {
    references: references.toArray(),
    serialize: (resolve) =>
      spliceText(cssText, slots, (slot) =>
        slot.target === null ? '"utf-8"' : urlToken(rewrittenLink(slot.target, resolve), slot.quote),
      ),
  };
}

const CHUNK_CHARS = 256 * 1024;

/**
 * Offsets that cut the stylesheet between top-level statements about every CHUNK_CHARS characters, from 0 to the
 * end. Strings, comments and escapes are skipped the way postcss's tokenizer does, so no cut falls inside them.
 */
function statementCuts(css: string): number[] {
  if (css.length <= CHUNK_CHARS) return [0, css.length];
  const cuts = [0];
  let braces = 0;
  let parens = 0; // a bare url( … ) may hold { } and ; as plain characters
  let next = CHUNK_CHARS;
  for (let i = 0; i < css.length; i++) {
    const char = css[i];
    if (char === '\\') {
      i++;
    } else if (char === '/' && css[i + 1] === '*') {
      const close = css.indexOf('*/', i + 2);
      if (close === -1) break;
      i = close + 1;
    } else if (char === '"' || char === "'") {
      i = closingQuote(css, i);
    } else if (char === '(' || char === ')') {
      parens = char === '(' ? parens + 1 : Math.max(0, parens - 1);
    } else if (parens === 0 && char === '{') {
      braces++;
    } else if (parens === 0 && (char === '}' || char === ';')) {
      if (char === '}') braces = Math.max(0, braces - 1);
      if (braces === 0 && i + 1 >= next && i + 1 < css.length) {
        cuts.push(i + 1);
        next = i + 1 + CHUNK_CHARS;
      }
    }
  }
  cuts.push(css.length);
  return cuts;
}

/** The offset of the quote closing the string opened at `open` (or the end of the text). */
function closingQuote(css: string, open: number): number {
  for (let i = open + 1; i < css.length; i++) {
    if (css[i] === '\\') i++;
    else if (css[i] === css[open]) return i;
  }
  return css.length;
}

/** Broken CSS never throws: postcss-safe-parser recovers the way browsers do (unclosed blocks and strings). */
function parseLeniently(cssText: string): Root {
  try {
    return postcss().parse(cssText);
  } catch {
    return safeParser()(cssText) as Root; // typed as any postcss parser; this one always builds a Root
  }
}

interface SourceText {
  text: string;
  start: number;
}

/** A declaration's value as written (comments included) and its offset in the stylesheet. */
function declarationValue(cssText: string, decl: Declaration): SourceText | null {
  const text = (decl.raws.value as { raw?: string } | undefined)?.raw ?? decl.value;
  if (!text.includes('(')) return null; // fast path: no url() or image-set() without a parenthesis
  const declStart = decl.source?.start?.offset;
  if (declStart === undefined) return null;
  // The source starts at the property as written, which may carry a `*` or `_` hack postcss moved into raws.before.
  const propLength = cssText.startsWith(decl.prop, declStart) ? decl.prop.length : decl.prop.length + 1;
  return locate(cssText, text, declStart + propLength + (decl.raws.between ?? '').length, declStart);
}

/** An at-rule's parameters as written and their offset. */
function atRuleParams(cssText: string, rule: AtRule): SourceText | null {
  const text = (rule.raws.params as { raw?: string } | undefined)?.raw ?? rule.params;
  const ruleStart = rule.source?.start?.offset;
  if (text === '' || ruleStart === undefined) return null;
  return locate(cssText, text, ruleStart + 1 + rule.name.length + (rule.raws.afterName ?? '').length, ruleStart);
}

/** Trusts a computed offset only if the text is really there; otherwise looks for it from the node's start. */
function locate(cssText: string, text: string, expectedStart: number, nodeStart: number): SourceText | null {
  if (cssText.startsWith(text, expectedStart)) return { text, start: expectedStart };
  const found = cssText.indexOf(text, nodeStart);
  return found === -1 ? null : { text, start: found };
}

type AddUrl = (start: number, token: ValueNode, expected: 'css' | 'other') => void;

/** url() anywhere in a value (image-set(), cross-fade(), @font-face src lists, …) and image-set()'s bare strings. */
function collectValueUrls(value: string, start: number, addUrl: AddUrl): void {
  valueParser()(value).walk((node) => {
    if (node.type !== 'function') return undefined;
    const name = node.value.toLowerCase();
    if (name === 'url') {
      if (node.unclosed !== true && node.nodes.length > 0) addUrl(start, node.nodes[0], 'other');
      return false;
    }
    if (name === 'image-set' || name === '-webkit-image-set') {
      for (const child of node.nodes) if (child.type === 'string') addUrl(start, child, 'other');
    }
    return undefined;
  });
}

/** `@import "x.css" …` or `@import url(x.css) …`: only the first token is the URL; the media, supports() and layer() text after it is left alone. */
function collectImportUrl(params: string, start: number, addUrl: AddUrl): void {
  const first = valueParser()(params).nodes.find((node) => node.type !== 'space' && node.type !== 'comment');
  if (first === undefined) return;
  if (first.type === 'string') addUrl(start, first, 'css');
  else if (first.type === 'function' && first.value.toLowerCase() === 'url' && first.unclosed !== true && first.nodes.length > 0) {
    addUrl(start, first.nodes[0], 'css');
  }
}

/** The text a CSS string or bare url() token stands for (CSS Syntax §4.3.7: escapes, escaped newlines). */
function unescapeCss(raw: string): string {
  if (!raw.includes('\\')) return raw;
  let text = '';
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i];
    if (char !== '\\') {
      text += char;
      continue;
    }
    const next = raw[i + 1];
    if (next === undefined) break;
    if (next === '\n' || next === '\f') {
      i++;
      continue;
    }
    if (next === '\r') {
      i += raw[i + 2] === '\n' ? 2 : 1;
      continue;
    }
    let hex = '';
    while (hex.length < 6 && /[0-9a-fA-F]/.test(raw[i + 1 + hex.length] ?? '')) hex += raw[i + 1 + hex.length];
    if (hex === '') {
      text += next;
      i++;
      continue;
    }
    i += hex.length;
    if (/[ \t\n\f\r]/.test(raw[i + 1] ?? '')) i++; // one whitespace ends a hex escape
    const codePoint = parseInt(hex, 16);
    const valid = codePoint > 0 && codePoint <= 0x10ffff && (codePoint < 0xd800 || codePoint > 0xdfff);
    text += valid ? String.fromCodePoint(codePoint) : '\uFFFD';
  }
  return text;
}

// Characters a bare url( … ) token cannot hold (CSS Syntax §4.3.6): they force a quoted string.
const NEEDS_QUOTES = /[\s"'()\\\u0000-\u001f\u007f]/;

/** Writes a URL as a CSS token in the original quote style; a bare url() value that needs it is quoted. */
function urlToken(url: string, quote: string): string {
  if (quote === '' && !NEEDS_QUOTES.test(url)) return url;
  const mark = quote === '' ? '"' : quote;
  let escaped = '';
  for (const char of url) {
    if (char === '\\' || char === mark) escaped += `\\${char}`;
    else if (char === '\n' || char === '\r' || char === '\f') escaped += `\\${char.charCodeAt(0).toString(16)} `;
    else escaped += char;
  }
  return mark + escaped + mark;
}

/**
 * Decodes a stylesheet's bytes: BOM, then the Content-Type charset, then @charset, then the referring document's
 * encoding, then UTF-8 (CSS Syntax §3.2) — unless the bytes are not valid UTF-8: then windows-1252, as for HTML,
 * because UTF-8 would turn a legacy sheet's é into U+FFFD for good in the UTF-8 copy we write (E-03).
 */
export function decodeStylesheet(body: Buffer, headerCharset?: string, referrerEncoding?: string): string {
  const encoding =
    bomEncoding(body) ??
    encodingForLabel(headerCharset) ??
    charsetRuleEncoding(body) ??
    encodingForLabel(referrerEncoding) ??
    (isUtf8(body) ? 'utf-8' : 'windows-1252');
  return decodeBytes(body, encoding);
}

const CHARSET_RULE_START = Buffer.from('@charset "', 'latin1');

/** The label of a leading `@charset "…";`, matched byte for byte as §3.2 asks; UTF-16 labels mean UTF-8. */
function charsetRuleEncoding(body: Buffer): string | null {
  if (!body.subarray(0, CHARSET_RULE_START.length).equals(CHARSET_RULE_START)) return null;
  const close = body.indexOf('";', CHARSET_RULE_START.length, 'latin1');
  if (close === -1 || close > 1024) return null;
  const encoding = encodingForLabel(body.toString('latin1', CHARSET_RULE_START.length, close));
  return encoding === 'utf-16be' || encoding === 'utf-16le' ? 'utf-8' : encoding;
}
