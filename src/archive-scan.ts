// Reads back the WARC files earlier runs wrote: which captures they hold (for revisits), and where a file cut off
// by a killed crawl ends its last whole record (so it can be trimmed back to a record boundary).
import { createReadStream, readdirSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { WARCParser } from 'warcio';

/** The latest capture of a URL, what a revisit record refers to. */
export interface EarlierCapture {
  recordId: string;
  date: string;
  /** WARC-Payload-Digest as written, `sha256:<hex>`. */
  payloadDigest: string;
}

export interface ScannedWarc {
  /** Responses and revisits in file order, keyed by WARC-Target-URI. */
  captures: { url: string; capture: EarlierCapture }[];
  /** Offset just past the last whole record. */
  end: number;
  size: number;
}

/** sitemirror-<run>-<n>.warc.gz files of a folder, in the order they were written (run, then number). */
export function listWarcFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const order = (name: string) => /^sitemirror-(\d+)-(\d+)\.warc\.gz$/.exec(name);
  return names
    .filter((name) => order(name) !== null)
    .sort((a, b) => {
      const [, runA, numberA] = order(a)!;
      const [, runB, numberB] = order(b)!;
      return Number(runA) - Number(runB) || Number(numberA) - Number(numberB);
    });
}

export async function scanWarc(path: string): Promise<ScannedWarc> {
  const { size } = await stat(path);
  const parser = new WARCParser(createReadStream(path));
  const captures: ScannedWarc['captures'] = [];
  let end = 0;
  // warcio stops quietly at a gzip member cut short, so `end` stays at the last whole record.
  for await (const record of parser) {
    await record.skipFully();
    end = parser.offset + parser.recordLength;
    const url = record.warcTargetURI;
    const payloadDigest = record.warcPayloadDigest;
    if ((record.warcType !== 'response' && record.warcType !== 'revisit') || !url || !payloadDigest) continue;
    // A revisit stands for the capture it refers to: a later revisit points at the first copy of the body.
    const refersTo = record.warcType === 'revisit' ? record.warcHeader('WARC-Refers-To') : undefined;
    const refersToDate = record.warcType === 'revisit' ? record.warcRefersToDate : undefined;
    const recordId = refersTo ?? record.warcHeader('WARC-Record-ID') ?? '';
    captures.push({ url, capture: { recordId, date: refersToDate ?? record.warcDate ?? '', payloadDigest } });
  }
  return { captures, end, size };
}

/**
 * A crawl killed mid-write leaves at most one incomplete gzip member at the end of its last file; trimming it leaves
 * every completed record readable. Bytes after the last record that form whole members are not ours to judge: kept.
 * Returns the number of bytes cut.
 */
export async function trimIncompleteTail(path: string, scanned: ScannedWarc): Promise<number> {
  if (scanned.end >= scanned.size) return 0;
  const file = await open(path, 'r+');
  try {
    const tail = Buffer.alloc(scanned.size - scanned.end);
    await file.read(tail, 0, tail.length, scanned.end);
    try {
      gunzipSync(tail);
      return 0; // whole gzip members warcio could not read as records: left for a person to look at
    } catch {
      await file.truncate(scanned.end);
      await file.sync();
      return tail.length;
    }
  } finally {
    await file.close();
  }
}

/** The latest capture of every URL in the folder's WARC files, trimming a cut-off tail on the way. */
export async function loadEarlierCaptures(dir: string, onTrim: (file: string, bytes: number) => void): Promise<Map<string, EarlierCapture>> {
  const latest = new Map<string, EarlierCapture>();
  for (const file of listWarcFiles(dir)) {
    const path = join(dir, file);
    const scanned = await scanWarc(path);
    const trimmed = await trimIncompleteTail(path, scanned);
    if (trimmed > 0) onTrim(file, trimmed);
    for (const { url, capture } of scanned.captures) latest.set(url, capture);
  }
  return latest;
}
