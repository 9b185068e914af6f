// `verify` of a WACZ: every file matches the sha256 datapackage.json gives it (and datapackage.json its digest file),
// and every CDXJ line opens, at its offset and length, a record of its URL whose payload has the line's digest.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { WARCParser } from 'warcio';
import yauzl from 'yauzl';
import { messageOf } from './errors.js';
import { INDEX_PATH, PAGES_PATH } from './wacz.js';

export interface WaczProblem {
  /** The file inside the WACZ concerned. */
  entry: string;
  detail: string;
}

export interface WaczCheck {
  filesChecked: number;
  indexLinesChecked: number;
  problems: WaczProblem[];
}

interface Resource {
  path: string;
  hash: string;
  bytes: number;
}

const DIGEST_FILES = new Set(['datapackage.json', 'datapackage-digest.json']);

export async function verifyWacz(path: string): Promise<WaczCheck> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  } catch (error) {
    return { filesChecked: 0, indexLinesChecked: 0, problems: [{ entry: '', detail: `not a readable ZIP file: ${messageOf(error)}` }] };
  }
  try {
    const entries = new Map<string, yauzl.Entry>();
    for await (const entry of zip.eachEntry()) entries.set(entry.fileName, entry);
    const problems: WaczProblem[] = [];
    const read = async (name: string): Promise<Buffer | undefined> => {
      const entry = entries.get(name);
      if (entry === undefined) return undefined;
      return collect(await zip.openReadStreamPromise(entry));
    };

    const datapackage = await read('datapackage.json');
    if (datapackage === undefined) return { filesChecked: 0, indexLinesChecked: 0, problems: [{ entry: 'datapackage.json', detail: 'missing' }] };
    const digestFile = await read('datapackage-digest.json');
    const recorded = digestFile === undefined ? undefined : (parseJson(digestFile) as { hash?: string } | undefined)?.hash;
    if (recorded !== sha256(datapackage)) problems.push({ entry: 'datapackage-digest.json', detail: `does not hold the sha256 of datapackage.json (${recorded ?? 'missing'})` });

    const resources = ((parseJson(datapackage) as { resources?: Resource[] } | undefined)?.resources ?? []);
    const listed = new Set(resources.map((resource) => resource.path));
    for (const resource of resources) {
      const entry = entries.get(resource.path);
      if (entry === undefined) {
        problems.push({ entry: resource.path, detail: 'listed in datapackage.json but missing' });
        continue;
      }
      const { hash, bytes } = await hashStream(await zip.openReadStreamPromise(entry));
      if (hash !== resource.hash || bytes !== resource.bytes) {
        problems.push({ entry: resource.path, detail: `sha256 ${hash} (${bytes} bytes) differs from datapackage.json's ${resource.hash} (${resource.bytes} bytes)` });
      }
      if (resource.path.startsWith('archive/') && entry.compressionMethod !== 0) problems.push({ entry: resource.path, detail: 'a WARC must be stored uncompressed in the ZIP' });
    }
    for (const name of entries.keys()) {
      if (!listed.has(name) && !DIGEST_FILES.has(name) && !name.endsWith('/')) problems.push({ entry: name, detail: 'not listed in datapackage.json' });
    }

    const index = (await read(INDEX_PATH))?.toString('utf8');
    if (index === undefined) problems.push({ entry: INDEX_PATH, detail: 'missing' });
    const lines = index?.split('\n').filter((line) => line !== '') ?? [];
    const indexedUrls = new Set<string>();
    let previous = '';
    for (const [number, line] of lines.entries()) {
      const where = `${INDEX_PATH} line ${number + 1}`;
      if (Buffer.compare(Buffer.from(previous), Buffer.from(line)) > 0) problems.push({ entry: where, detail: 'out of order (CDXJ is sorted)' });
      previous = line;
      const detail = await checkIndexLine(line, (name) => entries.get(name), zip);
      if (detail.url) indexedUrls.add(detail.url);
      if (detail.problem) problems.push({ entry: where, detail: detail.problem });
    }
    const pages = (await read(PAGES_PATH))?.toString('utf8').split('\n').slice(1).filter((line) => line !== '') ?? [];
    for (const line of pages) {
      const url = (parseJson(Buffer.from(line)) as { url?: string } | undefined)?.url;
      if (!url || !indexedUrls.has(url)) problems.push({ entry: PAGES_PATH, detail: `${url ?? line} is not in the index` });
    }
    return { filesChecked: resources.length, indexLinesChecked: lines.length, problems };
  } finally {
    zip.close();
  }
}

/** Reads the record a CDXJ line points at and compares it with the line. */
async function checkIndexLine(line: string, entryOf: (name: string) => yauzl.Entry | undefined, zip: yauzl.ZipFile): Promise<{ url?: string; problem?: string }> {
  const match = /^\S+ \d{14} (\{.*\})$/.exec(line);
  const fields = match ? (parseJson(Buffer.from(match[1]!)) as { url?: string; digest?: string; filename?: string; offset?: string; length?: string } | undefined) : undefined;
  if (!fields?.url || !fields.filename || !fields.digest || fields.offset === undefined || fields.length === undefined) return { problem: 'not a CDXJ line with url, digest, filename, offset and length' };
  const entry = entryOf(`archive/${fields.filename}`);
  if (entry === undefined) return { url: fields.url, problem: `archive/${fields.filename} is not in the WACZ` };
  const offset = Number(fields.offset);
  const length = Number(fields.length);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || length <= 0 || offset + length > entry.uncompressedSize) {
    return { url: fields.url, problem: `offset ${fields.offset} and length ${fields.length} lie outside ${entry.fileName}` };
  }
  try {
    const bytes = await collect(await zip.openReadStreamPromise(entry, { start: offset, end: offset + length }));
    const parser = new WARCParser([bytes]);
    const record = await parser.parse();
    if (!record) return { url: fields.url, problem: `no WARC record at offset ${offset} of ${entry.fileName}` };
    if (record.warcTargetURI !== fields.url) return { url: fields.url, problem: `the record at offset ${offset} is of ${record.warcTargetURI ?? 'no URL'}, not ${fields.url}` };
    const expected = `sha256:${fields.digest}`;
    if (record.warcPayloadDigest !== expected) return { url: fields.url, problem: `the record's WARC-Payload-Digest ${record.warcPayloadDigest ?? '(none)'} is not the line's ${expected}` };
    // A revisit holds no payload: its digest names the body of the capture it refers to.
    if (record.warcType === 'response') {
      const payload = Buffer.from(await record.readFully(false));
      if (sha256(payload) !== expected) return { url: fields.url, problem: `the payload of ${fields.url} at offset ${offset} does not match its digest ${expected}` };
    }
    return { url: fields.url };
  } catch (error) {
    return { url: fields.url, problem: `the record at offset ${offset} of ${entry.fileName} cannot be read: ${messageOf(error)}` };
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function hashStream(stream: Readable): Promise<{ hash: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hash: `sha256:${hash.digest('hex')}`, bytes };
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
