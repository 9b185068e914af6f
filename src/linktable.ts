// Which HTML attribute holds which kind of link: one table read by both extraction and rewriting
// (after website-scraper's path containers). Pure.
import type { ExpectedType, ReferenceKind } from './types.js';
import { pathnameOf } from './url.js';

/** What the table reads of an element: its lower-case name and its decoded attributes. */
export interface Element {
  name: string;
  attribs: Record<string, string>;
}

/** How the attribute's value is written. */
export type ValueSyntax = 'url' | 'srcset' | 'refresh' | 'declarations';

/**
 * What a link means to the crawl. 'rewrite' links are rewritten through the resolver (so they work from disk or
 * point at the origin) but never fetched; 'link' and 'image-input' depend on other attributes of the element.
 */
export type LinkRole = 'page' | 'embedded' | 'requisite' | 'script' | 'link' | 'image-input' | 'rewrite';

export interface LinkAttribute {
  /** Element names in lower case (SVG's camelCase names too), or '*' for every element. */
  tags: readonly string[];
  attribute: string;
  syntax: ValueSyntax;
  role: LinkRole;
  /** When present, the attribute holds a link only if this holds for its element. */
  when?: (element: Element) => boolean;
}

const isRefresh = (element: Element): boolean => element.attribs['http-equiv']?.trim().toLowerCase() === 'refresh';

export const LINK_ATTRIBUTES: readonly LinkAttribute[] = [
  { tags: ['a', 'area'], attribute: 'href', syntax: 'url', role: 'page' },
  { tags: ['meta'], attribute: 'content', syntax: 'refresh', role: 'page', when: isRefresh },
  { tags: ['iframe', 'frame'], attribute: 'src', syntax: 'url', role: 'embedded' },
  { tags: ['img'], attribute: 'src', syntax: 'url', role: 'requisite' },
  { tags: ['img'], attribute: 'srcset', syntax: 'srcset', role: 'requisite' },
  { tags: ['img'], attribute: 'data-src', syntax: 'url', role: 'requisite' },
  // data-src/data-srcset: lazy-loading scripts copy them into src/srcset, so they must work from disk too.
  { tags: ['img', 'source'], attribute: 'data-srcset', syntax: 'srcset', role: 'requisite' },
  { tags: ['source'], attribute: 'src', syntax: 'url', role: 'requisite' },
  { tags: ['source'], attribute: 'srcset', syntax: 'srcset', role: 'requisite' },
  { tags: ['video', 'audio', 'track', 'embed'], attribute: 'src', syntax: 'url', role: 'requisite' },
  { tags: ['video'], attribute: 'poster', syntax: 'url', role: 'requisite' },
  { tags: ['object'], attribute: 'data', syntax: 'url', role: 'requisite' },
  { tags: ['input'], attribute: 'src', syntax: 'url', role: 'image-input' },
  { tags: ['body', 'table', 'td', 'th'], attribute: 'background', syntax: 'url', role: 'requisite' },
  // SVG: parse5 stores xlink:href under the name 'href' (with an xlink prefix), so one row serves both.
  { tags: ['image', 'use', 'feimage'], attribute: 'href', syntax: 'url', role: 'requisite' },
  { tags: ['script'], attribute: 'src', syntax: 'url', role: 'script' },
  { tags: ['link'], attribute: 'href', syntax: 'url', role: 'link' },
  { tags: ['form'], attribute: 'action', syntax: 'url', role: 'rewrite' },
  { tags: ['button', 'input'], attribute: 'formaction', syntax: 'url', role: 'rewrite' },
  { tags: ['blockquote', 'q', 'del', 'ins'], attribute: 'cite', syntax: 'url', role: 'rewrite' },
  { tags: ['*'], attribute: 'style', syntax: 'declarations', role: 'requisite' },
];

const ROWS_BY_TAG = new Map<string, LinkAttribute[]>();
for (const row of LINK_ATTRIBUTES) {
  for (const tag of row.tags) ROWS_BY_TAG.set(tag, [...(ROWS_BY_TAG.get(tag) ?? []), row]);
}
const EVERY_TAG = ROWS_BY_TAG.get('*') ?? [];
// Each element's rows with the every-element ones after them, made once: a page asks for them at every tag.
for (const [tag, rows] of ROWS_BY_TAG) if (tag !== '*') ROWS_BY_TAG.set(tag, [...rows, ...EVERY_TAG]);

/** The rows that apply to an element, in table order (which is the order its references are listed in). */
export function linkAttributesOf(element: Element): readonly LinkAttribute[] {
  const rows = ROWS_BY_TAG.get(element.name.toLowerCase());
  return rows ?? EVERY_TAG;
}

export interface LinkMeaning {
  kind: ReferenceKind;
  expected: ExpectedType;
}

/** What the crawl should fetch for a link in this role, or null when the link is only rewritten. */
export function meaningOf(role: LinkRole, element: Element, url: string): LinkMeaning | null {
  switch (role) {
    case 'page':
      return { kind: 'page', expected: expectedForPage(url) };
    case 'embedded':
      // Frames are part of the page: fetched whatever the depth, and they are documents.
      return { kind: 'requisite', expected: 'html' };
    case 'requisite':
      return { kind: 'requisite', expected: 'other' };
    case 'script':
      return { kind: 'requisite', expected: expectedForRequisite(url) };
    case 'image-input':
      return element.attribs.type?.trim().toLowerCase() === 'image' ? { kind: 'requisite', expected: 'other' } : null;
    case 'link':
      return meaningOfLink(element, url);
    case 'rewrite':
      return null;
  }
}

/** The space-separated tokens of rel, in lower case (rel is an ASCII case-insensitive token list). */
export function relTokens(element: Element): string[] | null {
  const rel = element.attribs.rel;
  return rel === undefined ? null : rel.toLowerCase().split(/[\t\n\f\r ]+/).filter((token) => token !== '');
}

const PRELOADED = new Map<string, ExpectedType>([
  ['style', 'css'],
  ['script', 'other'],
  ['font', 'other'],
  ['image', 'other'],
]);

/** stylesheets, icons, manifests and typed preloads are requisites; other rel values are only rewritten. */
function meaningOfLink(element: Element, url: string): LinkMeaning | null {
  const tokens = relTokens(element);
  // website-scraper's circular test: a <link href> with no rel at all is still the page's file.
  if (tokens === null) return { kind: 'requisite', expected: expectedForRequisite(url) };
  if (tokens.includes('stylesheet')) return { kind: 'requisite', expected: 'css' };
  if (tokens.some(isIconToken) || tokens.includes('manifest')) return { kind: 'requisite', expected: 'other' };
  if (tokens.includes('preload') || tokens.includes('modulepreload')) {
    // modulepreload's destination defaults to script (HTML "link type modulepreload").
    const as = element.attribs.as?.trim().toLowerCase() ?? (tokens.includes('modulepreload') ? 'script' : '');
    const expected = PRELOADED.get(as);
    if (expected !== undefined) return { kind: 'requisite', expected };
  }
  return null;
}

function isIconToken(token: string): boolean {
  return (
    token === 'icon' ||
    token.endsWith('-icon') ||
    token === 'apple-touch-icon-precomposed' ||
    token === 'apple-touch-startup-image'
  );
}

// Extensions that name something other than an HTML page; anything else (none, .html, .php, .asp, …) is a page.
const NOT_HTML = new Set(
  (
    'pdf txt csv tsv json xml rss atom md rtf doc docx xls xlsx ppt pptx odt ods odp epub mobi ' +
    'png jpg jpeg gif webp avif svg svgz ico bmp tif tiff psd eps ps ai ' +
    'mp3 mp4 m4a m4v ogg oga ogv opus wav flac aac webm mov avi mkv wmv flv mpg mpeg 3gp ' +
    'zip gz tgz bz2 xz 7z rar tar zst dmg exe msi deb rpm apk ipa iso img bin jar war ' +
    'js mjs css map wasm woff woff2 ttf otf eot swf ics vcf torrent'
  ).split(' '),
);

/** The extension of the URL's last path segment, lower case, without the dot ('' when there is none). Exported for tests. */
export function extensionOf(url: string): string {
  const path = pathnameOf(url);
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** A followed link is expected to be HTML unless its extension clearly says otherwise. */
export function expectedForPage(url: string): ExpectedType {
  const extension = extensionOf(url);
  if (!NOT_HTML.has(extension)) return 'html';
  return extension === 'css' ? 'css' : 'other';
}

/** A requisite known only by its URL: a stylesheet if it ends in .css, otherwise kept as it comes. */
function expectedForRequisite(url: string): ExpectedType {
  return extensionOf(url) === 'css' ? 'css' : 'other';
}
