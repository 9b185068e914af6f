// --wacz: the crawl's WARC files packaged as one WACZ 1.1.1 file (https://specs.webrecorder.net/wacz/1.1.1/):
// archive/ with the WARCs stored uncompressed-in-zip (a reader seeks into them), indexes/index.cdxj, pages/pages.jsonl,
// datapackage.json with the sha256 of every file, and datapackage-digest.json. warcio writes the index lines.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CDXIndexer, WARCParser } from 'warcio';
import yazl from 'yazl';
import { SitemirrorError, messageOf } from './errors.js';
import { listWarcFiles } from './archive-scan.js';

/** Under the state folder, beside warc/: outside the browsable tree that link settlement rewrites and `serve` serves. */
export { WACZ_FILE } from './store.js';
export const WACZ_VERSION = '1.1.1';
export const INDEX_PATH = 'indexes/index.cdxj';
export const PAGES_PATH = 'pages/pages.jsonl';

/** A mirrored page as the crawl's state knows it. */
export interface WaczPage {
  url: string;
  title: string | null;
}

export interface WaczInput {
  warcDir: string;
  /** Where the .wacz goes; written aside and renamed, so a reader never sees half a package. */
  path: string;
  pages: WaczPage[];
  seed: string;
  software: string;
}

export interface IndexLine {
  url: string;
  /** 14 digits, YYYYMMDDhhmmss. */
  timestamp: string;
  status: string | undefined;
  mime: string | undefined;
  line: string;
}

interface Resource {
  name: string;
  path: string;
  hash: string;
  bytes: number;
}

export async function writeWacz(input: WaczInput): Promise<{ warcs: number; indexLines: number; pages: number }> {
  const aside = `${input.path}.partial`;
  try {
    const warcs = listWarcFiles(input.warcDir);
    const index: IndexLine[] = [];
    for (const file of warcs) index.push(...(await indexWarc(join(input.warcDir, file), file)));
    // CDXJ is sorted bytewise (the SURT key, then the timestamp), as pywb and wabac binary-search it.
    const indexText = Buffer.from(index.map((entry) => `${entry.line}\n`).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).join(''));
    const pageLines = pagesOf(input.pages, index);
    const pagesText = Buffer.from([JSON.stringify({ format: 'json-pages-1.0', id: 'pages', title: 'All Pages' }), ...pageLines.map((page) => JSON.stringify(page))].join('\n') + '\n');

    const resources: Resource[] = [];
    for (const file of warcs) {
      const path = join(input.warcDir, file);
      resources.push({ name: file, path: `archive/${file}`, hash: await fileHash(path), bytes: (await stat(path)).size });
    }
    resources.push({ name: 'index.cdxj', path: INDEX_PATH, hash: bufferHash(indexText), bytes: indexText.length });
    resources.push({ name: 'pages.jsonl', path: PAGES_PATH, hash: bufferHash(pagesText), bytes: pagesText.length });
    const now = new Date().toISOString();
    const main = pageLines.find((page) => sameUrl(page.url, input.seed));
    const datapackage = Buffer.from(
      JSON.stringify(
        {
          profile: 'data-package',
          wacz_version: WACZ_VERSION,
          title: `sitemirror archive of ${input.seed}`,
          software: input.software,
          created: now,
          modified: now,
          ...(main ? { mainPageUrl: main.url, mainPageDate: main.ts } : {}),
          resources,
        },
        null,
        2,
      ),
    );
    const digest = Buffer.from(JSON.stringify({ path: 'datapackage.json', hash: bufferHash(datapackage) }, null, 2));

    const zip = new yazl.ZipFile();
    // STORE: a WARC's own gzip members stay addressable by the CDXJ offsets, which a reader turns into a range read.
    for (const file of warcs) zip.addFile(join(input.warcDir, file), `archive/${file}`, { compress: false });
    zip.addBuffer(indexText, INDEX_PATH);
    zip.addBuffer(pagesText, PAGES_PATH);
    zip.addBuffer(datapackage, 'datapackage.json');
    zip.addBuffer(digest, 'datapackage-digest.json');
    zip.end();
    await pipeline(zip.outputStream, createWriteStream(aside));
    await rename(aside, input.path);
    return { warcs: warcs.length, indexLines: index.length, pages: pageLines.length };
  } catch (error) {
    await rm(aside, { force: true });
    throw new SitemirrorError('WRITE', `cannot write the WACZ file ${input.path}: ${messageOf(error)}`, { cause: error });
  }
}

/** One CDXJ line per response and revisit record of a WARC file, by warcio's indexer. */
export async function indexWarc(path: string, filename: string): Promise<IndexLine[]> {
  const indexer = new CDXIndexer({ format: 'cdxj' });
  const lines: IndexLine[] = [];
  for await (const cdx of indexer.iterRecords(new WARCParser(createReadStream(path)), filename)) {
    const fields = cdx as { url: string; timestamp: string; status?: string; mime?: string };
    const entry = { url: fields.url, timestamp: fields.timestamp, status: fields.status, mime: fields.mime };
    lines.push({ ...entry, line: indexer.serializeCDXJ(cdx).trimEnd() });
  }
  return lines;
}

interface PageLine {
  id: string;
  url: string;
  ts: string;
  title: string;
}

/** A page joins pages.jsonl at the time of its latest capture in the index; one never archived is left out. */
function pagesOf(pages: WaczPage[], index: IndexLine[]): PageLine[] {
  const latest = new Map<string, string>();
  for (const entry of index) {
    const shown = entry.mime === 'warc/revisit' || (entry.status !== undefined && /^[23]/.test(entry.status));
    const key = urlKey(entry.url);
    if (shown && entry.timestamp > (latest.get(key) ?? '')) latest.set(key, entry.timestamp);
  }
  const lines: PageLine[] = [];
  for (const page of pages) {
    const timestamp = latest.get(urlKey(page.url));
    if (timestamp === undefined) continue;
    const ts = `${timestamp.slice(0, 4)}-${timestamp.slice(4, 6)}-${timestamp.slice(6, 8)}T${timestamp.slice(8, 10)}:${timestamp.slice(10, 12)}:${timestamp.slice(12, 14)}Z`;
    lines.push({ id: createHash('sha256').update(page.url).digest('hex').slice(0, 32), url: page.url, ts, title: page.title ?? page.url });
  }
  return lines;
}

function urlKey(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

function sameUrl(a: string, b: string): boolean {
  return urlKey(a) === urlKey(b);
}

export function bufferHash(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function fileHash(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return `sha256:${hash.digest('hex')}`;
}
