// --warc: every response the crawl receives, archived as WARC 1.1 request/response pairs (warcio writes the format).
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import { WARCRecord, WARCSerializer } from 'warcio';
import { SitemirrorError, messageOf } from './errors.js';

/** Under the state folder, so `serve` never serves them and link settlement never rewrites them. */
export const WARC_DIR = 'warc';

/** One HTTP exchange as the crawler saw it. Header names are lower-case; a repeated header arrives joined. */
export interface WarcExchange {
  url: string;
  method?: string;
  requestHeaders: Record<string, string>;
  status: number;
  statusText?: string;
  responseHeaders: Record<string, string>;
  /** The payload after content decoding; undefined when it could not be read (the record is marked truncated). */
  body: Buffer | undefined;
  date?: Date;
}

export interface WarcWriterOptions {
  /** Names the files: sitemirror-<runId>-<n>.warc.gz, so a resumed crawl continues in files of its own. */
  runId: number | string;
  /** A file that would grow past this starts the next one (a single larger exchange still gets a file to itself). */
  maxBytes: number;
  /** warcinfo fields written at the head of every file: software, the crawl's options. */
  info: Record<string, string>;
}

const SERIALIZE = { gzip: true, digest: { algo: 'sha-256', prefix: 'sha256:', base32: false } } as const;
/** The body is stored decoded, so these would misdescribe it; their received values are kept under X-Archive-Orig-*. */
const DECODED_AWAY = new Set(['content-encoding', 'transfer-encoding', 'content-length']);

export class WarcWriter {
  private file: FileHandle | undefined;
  private fileBytes = 0;
  private fileNumber = 0;
  /** Appends run one at a time so records never interleave, whatever the number of workers. */
  private queue: Promise<void> = Promise.resolve();
  readonly files: string[] = [];

  private constructor(private readonly dir: string, private readonly options: WarcWriterOptions) {}

  /** Opens a writer for the folder (created if missing); the first file starts with the first record. */
  static open(dir: string, options: WarcWriterOptions): WarcWriter {
    mkdirSync(dir, { recursive: true });
    return new WarcWriter(dir, options);
  }

  /** Writes a request record and its response record, linked by WARC-Concurrent-To, each gzip member whole and fsync'd. */
  writeExchange(exchange: WarcExchange): Promise<void> {
    return this.enqueue(async () => {
      const records = await serializeExchange(exchange);
      await this.append(Buffer.concat(records));
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

async function serializeExchange(exchange: WarcExchange): Promise<Buffer[]> {
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
  const response = WARCRecord.create(
    {
      url: exchange.url,
      date,
      type: 'response',
      warcVersion: 'WARC/1.1',
      statusline: `HTTP/1.1 ${exchange.status} ${statusText}`.trimEnd(),
      httpHeaders: responseHeaders(exchange.responseHeaders, exchange.body),
      warcHeaders: { 'WARC-Record-ID': responseId, ...(exchange.body === undefined ? { 'WARC-Truncated': 'unspecified' } : {}) },
    },
    exchange.body && exchange.body.length > 0 ? [exchange.body] : [],
  );
  return [Buffer.from(await WARCSerializer.serialize(request, SERIALIZE)), Buffer.from(await WARCSerializer.serialize(response, SERIALIZE))];
}

/** Headers as received, except that the body is decoded: its encoding and length headers move to X-Archive-Orig-*. */
function responseHeaders(headers: Record<string, string>, body: Buffer | undefined): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    // Several Set-Cookie headers arrive joined by newlines (they cannot be comma-joined); each is its own line again.
    const values = name === 'set-cookie' ? value.split('\n') : [value];
    for (const one of values) pairs.push([DECODED_AWAY.has(name) ? `x-archive-orig-${name}` : name, one]);
  }
  if (body !== undefined) pairs.push(['content-length', String(body.length)]);
  return pairs;
}

/** WARC-Date to the second (W3C-ISO8601 as WARC 1.0 readers expect it too). */
function warcDate(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
