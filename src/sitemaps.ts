// Sitemaps (sitemaps.org protocol): collect the page URLs they list, to seed a crawl.
// Sitemaps give seeds, not permission: the URLs returned here may be off-host or disallowed, and the
// crawler's scope, include/exclude and robots checks still decide whether each one is fetched.
import { createGunzip } from 'node:zlib';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { GetUrl } from './robots.js';
import { SitemirrorError, messageOf } from './errors.js';

export interface SitemapOptions {
  get: GetUrl;
  /** May this sitemap document be fetched? (same host, robots) — decided by the caller. */
  mayFetch(url: string): boolean;
  /** Levels of sitemap index followed: the given sitemaps are level 0, documents an index at level n lists
   * are level n + 1 and are fetched only while n + 1 ≤ maxNesting (0: no index is followed). */
  maxNesting: number;
  /** Stop collecting past this many page URLs. */
  maxUrls: number;
  /** Decompressed size at which a document stops being read. @default 52428800 (50 MB, the sitemaps.org limit) */
  maxDocumentBytes?: number;
  warn?: (message: string) => void;
}

/** sitemaps.org: a sitemap may be at most 50 MB (52,428,800 bytes) uncompressed. */
export const SITEMAP_MAX_BYTES = 50 * 1024 * 1024;

/** A parsed sitemap document: the page URLs of a <urlset>, or the child sitemaps of a <sitemapindex>. */
interface SitemapDocument {
  kind: 'urlset' | 'index';
  locs: string[];
}

/**
 * Fetches the given sitemap URLs (robots.txt Sitemap: lines, or the fallback /sitemap.xml), follows sitemap
 * indexes up to maxNesting levels, gunzips .gz (detected by the gzip magic bytes, not by the name), and returns
 * the page URLs listed (<urlset><url><loc>), deduplicated, in document order. Errors on one sitemap are warned
 * and skipped. Each document is fetched at most once, so index cycles end.
 */
export async function collectSitemapUrls(sitemapUrls: string[], options: SitemapOptions): Promise<string[]> {
  const warn = options.warn ?? (() => {});
  const maxDocumentBytes = options.maxDocumentBytes ?? SITEMAP_MAX_BYTES;
  const seenDocuments = new Set<string>();
  const pageUrls = new Set<string>(); // a Set keeps insertion order: document order
  let full = false;

  function addPageUrl(url: string, sitemapUrl: string): void {
    if (pageUrls.has(url)) return;
    if (pageUrls.size >= options.maxUrls) {
      full = true;
      warn(`sitemaps list more than ${options.maxUrls} page URLs; the rest, from ${sitemapUrl} on, were left out`);
      return;
    }
    pageUrls.add(url);
  }

  async function visit(url: string, level: number): Promise<void> {
    if (full || seenDocuments.has(url)) return;
    seenDocuments.add(url);
    if (!options.mayFetch(url)) {
      warn(`sitemap ${url} not fetched: another host or disallowed by robots.txt`);
      return;
    }
    let document: SitemapDocument;
    try {
      const page = await options.get(url);
      seenDocuments.add(page.finalUrl);
      const { text, truncated } = await decodeBody(page.body, maxDocumentBytes);
      if (truncated) warn(`sitemap ${url} is larger than ${maxDocumentBytes} bytes: only the entries before that were read`);
      document = parseSitemap(text, truncated);
    } catch (error) {
      warn(`sitemap ${url} skipped: ${messageOf(error)}`);
      return;
    }
    if (document.kind === 'urlset') {
      for (const loc of document.locs) {
        addPageUrl(loc, url);
        if (full) return;
      }
      return;
    }
    if (level + 1 > options.maxNesting) {
      if (document.locs.length > 0) {
        warn(`sitemap index ${url} nests deeper than ${options.maxNesting} level(s): its ${document.locs.length} child sitemap(s) were not read`);
      }
      return;
    }
    for (const child of document.locs) {
      await visit(child, level + 1);
      if (full) return;
    }
  }

  for (const sitemapUrl of sitemapUrls) {
    const absolute = absoluteHttpUrl(sitemapUrl);
    if (absolute === undefined) {
      warn(`sitemap ${JSON.stringify(sitemapUrl)} skipped: not an absolute http(s) URL`);
      continue;
    }
    await visit(absolute, 0);
    if (full) break;
  }
  return [...pageUrls];
}

/** Bytes ⇒ text, gunzipping when the body starts with the gzip magic bytes (a .gz name alone proves nothing:
 * a server that sent Content-Encoding: gzip has already been decoded by the fetcher). */
async function decodeBody(body: Buffer, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  let bytes = body;
  let truncated = false;
  if (body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b) {
    ({ bytes, truncated } = await gunzipCapped(body, maxBytes));
  } else if (body.length > maxBytes) {
    bytes = body.subarray(0, maxBytes);
    truncated = true;
  }
  // sitemaps.org: sitemaps are UTF-8.
  return { text: bytes.toString('utf8').replace(/^\uFEFF/, ''), truncated };
}

/** Gunzips at most maxBytes and stops there, so a gzip bomb costs no more than a sitemap at its limit. */
function gunzipCapped(gzipped: Buffer, maxBytes: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let size = 0;
    gunzip.on('data', (chunk: Buffer) => {
      const room = maxBytes - size;
      if (chunk.length > room) {
        chunks.push(chunk.subarray(0, room));
        gunzip.destroy();
        resolve({ bytes: Buffer.concat(chunks), truncated: true });
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
    });
    gunzip.on('end', () => resolve({ bytes: Buffer.concat(chunks), truncated: false }));
    gunzip.on('error', (error) => reject(new SitemirrorError('DECODE', `gzip data is corrupt (${error.message})`, { cause: error })));
    gunzip.end(gzipped);
  });
}

const parser = new XMLParser({
  // <sm:urlset xmlns:sm="…"> reads like <urlset>.
  removeNSPrefix: true,
  // A <loc> stays a string (no number parsing); whitespace around it is trimmed.
  parseTagValue: false,
  trimValues: true,
  // One <url> or many, always a list.
  isArray: (_name, jpath) => jpath === 'urlset.url' || jpath === 'sitemapindex.sitemap',
});

const LAST_ENTRY_END = /<\/(?:[\w.-]+:)?(?:url|sitemap)\s*>/g;

/**
 * Reads a sitemap document: XML <urlset> or <sitemapindex>, or the plain-text form (one URL per line).
 * A document cut at the size limit keeps its complete entries; any other malformed XML is rejected.
 */
function parseSitemap(text: string, truncated: boolean): SitemapDocument {
  if (!text.trimStart().startsWith('<')) {
    const locs = collectLocs(text.split(/\r\n|\r|\n/));
    if (locs.length === 0 && text.trim() !== '') throw new SitemirrorError('DECODE', 'neither XML nor a list of URLs');
    return { kind: 'urlset', locs };
  }
  let xml = text;
  if (truncated) {
    // The parser is lenient about unclosed elements: ending after the last complete entry is enough.
    let end = 0;
    for (const match of xml.matchAll(LAST_ENTRY_END)) end = match.index + match[0].length;
    xml = xml.slice(0, end);
  } else {
    const verdict = XMLValidator.validate(xml);
    if (verdict !== true) {
      throw new SitemirrorError('DECODE', `not well-formed XML (line ${verdict.err.line}: ${verdict.err.msg})`);
    }
  }
  let tree: Record<string, unknown>;
  try {
    tree = parser.parse(xml) as Record<string, unknown>;
  } catch (error) {
    throw new SitemirrorError('DECODE', `not well-formed XML (${messageOf(error)})`, { cause: error });
  }
  if ('urlset' in tree) return { kind: 'urlset', locs: collectLocs(entriesOf(tree.urlset, 'url')) };
  if ('sitemapindex' in tree) return { kind: 'index', locs: collectLocs(entriesOf(tree.sitemapindex, 'sitemap')) };
  throw new SitemirrorError('DECODE', 'not a sitemap: the root element is neither <urlset> nor <sitemapindex>');
}

/** The <loc> of each <url>/<sitemap> entry; an empty root (`<urlset/>`) parses as '' and has none. */
function entriesOf(root: unknown, entryName: string): unknown[] {
  if (typeof root !== 'object' || root === null) return [];
  const entries = (root as Record<string, unknown>)[entryName];
  if (!Array.isArray(entries)) return [];
  return entries.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return undefined;
    const loc = (entry as Record<string, unknown>).loc;
    return Array.isArray(loc) ? loc[0] : loc;
  });
}

/** The absolute http(s) URLs among <loc> values, in order: sitemaps.org requires fully qualified URLs. */
function collectLocs(values: unknown[]): string[] {
  const urls: string[] = [];
  for (const value of values) {
    const url = typeof value === 'string' ? absoluteHttpUrl(value) : undefined;
    if (url !== undefined) urls.push(url);
  }
  return urls;
}

function absoluteHttpUrl(text: string): string | undefined {
  try {
    const url = new URL(text.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}
