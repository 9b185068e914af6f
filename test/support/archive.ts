// Reading back what --warc and --wacz wrote, with warcio's parser and yauzl, for the archive tests.
import { readdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { WARCParser, type WARCRecord } from 'warcio';
import yauzl from 'yauzl';

export interface ReadRecord {
  file: string;
  type: string;
  id: string;
  uri: string | undefined;
  date: string | undefined;
  concurrentTo: string | undefined;
  payloadDigest: string | undefined;
  status: number | undefined;
  headers: Map<string, string>;
  payload: Buffer;
  raw: WARCRecord;
  /** Where the record's gzip member lies in its file, as warcio's parser reports it (what a CDX index stores). */
  offset: number;
  length: number;
}

export async function readWarcBytes(bytes: Buffer, file: string): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  const parser = new WARCParser([bytes]);
  for await (const record of parser) {
    const headers = new Map<string, string>();
    for (const [name, value] of record.httpHeaders?.headers ?? []) headers.set(name.toLowerCase(), value);
    const status = record.warcType === 'response' || record.warcType === 'revisit' ? Number(record.httpHeaders?.statusCode) : undefined;
    records.push({
      file,
      type: record.warcType,
      id: record.warcHeader('WARC-Record-ID') ?? '',
      uri: record.warcTargetURI ?? undefined,
      date: record.warcDate ?? undefined,
      concurrentTo: record.warcHeader('WARC-Concurrent-To') ?? undefined,
      payloadDigest: record.warcPayloadDigest ?? undefined,
      status,
      headers,
      payload: Buffer.from(await record.readFully(false)),
      raw: record,
      offset: parser.offset,
      length: parser.recordLength,
    });
  }
  return records;
}

/** Every record of every WARC file in the mirror's .sitemirror/warc/, files in name order. */
export async function readMirrorWarcs(output: string): Promise<{ files: string[]; records: ReadRecord[] }> {
  const dir = join(output, '.sitemirror', 'warc');
  const files = readdirSync(dir).filter((name) => name.endsWith('.warc.gz')).sort();
  const records: ReadRecord[] = [];
  for (const file of files) records.push(...(await readWarcBytes(readFileSync(join(dir, file)), file)));
  return { files, records };
}

export function responsesFor(records: ReadRecord[], url: string, type = 'response'): ReadRecord[] {
  return records.filter((record) => record.type === type && record.uri === url);
}

/** The body exactly as the origin sends it, content codings not removed (fetch() would decode them). */
export function originBytes(url: string): Promise<Buffer> {
  return new Promise((done, fail) => {
    get(url, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => done(Buffer.concat(chunks)));
      response.on('error', fail);
    }).on('error', fail);
  });
}

export interface ZipEntry {
  name: string;
  /** 0: stored, 8: deflated. */
  compressionMethod: number;
  bytes: Buffer;
}

/** All entries of a ZIP file, in the order they are stored. */
export async function readZip(path: string): Promise<ZipEntry[]> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  try {
    const entries: ZipEntry[] = [];
    for await (const entry of zip.eachEntry()) {
      const chunks: Buffer[] = [];
      for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      entries.push({ name: entry.fileName, compressionMethod: entry.compressionMethod, bytes: Buffer.concat(chunks) });
    }
    return entries;
  } finally {
    zip.close();
  }
}
