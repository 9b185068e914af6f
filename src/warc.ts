// --warc: every response the crawl receives, archived as WARC 1.1 request/response pairs (warcio writes the format).
import { createHash, randomUUID } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import { WARCRecord, WARCSerializer } from 'warcio';
import { makeDirs } from './dirs.js';
import { loadEarlierCaptures, type EarlierCapture } from './archive-scan.js';
import { SitemirrorError, messageOf } from './errors.js';

/** Under the state folder, so `serve` never serves them and link settlement never rewrites them. */
export { WARC_DIR } from './store.js';

/** One HTTP exchange as the crawler saw it. Header names are lower-case; a repeated header arrives joined. */
export interface WarcExchange {
  url: string;
  method?: string;
  requestHeaders: Record<string, string>;
  status: number;
  statusText?: string;
  responseHeaders: Record<string, string>;
  /** The payload as it arrived (content codings applied); undefined when it could not be read (marked truncated). */
  body: Buffer | undefined;
  /**
   * Instead of body: the file a large payload was read to (spool.ts), read when its turn to be written comes, so
   * one such payload is in memory at a time.
   */
  bodyFile?: string;
  /** True when the payload was handed over decoded (the browser's fetches): Content-Encoding then no longer applies. */
  decoded?: boolean;
  date?: Date;
}

export interface WarcWriterOptions {
  /** Names the files: sitemirror-<runId>-<n>.warc.gz, so a resumed crawl continues in files of its own. */
  runId: number | string;
  /** A file that would grow past this starts the next one (a single larger exchange still gets a file to itself). */
  maxBytes: number;
  /** warcinfo fields written at the head of every file: software, the crawl's options. */
  info: Record<string, string>;
  /** Told when a file an interrupted run left was trimmed back to its last whole record. */
  onTrim?: (file: string, bytes: number) => void;
}

const SERIALIZE = { gzip: true, digest: { algo: 'sha-256', prefix: 'sha256:', base32: false } } as const;
/** node:http takes the chunked framing off, so the stored payload is the de-chunked body (as every WARC writer keeps it). */
const FRAMING = new Set(['transfer-encoding']);
const PROFILE_NOT_MODIFIED = 'http://netpreserve.org/warc/1.1/revisit/server-not-modified';

export class WarcWriter {
  private file: FileHandle | undefined;
  private fileBytes = 0;
  private fileNumber = 0;
  /** Appends run one at a time so records never interleave, whatever the number of workers. */
  private queue: Promise<void> = Promise.resolve();
  /** The latest capture of each URL in this folder, earlier runs included: what an unchanged answer revisits. */
  private earlier: Map<string, EarlierCapture> | undefined;
  readonly files: string[] = [];

  private constructor(private readonly dir: string, private readonly options: WarcWriterOptions) {}

  /** Opens a writer for the folder (created if missing); the first file starts with the first record. */
  static open(dir: string, options: WarcWriterOptions): WarcWriter {
    makeDirs(dir);
    return new WarcWriter(dir, options);
  }

  /**
   * Writes a request record and its response record, linked by WARC-Concurrent-To, each gzip member whole and
   * fsync'd. An answer that repeats the latest capture of its URL (a 304, or the same payload digest) is written as
   * a revisit record that refers to that capture instead of a second copy of the body.
   */
  writeExchange(exchange: WarcExchange): Promise<void> {
    return this.enqueue(async () => {
      this.earlier ??= await loadEarlierCaptures(this.dir, this.options.onTrim ?? (() => undefined));
      const { records, capture } = await serializeExchange(exchange, this.earlier.get(exchange.url));
      await this.append(Buffer.concat(records));
      if (capture) this.earlier.set(exchange.url, capture);
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.file?.close();
    this.file = undefined;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run.catch((error: unknown) => {
      throw error instanceof SitemirrorError ? error : new SitemirrorError('WRITE', `cannot write the WARC file in ${this.dir}: ${messageOf(error)}`, { cause: error });
    });
  }

  private async append(bytes: Buffer): Promise<void> {
    if (!this.file || (this.fileBytes > 0 && this.fileBytes + bytes.length > this.options.maxBytes)) await this.nextFile();
    await this.file!.write(bytes);
    await this.file!.sync();
    this.fileBytes += bytes.length;
  }

  private async nextFile(): Promise<void> {
    await this.file?.close();
    for (;;) {
      this.fileNumber++;
      const name = `sitemirror-${this.options.runId}-${String(this.fileNumber).padStart(5, '0')}.warc.gz`;
      try {
        // 'wx': never append to a file an earlier run left, even one with the same name.
        this.file = await open(join(this.dir, name), 'wx');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      const info = WARCRecord.createWARCInfo({ filename: name, date: warcDate(new Date()), warcVersion: 'WARC/1.1' }, this.options.info);
      const bytes = Buffer.from(await WARCSerializer.serialize(info, SERIALIZE));
      await this.file.write(bytes);
      await this.file.sync();
      this.fileBytes = bytes.length;
      this.files.push(name);
      return;
    }
  }
}

/** The two records of an exchange, and the capture later answers of the URL may revisit (undefined: none new). */
async function serializeExchange(exchange: WarcExchange, earlier: EarlierCapture | undefined): Promise<{ records: Buffer[]; capture: EarlierCapture | undefined }> {
  const url = new URL(exchange.url);
  const date = warcDate(exchange.date ?? new Date());
  const responseId = `<urn:uuid:${randomUUID()}>`;
  const requestHeaders: [string, string][] = [['host', url.host], ...Object.entries(exchange.requestHeaders).filter(([name]) => name !== 'host')];
  const request = WARCRecord.create(
    {
      url: exchange.url,
      date,
      type: 'request',
      warcVersion: 'WARC/1.1',
      statusline: `${exchange.method ?? 'GET'} ${url.pathname}${url.search} HTTP/1.1`,
      httpHeaders: requestHeaders,
      warcHeaders: { 'WARC-Record-ID': `<urn:uuid:${randomUUID()}>`, 'WARC-Concurrent-To': responseId },
    },
    [],
  );
  const statusText = exchange.statusText ?? STATUS_CODES[exchange.status] ?? '';
  const statusline = `HTTP/1.1 ${exchange.status} ${statusText}`.trimEnd();
  const body = exchange.body ?? (exchange.bodyFile === undefined ? undefined : await readFile(exchange.bodyFile));
  const httpHeaders = responseHeaders(exchange.responseHeaders, body, exchange.decoded ?? false);
  const digest = body === undefined ? undefined : `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const unchanged = earlier !== undefined && (exchange.status === 304 || (exchange.status === 200 && digest === earlier.payloadDigest));
  let response: WARCRecord;
  if (unchanged) {
    // WARC 1.1 §6.7: a revisit keeps the HTTP headers of this answer and names the capture whose body it repeats.
    response = WARCRecord.create(
      {
        url: exchange.url,
        date,
        type: 'revisit',
        warcVersion: 'WARC/1.1',
        statusline,
        httpHeaders,
        refersToUrl: exchange.url,
        refersToDate: earlier.date,
        warcHeaders: { 'WARC-Record-ID': responseId, 'WARC-Refers-To': earlier.recordId, 'WARC-Payload-Digest': earlier.payloadDigest },
      },
      [],
    );
    if (exchange.status === 304) response.warcHeaders.headers.set('WARC-Profile', PROFILE_NOT_MODIFIED);
  } else {
    response = WARCRecord.create(
      {
        url: exchange.url,
        date,
        type: 'response',
        warcVersion: 'WARC/1.1',
        statusline,
        httpHeaders,
        warcHeaders: { 'WARC-Record-ID': responseId, ...(body === undefined ? { 'WARC-Truncated': 'unspecified' } : {}) },
      },
      body && body.length > 0 ? [body] : [],
    );
  }
  const records = [Buffer.from(await WARCSerializer.serialize(request, SERIALIZE)), Buffer.from(await WARCSerializer.serialize(response, SERIALIZE))];
  // Only a whole 200 body is worth revisiting later; a revisit passes on the capture it refers to.
  const capture = unchanged ? undefined : exchange.status === 200 && digest ? { recordId: responseId, date, payloadDigest: digest } : undefined;
  return { records, capture };
}

/**
 * The headers as received, in their order. What no longer describes the stored payload moves to X-Archive-Orig-*
 * (the convention of Heritrix and pywb): the chunked framing node:http removed, a Content-Length that does not match,
 * and Content-Encoding when the payload was handed over decoded.
 */
function responseHeaders(headers: Record<string, string>, body: Buffer | undefined, decoded: boolean): [string, string][] {
  const pairs: [string, string][] = [];
  const length = body === undefined ? undefined : String(body.length);
  for (const [name, value] of Object.entries(headers)) {
    // Several Set-Cookie headers arrive joined by newlines (they cannot be comma-joined); each is its own line again.
    const values = name === 'set-cookie' ? value.split('\n') : [value];
    const stale = FRAMING.has(name) || (decoded && name === 'content-encoding') || (name === 'content-length' && value !== length);
    for (const one of values) pairs.push([stale ? `x-archive-orig-${name}` : name, one]);
  }
  if (length !== undefined && headers['content-length'] !== length) pairs.push(['content-length', length]);
  return pairs;
}

/** WARC-Date to the second (W3C-ISO8601 as WARC 1.0 readers expect it too). */
function warcDate(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
