// Links in HTML: found through the link table, rewritten in the DOM, with <base>, canonical and charset settled
// so the saved page stands on its own. Pure: no I/O, no knowledge of the crawl's scope or of file paths.
import { isUtf8 } from 'node:buffer';
import { load, type CheerioAPI } from 'cheerio';
import type { AnyNode, Element } from 'domhandler';
import { ResultType, Sniffer } from 'encoding-sniffer/sniffer';
import { decodeBytes, encodingForLabel } from './charset.js';
import { parseStyleDeclarations, parseStylesheet } from './css.js';
import { linkAttributesOf, meaningOf, relTokens, type LinkAttribute } from './linktable.js';
import { loadHtml } from './nesting.js';
import { refreshUrlSpan } from './refresh.js';
import { linkTarget, ReferenceList, rewrittenLink, spliceText, type LinkTarget, type TextSpan } from './reference.js';
import { parseSrcset } from './srcset.js';
import type { LinkResolver, Reference } from './types.js';
import { resolveUrl } from './url.js';

export interface ParsedDocument {
  /** The URL relative references resolve against: the page URL, or a valid http(s) <base href> resolved against it (a broken base such as `http://` is ignored). */
  baseUrl: string;
  /** What to fetch: page links and requisites, resolved, in document order, duplicates removed (first kind wins, but 'requisite' beats 'page'). */
  references: Reference[];
  /** <meta name="robots"> containing nofollow or none. */
  nofollow: boolean;
  title: string;
  /** Rewrites every URL-bearing attribute through resolve (even those not returned as references, e.g. a form action or a <link rel=whatever>: resolver null ⇒ absolute URL), removes <base> (keeping a target= if it had one, without href), makes exactly one <link rel="canonical">, and writes <meta charset="utf-8"> as the first child of <head> (removing other charset declarations). Call once. */
  serialize(resolve: LinkResolver, options: { canonicalUrl: string | null; dropScripts?: boolean }): string;
}

type Rewrite = (resolve: LinkResolver) => void;

const HTML_NAMESPACE = 'http://www.w3.org/1999/xhtml';

export function parseHtml(html: string, pageUrl: string): ParsedDocument {
  // Parsed with scripting enabled, as a browser shows the page: <noscript> stays raw text in the tree (so
  // parse5 never hoists its content out of <head>), and the scanner parses that text as markup on its own.
  // Nesting capped at 512 levels as in browsers, so a page nested 100,000 deep neither stalls nor overflows the stack.
  const $ = loadHtml(html);
  const baseUrl = documentBase($, pageUrl);
  const scanner = new LinkScanner($, baseUrl);
  scanner.scan($.root()[0], true);
  let serialized = false;
  return {
    baseUrl,
    references: scanner.references.toArray(),
    nofollow: scanner.nofollow,
    title: scanner.title ?? '',
    serialize(resolve, { canonicalUrl, dropScripts = false }) {
      if (serialized) throw new Error('ParsedDocument.serialize may be called only once: it rewrites the parsed tree');
      serialized = true;
      for (const rewrite of scanner.rewrites) rewrite(resolve);
      removeBase($);
      settleCanonical($, scanner.canonicals, baseUrl, canonicalUrl);
      declareUtf8($);
      if (dropScripts) removeScripts($);
      return $.html();
    },
  };
}

/** The first <base href> (HTML: only the first counts) when it resolves to http(s); otherwise the page URL. */
function documentBase($: CheerioAPI, pageUrl: string): string {
  const href = $('base[href]').first().attr('href');
  return (href === undefined ? null : resolveUrl(href, pageUrl)) ?? pageUrl;
}

/** One pass over the tree in document order, collecting references and the rewrites that serialize will run. */
class LinkScanner {
  readonly references = new ReferenceList();
  readonly rewrites: Rewrite[] = [];
  readonly canonicals: Element[] = [];
  nofollow = false;
  title: string | null = null;

  constructor(
    private readonly $: CheerioAPI,
    private readonly baseUrl: string,
  ) {}

  /** The document itself (isDocument) or a <noscript> fragment, whose title, robots and canonical do not count. */
  scan(root: AnyNode, isDocument: boolean): void {
    const stack: AnyNode[] = [root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (isElement(node)) {
        this.element(node, isDocument);
        if (node.name === 'script' || (isDocument && isRawNoscript(node))) continue;
      }
      if ('children' in node) for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
    }
  }

  private element(element: Element, isDocument: boolean): void {
    const name = element.name;
    const isCanonical = name === 'link' && (relTokens(element)?.includes('canonical') ?? false);
    if (isDocument) this.pageFacts(element, isCanonical);
    if (name === 'style') this.styleElement(element);
    if (isDocument && isRawNoscript(element)) this.noscript(element);
    for (const row of linkAttributesOf(element)) {
      const value = element.attribs[row.attribute];
      if (value === undefined || (row.when !== undefined && !row.when(element))) continue;
      if (isCanonical && row.attribute === 'href') continue; // made absolute by serialize, never local
      this.attribute(element, row, value);
    }
  }

  private pageFacts(element: Element, isCanonical: boolean): void {
    if (isCanonical) this.canonicals.push(element);
    if (element.name === 'title' && this.title === null && element.namespace === HTML_NAMESPACE) {
      // document.title: strip and collapse ASCII whitespace
      this.title = this.$(element).text().replace(/[\t\n\f\r ]+/g, ' ').trim();
    }
    if (element.name === 'meta' && element.attribs.name?.trim().toLowerCase() === 'robots') {
      const directives = (element.attribs.content ?? '').toLowerCase().split(/[\s,]+/);
      if (directives.includes('nofollow') || directives.includes('none')) this.nofollow = true;
    }
  }

  private attribute(element: Element, row: LinkAttribute, value: string): void {
    const write = (text: string): void => {
      element.attribs[row.attribute] = text;
    };
    switch (row.syntax) {
      case 'url': {
        const target = this.target(value, row, element);
        if (target !== null) this.rewrites.push((resolve) => write(rewrittenLink(target, resolve)));
        return;
      }
      case 'refresh': {
        const span = refreshUrlSpan(value);
        const target = span === null ? null : this.target(value.slice(span.start, span.end), row, element);
        if (span !== null && target !== null) this.spliceLinks(value, [{ ...span, target }], write);
        return;
      }
      case 'srcset': {
        const candidates = parseSrcset(value) ?? []; // an unparsable srcset is left as it is
        const slots = candidates.flatMap((candidate) => {
          const target = this.target(candidate.url, row, element);
          return target === null ? [] : [{ start: candidate.start, end: candidate.end, target }];
        });
        this.spliceLinks(value, slots, write);
        return;
      }
      case 'declarations': {
        if (!value.includes('(')) return; // no url() without a parenthesis
        const declarations = parseStyleDeclarations(value, this.baseUrl);
        this.references.addAll(declarations.references);
        if (declarations.references.length > 0) this.rewrites.push((resolve) => write(declarations.serialize(resolve)));
        return;
      }
    }
  }

  /** The link's target, recorded as a reference when its role makes it one. */
  private target(value: string, row: LinkAttribute, element: Element): LinkTarget | null {
    const target = linkTarget(value, this.baseUrl);
    if (target === null) return null;
    const meaning = meaningOf(row.role, element, target.url);
    if (meaning !== null) this.references.add(target.url, meaning.kind, meaning.expected);
    return target;
  }

  private spliceLinks(value: string, slots: Array<TextSpan & { target: LinkTarget }>, write: (text: string) => void): void {
    if (slots.length === 0) return;
    this.rewrites.push((resolve) => write(spliceText(value, slots, (slot) => rewrittenLink(slot.target, resolve))));
  }

  private styleElement(element: Element): void {
    const sheet = parseStylesheet(this.$(element).text(), this.baseUrl);
    this.references.addAll(sheet.references);
    if (sheet.references.length > 0) this.rewrites.push((resolve) => this.$(element).text(sheet.serialize(resolve)));
  }

  /** <noscript> content as a browser without scripting parses it, rewritten and written back as its raw text. */
  private noscript(element: Element): void {
    const fragment = load(this.$(element).text(), { scriptingEnabled: false }, false);
    const rewritesBefore = this.rewrites.length;
    this.scan(fragment.root()[0], false);
    if (this.rewrites.length > rewritesBefore) this.rewrites.push(() => this.$(element).text(fragment.html()));
  }
}

/** In the scripting-enabled document tree an HTML <noscript> holds its content as raw text. */
function isRawNoscript(element: Element): boolean {
  return element.name === 'noscript' && element.namespace === HTML_NAMESPACE;
}

function isElement(node: AnyNode): node is Element {
  return node.type === 'tag' || node.type === 'script' || node.type === 'style';
}

/** The saved page resolves links from its own file, so <base href> goes; a target= (where links open) stays. */
function removeBase($: CheerioAPI): void {
  $('base').each((_, base) => {
    if (base.attribs.target === undefined) $(base).remove();
    else delete base.attribs.href;
  });
}

/** Exactly one canonical: the first existing one made absolute (it names the origin, never a local file), else ours. */
function settleCanonical($: CheerioAPI, canonicals: readonly Element[], baseUrl: string, canonicalUrl: string | null): void {
  let kept = false;
  for (const link of canonicals) {
    const absolute = kept || link.attribs.href === undefined ? null : resolveUrl(link.attribs.href, baseUrl);
    if (absolute === null) {
      $(link).remove();
    } else {
      link.attribs.href = absolute;
      kept = true;
    }
  }
  if (!kept && canonicalUrl !== null) $('head').append($('<link rel="canonical">').attr('href', canonicalUrl));
}

/** The page is written as UTF-8, so it says so first thing in <head> and nowhere else. */
function declareUtf8($: CheerioAPI): void {
  $('meta[charset]').remove();
  $('meta[http-equiv]')
    .filter((_, meta) => meta.attribs['http-equiv'].trim().toLowerCase() === 'content-type')
    .remove();
  $('head').prepend('<meta charset="utf-8">');
}

/** A rendered snapshot without its scripts, serialized again: see removeScripts. */
export function htmlWithoutScripts(html: string): string {
  const $ = loadHtml(html);
  removeScripts($);
  return $.html();
}

/**
 * For rendered snapshots: scripts already ran, so they go (structured data stays), with inline event handlers.
 * <noscript> goes too: the snapshot shows what a reader with scripts saw, and a browser with scripts off would
 * otherwise add the fallback ("please enable JavaScript") to the content the scripts built.
 */
function removeScripts($: CheerioAPI): void {
  $('script')
    .filter((_, script) => (script.attribs.type ?? '').trim().toLowerCase() !== 'application/ld+json')
    .remove();
  $('noscript').remove();
  $('*').each((_, element) => {
    if (!isElement(element)) return;
    for (const name of Object.keys(element.attribs)) if (name.startsWith('on')) delete element.attribs[name];
  });
}

// Browsers honour a <meta charset> anywhere in <head> by re-decoding; prescanning well past the 1024 bytes the
// spec suggests catches most of those without a second parse.
const PRESCAN_BYTES = 16 * 1024;

/** Decodes HTML bytes: BOM, then the HTTP charset, then a <meta> prescan, then UTF-8 if the bytes are valid UTF-8, else windows-1252 (WHATWG encoding sniffing). Returns the text and the encoding name used. */
export function decodeHtml(body: Buffer, headerCharset?: string): { text: string; encoding: string } {
  const sniffer = new Sniffer({ transportLayerEncodingLabel: headerCharset, maxBytes: PRESCAN_BYTES });
  sniffer.write(body);
  const declared = sniffer.resultType === ResultType.DEFAULT ? null : sniffer.encoding;
  // 'replacement' (e.g. a header saying iso-2022-kr) and x-user-defined cannot be decoded here: treated as undeclared.
  const encoding =
    declared !== null && encodingForLabel(declared) !== null ? declared : isUtf8(body) ? 'UTF-8' : 'windows-1252';
  return { text: decodeBytes(body, encoding), encoding };
}
