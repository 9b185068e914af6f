// Links in HTML: found through the link table and rewritten by splicing the page's own text (src/htmltokens.ts), with
// <base>, canonical and charset settled so the saved page stands on its own. Everything else stays as served.
// Pure: no I/O, no knowledge of the crawl's scope or of file paths.
import { isUtf8 } from 'node:buffer';
import { bomEncoding, decodeBytes, encodingForLabel } from './charset.js';
import { parseStyleDeclarations, parseStylesheet } from './css.js';
import {
  applyEdits,
  applyEditsToAscii,
  attributeEdit,
  attributeRemoval,
  elementRemoval,
  tokenizeHtml,
  type HtmlTag,
  type HtmlTokens,
  type TextEdit,
} from './htmltokens.js';
import { linkAttributesOf, meaningOf, relTokens, type LinkAttribute } from './linktable.js';
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
  /** Rewrites every URL-bearing attribute through resolve (even those not returned as references, e.g. a form action or a <link rel=whatever>: resolver null ⇒ absolute URL), removes <base> (keeping a target= if it had one, without href), makes exactly one <link rel="canonical">, and writes <meta charset="utf-8"> first in <head> (removing other charset declarations). */
  serialize(resolve: LinkResolver, options: SerializeOptions): string;
  /** serialize, as bytes, for a page whose bytes are all ASCII (so its text is those bytes, one for one): copied from them. */
  serializeAscii(bytes: Buffer, resolve: LinkResolver, options: SerializeOptions): Buffer;
}

export interface SerializeOptions {
  canonicalUrl: string | null;
  dropScripts?: boolean;
}

type Rewrite = (resolve: LinkResolver) => TextEdit | null;

export function parseHtml(html: string, pageUrl: string): ParsedDocument {
  const tokens = tokenizeHtml(html);
  const baseUrl = documentBase(tokens.tags, pageUrl);
  const scanner = new LinkScanner(html, baseUrl);
  for (const tag of tokens.tags) scanner.element(tag);
  return {
    baseUrl,
    references: scanner.references.toArray(),
    nofollow: scanner.nofollow,
    title: scanner.title ?? '',
    serialize: (resolve, options) => applyEdits(html, edits(resolve, options)),
    serializeAscii: (bytes, resolve, options) => applyEditsToAscii(bytes, edits(resolve, options)),
  };

  function edits(resolve: LinkResolver, { canonicalUrl, dropScripts = false }: SerializeOptions): TextEdit[] {
    const edits: TextEdit[] = [];
    for (const rewrite of scanner.rewrites) {
      const edit = rewrite(resolve);
      if (edit !== null) edits.push(edit);
    }
    edits.push(...declareUtf8(tokens), ...removeBase(html, tokens.tags));
    edits.push(...settleCanonical(tokens, scanner.canonicals, baseUrl, canonicalUrl));
    if (dropScripts) edits.push(...scriptRemovals(html, tokens.tags));
    return edits;
  }
}

/** The first <base href> (HTML: only the first counts) when it resolves to http(s); otherwise the page URL. */
function documentBase(tags: readonly HtmlTag[], pageUrl: string): string {
  const href = tags.find((tag) => tag.name === 'base' && !tag.inNoscript && tag.attribs.href !== undefined)?.attribs.href;
  return (href === undefined ? null : resolveUrl(href, pageUrl)) ?? pageUrl;
}

/** One pass over the start tags in document order, collecting references and the rewrites that serialize will run. */
class LinkScanner {
  readonly references = new ReferenceList();
  readonly rewrites: Rewrite[] = [];
  readonly canonicals: HtmlTag[] = [];
  nofollow = false;
  title: string | null = null;

  constructor(
    private readonly html: string,
    private readonly baseUrl: string,
  ) {}

  element(tag: HtmlTag): void {
    const isCanonical = tag.name === 'link' && (relTokens(tag)?.includes('canonical') ?? false);
    // Inside <noscript> links are still rewritten (a reader without scripts sees them), but the page's own facts are not.
    if (!tag.inNoscript) this.pageFacts(tag, isCanonical);
    if (tag.name === 'style' && tag.contentEnd !== undefined) this.styleElement(tag);
    for (const row of linkAttributesOf(tag)) {
      const value = tag.attribs[row.attribute];
      if (value === undefined || (row.when !== undefined && !row.when(tag))) continue;
      if (isCanonical && row.attribute === 'href') continue; // made absolute by serialize, never local
      this.attribute(tag, row, value);
    }
  }

  private pageFacts(tag: HtmlTag, isCanonical: boolean): void {
    if (isCanonical) this.canonicals.push(tag);
    if (tag.name === 'title' && this.title === null && !tag.inForeign) {
      // document.title: strip and collapse ASCII whitespace
      this.title = (tag.text ?? '').replace(/[\t\n\f\r ]+/g, ' ').trim();
    }
    if (tag.name === 'meta' && tag.attribs.name?.trim().toLowerCase() === 'robots') {
      const directives = (tag.attribs.content ?? '').toLowerCase().split(/[\s,]+/);
      if (directives.includes('nofollow') || directives.includes('none')) this.nofollow = true;
    }
  }

  private attribute(tag: HtmlTag, row: LinkAttribute, value: string): void {
    switch (row.syntax) {
      case 'url': {
        const target = this.target(value, row, tag);
        if (target !== null) this.rewrites.push((resolve) => attributeEdit(tag, row.attribute, rewrittenLink(target, resolve)));
        return;
      }
      case 'refresh': {
        const span = refreshUrlSpan(value);
        const target = span === null ? null : this.target(value.slice(span.start, span.end), row, tag);
        if (span !== null && target !== null) this.spliceLinks(value, [{ ...span, target }], attributeWriter(tag, row.attribute));
        return;
      }
      case 'srcset': {
        const candidates = parseSrcset(value) ?? []; // an unparsable srcset is left as it is
        const slots = candidates.flatMap((candidate) => {
          const target = this.target(candidate.url, row, tag);
          return target === null ? [] : [{ start: candidate.start, end: candidate.end, target }];
        });
        if (slots.length > 0) this.spliceLinks(value, slots, attributeWriter(tag, row.attribute));
        return;
      }
      case 'declarations': {
        if (!value.includes('(')) return; // no url() without a parenthesis
        const declarations = parseStyleDeclarations(value, this.baseUrl);
        this.references.addAll(declarations.references);
        if (declarations.references.length > 0) {
          const write = attributeWriter(tag, row.attribute);
          this.rewrites.push((resolve) => write(declarations.serialize(resolve)));
        }
        return;
      }
    }
  }

  /** The link's target, recorded as a reference when its role makes it one. */
  private target(value: string, row: LinkAttribute, tag: HtmlTag): LinkTarget | null {
    const target = linkTarget(value, this.baseUrl);
    if (target === null) return null;
    const meaning = meaningOf(row.role, tag, target.url);
    if (meaning !== null) this.references.add(target.url, meaning.kind, meaning.expected);
    return target;
  }

  private spliceLinks(value: string, slots: Array<TextSpan & { target: LinkTarget }>, write: (text: string) => TextEdit | null): void {
    if (slots.length === 0) return;
    this.rewrites.push((resolve) => write(spliceText(value, slots, (slot) => rewrittenLink(slot.target, resolve))));
  }

  /** A <style> element's text is CSS as written (no entities), rewritten in place. */
  private styleElement(tag: HtmlTag): void {
    const start = tag.end;
    const end = tag.contentEnd!;
    const sheet = parseStylesheet(this.html.slice(start, end), this.baseUrl);
    this.references.addAll(sheet.references);
    if (sheet.references.length > 0) this.rewrites.push((resolve) => ({ start, end, text: sheet.serialize(resolve) }));
  }
}

/** Writes an attribute's new value: made for a link that has a target, not for every attribute read. */
function attributeWriter(tag: HtmlTag, attribute: string): (text: string) => TextEdit | null {
  return (text) => attributeEdit(tag, attribute, text);
}

/** The saved page resolves links from its own file, so <base href> goes; a target= (where links open) stays. */
function removeBase(html: string, tags: readonly HtmlTag[]): TextEdit[] {
  const edits: TextEdit[] = [];
  for (const tag of tags) {
    if (tag.name !== 'base' || tag.inNoscript) continue;
    const edit = tag.attribs.target === undefined ? elementRemoval(tag) : attributeRemoval(html, tag, 'href');
    if (edit !== null) edits.push(edit);
  }
  return edits;
}

/** Exactly one canonical: the first existing one made absolute (it names the origin, never a local file), else ours. */
function settleCanonical(tokens: HtmlTokens, canonicals: readonly HtmlTag[], baseUrl: string, canonicalUrl: string | null): TextEdit[] {
  const edits: TextEdit[] = [];
  let kept = false;
  for (const link of canonicals) {
    const absolute = kept || link.attribs.href === undefined ? null : resolveUrl(link.attribs.href, baseUrl);
    if (absolute === null) {
      edits.push(elementRemoval(link));
    } else {
      const edit = attributeEdit(link, 'href', absolute);
      if (edit !== null) edits.push(edit);
      kept = true;
    }
  }
  if (!kept && canonicalUrl !== null) {
    const at = tokens.headEnd === -1 ? tokens.headStart : tokens.headEnd;
    edits.push({ start: at, end: at, text: `<link rel="canonical" href="${escapeAttribute(canonicalUrl)}">` });
  }
  return edits;
}

/** The page is written as UTF-8, so it says so first thing in <head> and nowhere else. */
function declareUtf8(tokens: HtmlTokens): TextEdit[] {
  const edits: TextEdit[] = [{ start: tokens.headStart, end: tokens.headStart, text: '<meta charset="utf-8">' }];
  for (const tag of tokens.tags) {
    if (tag.name !== 'meta' || tag.inNoscript) continue;
    const declaresCharset =
      tag.attribs.charset !== undefined || tag.attribs['http-equiv']?.trim().toLowerCase() === 'content-type';
    if (declaresCharset) edits.push(elementRemoval(tag));
  }
  return edits;
}

/**
 * Whether a browser opening the page would run anything: a <script> of a type that runs (HTML's classic and module
 * scripts; data blocks such as JSON-LD or templates do not) or an inline on… handler. A page with neither renders to
 * the DOM it was sent, so --render auto keeps it as fetched. When unsure it answers yes: a render is only slower.
 */
export function runsScripts(html: string): boolean {
  for (const tag of tokenizeHtml(html).tags) {
    // With scripting on, <noscript> is text: a script inside it never runs.
    if (tag.inNoscript) continue;
    if (tag.name === 'script' && isRunnableScriptType(tag.attribs.type)) return true;
    for (const name of tag.spans.keys()) if (name.startsWith('on')) return true;
  }
  return false;
}

// HTML's JavaScript MIME types (the script element's type, case-insensitive); parameters are ignored, so a
// "text/javascript; charset=utf-8" counts as running, the cautious answer.
const JAVASCRIPT_TYPE = /^(?:(?:text|application)\/(?:x-)?(?:javascript|ecmascript)|text\/javascript1\.[0-5]|text\/(?:jscript|livescript))$/;

function isRunnableScriptType(type: string | undefined): boolean {
  const essence = (type ?? '').split(';')[0]!.trim().toLowerCase();
  return essence === '' || essence === 'module' || JAVASCRIPT_TYPE.test(essence);
}

/** A rendered snapshot without its scripts: see scriptRemovals. */
export function htmlWithoutScripts(html: string): string {
  return applyEdits(html, scriptRemovals(html, tokenizeHtml(html).tags));
}

/**
 * For rendered snapshots: scripts already ran, so they go (structured data stays), with inline event handlers.
 * <noscript> goes too: the snapshot shows what a reader with scripts saw, and a browser with scripts off would
 * otherwise add the fallback ("please enable JavaScript") to the content the scripts built.
 */
function scriptRemovals(html: string, tags: readonly HtmlTag[]): TextEdit[] {
  const edits: TextEdit[] = [];
  for (const tag of tags) {
    const structuredData = tag.name === 'script' && (tag.attribs.type ?? '').trim().toLowerCase() === 'application/ld+json';
    if ((tag.name === 'script' && !structuredData) || tag.name === 'noscript') {
      edits.push(elementRemoval(tag));
      continue;
    }
    for (const name of tag.spans.keys()) {
      if (!name.startsWith('on')) continue;
      const edit = attributeRemoval(html, tag, name);
      if (edit !== null) edits.push(edit);
    }
  }
  return edits;
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
}

// Browsers honour a <meta charset> anywhere in <head> by re-decoding; prescanning well past the 1024 bytes the
// spec suggests catches most of those without a second parse.
const PRESCAN_BYTES = 16 * 1024;

/**
 * Decodes HTML bytes: BOM, then the HTTP charset, then a <meta> prescan, then UTF-8 if the bytes are valid UTF-8, else
 * windows-1252 (WHATWG encoding sniffing). Returns the text and the encoding's name as TextDecoder spells it.
 */
export async function decodeHtml(body: Buffer, headerCharset?: string): Promise<{ text: string; encoding: string }> {
  // A charset the HTTP header names is final unless a byte order mark overrides it, so the <meta> prescan is needed
  // only without one.
  const declared = bomEncoding(body) ?? encodingForLabel(headerCharset) ?? (await prescannedEncoding(body, headerCharset));
  const encoding = declared ?? (isUtf8(body) ? 'utf-8' : 'windows-1252');
  return { text: decodeBytes(body, encoding), encoding };
}

// The sniffer and the label table it loads take 35-40 ms to import: loaded only for the first page whose header
// names no charset, so a crawl of a site that sends one (most do) starts that much sooner.
let snifferModule: Promise<typeof import('encoding-sniffer/sniffer')> | undefined;

/** The encoding a <meta> prescan of the first PRESCAN_BYTES finds, or null (then UTF-8 or windows-1252 by the bytes). */
async function prescannedEncoding(body: Buffer, headerCharset: string | undefined): Promise<string | null> {
  const { ResultType, Sniffer } = await (snifferModule ??= import('encoding-sniffer/sniffer'));
  // The header's label goes in even though it is not decodable here: 'replacement' (a header saying iso-2022-kr) and
  // x-user-defined then win over the prescan as the spec says, and fall back below like any undecodable encoding.
  const sniffer = new Sniffer({ transportLayerEncodingLabel: headerCharset, maxBytes: PRESCAN_BYTES });
  sniffer.write(body);
  return sniffer.resultType === ResultType.DEFAULT ? null : encodingForLabel(sniffer.encoding);
}
