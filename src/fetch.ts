// One HTTP client for the whole crawl: redirects, timeouts, size cap, decompression, retries. Built on http1.ts's
// kept-alive connections.
import { Readable, Writable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HttpStatusError, SitemirrorError } from './errors.js';
import { ConnectionPool, type Exchange, type ResponseBody } from './http1.js';
import { lazyRequire } from './lazy.js';
import { BodySpool, type SpoolOptions } from './spool.js';
import type { PageSource, RedirectHop, SpooledBody } from './types.js';

export interface FetcherOptions {
  userAgent: string;
  /** Extra request headers (--header); they override the defaults, including `accept`. */
  headers: Record<string, string>;
  /** A Cookie header value (--cookie); sent only where credentials may go (see credentialsFor). */
  cookie?: string;
  /**
   * The hostnames the Cookie and Authorization headers may be sent to (the seed's site: see fetcherOptionsOf).
   * Without it, only the host a fetch started at: they are dropped after a redirect to another.
   */
  credentialsFor?: (hostname: string) => boolean;
  connectTimeoutMs: number;
  /** Max wait for response headers (counted from when the request has a connection, connecting included), and max idle gap between body chunks. */
  readTimeoutMs: number;
  /** Optional hard cap for one fetch, all redirect hops and the body included (counted from its first connection). */
  totalTimeoutMs?: number;
  maxRedirects: number;
  /** Cap on the decompressed body (--max-file-size); Infinity for none. */
  maxBytes: number;
  /** Connections at most to one host and port; keep it ≥ the per-host limit, or requests queue in the connection pool. */
  connectionsPerOrigin?: number;
  /** --warc: also hand back each body as it arrived (PageSource.wireBody), content codings not removed. */
  keepWireBody?: boolean;
  /** false: accept any TLS certificate (--no-check-certificate). Default true. */
  checkCertificates?: boolean;
}

export interface FetchRequest {
  /** Per request, e.g. If-None-Match, Referer; kept across redirects. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** false: a redirect resolves with its 3xx status, an empty body and the resolved target as redirectChain[0]. Default true. */
  followRedirects?: boolean;
  /** A 2xx body past the threshold is read to a file (PageSource.spooled) instead of into memory. */
  spool?: SpoolOptions;
}

/** A final status ≥ 400 (or an unfollowable 3xx) with what the origin sent, for "keep error pages". */
export class HttpResponseError extends HttpStatusError {
  readonly finalUrl: string;
  readonly headers: Record<string, string>;
  /** Decoded body; undefined when it could not be read (too large, corrupt, cut off). */
  readonly body: Buffer | undefined;
  /** The body as it arrived, when the fetcher keeps it (see PageSource.wireBody). */
  readonly wireBody: Buffer | undefined;
  readonly redirectChain: RedirectHop[];

  constructor(
    status: number,
    finalUrl: string,
    retryAfterMs: number | undefined,
    extra: { headers: Record<string, string>; body: Buffer | undefined; wireBody?: Buffer | undefined; redirectChain: RedirectHop[] },
  ) {
    super(status, finalUrl, retryAfterMs);
    this.finalUrl = finalUrl;
    this.headers = extra.headers;
    this.body = extra.body;
    this.wireBody = extra.wireBody;
    this.redirectChain = extra.redirectChain;
  }

  /** The error page as a fetch result (for --keep-error-pages); undefined when its body could not be read. */
  asPageSource(requestedUrl: string): PageSource | undefined {
    if (this.body === undefined) return undefined;
    const { contentType, charset } = parseContentType(this.headers['content-type']);
    const wire = this.wireBody === undefined ? {} : { wireBody: this.wireBody };
    return { requestedUrl, finalUrl: this.finalUrl, status: this.status, headers: this.headers, contentType, charset, body: this.body, ...wire, redirectChain: this.redirectChain, via: 'http' };
  }
}

/** node:zlib loads when first needed: a site with unencoded bodies never needs it (node:tls likewise, in http1.ts). */
const lazyZlib = lazyRequire<typeof import('node:zlib')>('node:zlib');

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MEDIA_TYPE = /^[^\s/]+\/[^\s/]+$/;
const MAX_LOCATION_LENGTH = 8 * 1024;
const TIMEOUT_CODES = new Set(['ETIMEDOUT']);
/** Errors of a certificate the system does not trust: the message says how to go on. */
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
/** Failures a second try may cure; anything else (TLS, DNS NXDOMAIN, malformed HTTP) is NETWORK but final. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** A response whose headers have arrived; its body is still to be read (and is being read already: ResponseBody). */
interface HttpResponse {
  statusCode: number;
  /** Lower-case names; a repeated header is an array of its values in order. */
  headers: Record<string, string | string[]>;
  body: ResponseBody;
}

export class HttpFetcher {
  readonly #options: FetcherOptions;
  readonly #connections: ConnectionPool;

  constructor(options: FetcherOptions) {
    this.#options = options;
    // Kept-alive connections, at most connectionsPerOrigin to one host and port (http1.ts: what node:http's agent
    // did, with less work per request).
    this.#connections = new ConnectionPool({ connectionsPerOrigin: options.connectionsPerOrigin ?? Infinity, checkCertificates: options.checkCertificates !== false });
  }

  async fetch(url: string, fetchRequest: FetchRequest = {}): Promise<PageSource> {
    const start = parseHttpUrl(url);
    const callerSignal = fetchRequest.signal;
    callerSignal?.throwIfAborted();
    // One FetchAbort per fetch: the caller's signal and all our timers end it, which fails the request or body.
    const { totalTimeoutMs } = this.#options;
    const abort = new FetchAbort(totalTimeoutMs === undefined ? undefined : () => guardTimer(totalTimeoutMs, () => abort.abort(timeoutError(`${url} did not complete within ${totalTimeoutMs} ms`))));
    const leaveSignal = callerSignal === undefined ? undefined : joinSignal(callerSignal, abort);
    try {
      return await this.#follow(url, start, fetchRequest.headers ?? {}, abort, fetchRequest.followRedirects ?? true, fetchRequest.spool);
    } finally {
      abort.finish();
      leaveSignal?.();
    }
  }

  async close(): Promise<void> {
    this.#connections.close();
  }

  async #follow(requestedUrl: string, start: URL, extraHeaders: Record<string, string>, abort: FetchAbort, followRedirects: boolean, spool: SpoolOptions | undefined): Promise<PageSource> {
    const redirectChain: RedirectHop[] = [];
    const seen = new Set([start.href]);
    let current = start;
    for (;;) {
      const hopUrl = current.href;
      try {
        const response = await this.#send(current, this.#headersFor(current, start, extraHeaders), abort);
        const { statusCode: status } = response;
        const headers = flattenHeaders(response.headers);
        if (REDIRECT_STATUSES.has(status)) {
          // The archive keeps a redirect's body as sent; otherwise drain so the connection can be reused (a failure
          // here does not matter to this fetch).
          const kept = this.#options.keepWireBody && !followRedirects ? await this.#readBody(response, hopUrl, abort).catch(() => undefined) : undefined;
          if (kept === undefined) response.body.discard();
          const target = redirectTarget(response.headers.location, current);
          redirectChain.push({ url: hopUrl, status, location: target.href });
          if (!followRedirects) {
            const { contentType, charset } = parseContentType(response.headers['content-type']);
            const wireBody = kept ? kept.wireBody : Buffer.alloc(0);
            return { requestedUrl, finalUrl: hopUrl, status, headers, contentType, charset, redirectChain, via: 'http', body: Buffer.alloc(0), wireBody };
          }
          target.hash = ''; // a fragment is never sent (RFC 9110 §10.2.2); the hop keeps it for display
          if (seen.has(target.href)) throw new SitemirrorError('REDIRECT_LOOP', `redirect loop: ${hopUrl} leads back to ${target.href}`);
          if (redirectChain.length > this.#options.maxRedirects) {
            throw new SitemirrorError('TOO_MANY_REDIRECTS', `more than ${this.#options.maxRedirects} redirects from ${requestedUrl}`);
          }
          seen.add(target.href);
          current = target;
          continue;
        }
        const { contentType, charset } = parseContentType(response.headers['content-type']);
        const page = { requestedUrl, finalUrl: hopUrl, status, headers, contentType, charset, redirectChain, via: 'http' as const };
        if (status === 204 || status === 304) {
          response.body.discard();
          return { ...page, body: Buffer.alloc(0) };
        }
        if (status >= 300) {
          const read = await this.#readBody(response, hopUrl, abort).catch(() => undefined);
          const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(headers['retry-after']) : undefined;
          throw new HttpResponseError(status, hopUrl, retryAfterMs, { headers, body: read?.body, wireBody: read?.wireBody, redirectChain });
        }
        return { ...page, ...(await this.#readBody(response, hopUrl, abort, spool && { options: spool, contentType })) };
      } catch (error) {
        throw classifyError(error, hopUrl, abort);
      }
    }
  }

  #send(url: URL, headers: Record<string, string>, abort: FetchAbort): Promise<HttpResponse> {
    const { readTimeoutMs, connectTimeoutMs } = this.#options;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let connectTimer: NodeJS.Timeout | undefined;
      const exchange = this.#connections.get(url, headers, {
        // The clocks start when the request has a connection to go out on: it may wait in the pool's queue until
        // one of its host's connections frees (HostLimiter's aheadPerHost), which is no fault of this request.
        connection: (socket, connecting) => {
          abort.started();
          timer ??= guardTimer(readTimeoutMs, () => abort.abort(timeoutError(`no response from ${url.href} within ${readTimeoutMs} ms`)));
          if (!connecting) return; // a kept-alive connection
          clearTimeout(connectTimer);
          connectTimer = guardTimer(connectTimeoutMs, () => exchange.destroy(Object.assign(new Error(`no connection within ${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })));
          socket.once('connect', () => clearTimeout(connectTimer));
        },
        response: (head, body) => {
          clearTimeout(timer);
          clearTimeout(connectTimer);
          resolve({ statusCode: head.statusCode, headers: head.headers, body });
        },
        error: (error) => {
          clearTimeout(timer);
          clearTimeout(connectTimer);
          reject(error);
        },
      });
      abort.watch(exchange);
    });
  }

  /**
   * Streams the body through its decoders into memory, never holding more than maxBytes of it decoded; with
   * keepWireBody, the bytes as they arrived too (the same Buffer when there was nothing to decode). With spool, a
   * body past its media type's threshold goes on to a file instead (and then no wire copy is kept: the archive takes
   * the file).
   */
  async #readBody(response: HttpResponse, url: string, abort: FetchAbort, spool?: { options: SpoolOptions; contentType: string }): Promise<{ body: Buffer; wireBody?: Buffer; spooled?: SpooledBody }> {
    const { maxBytes, readTimeoutMs } = this.#options;
    const codings = contentCodings(response.headers['content-encoding']);
    const declared = Number(response.headers['content-length']);
    if (codings.length === 0 && declared > maxBytes) {
      response.body.destroy();
      throw tooLarge(url, maxBytes, `declares ${declared} bytes`);
    }
    const sink = new BodySpool(spool?.options, spool === undefined ? Infinity : spool.options.aboveBytes(spool.contentType));
    const idle = guardTimer(readTimeoutMs, () => abort.abort(timeoutError(`${url} sent nothing for ${readTimeoutMs} ms mid-body`)));
    if (codings.length === 0) {
      const read = await this.#readPlain(response, url, idle, sink);
      return this.#options.keepWireBody && read.spooled === undefined ? { ...read, wireBody: read.body } : read;
    }
    let wireChunks: Buffer[] | undefined = this.#options.keepWireBody ? [] : undefined;
    // The body as a stream for zlib's: chunks pushed as they come, the connection paused while the decoders lag.
    const body = response.body;
    const source = new Readable({ read: () => body.resume() });
    body.read({
      data: (chunk) => {
        idle.refresh();
        wireChunks?.push(chunk);
        if (!source.push(chunk)) body.pause();
      },
      end: () => source.push(null),
      error: (error) => source.destroy(error),
    });
    const writable = new Writable({
      write(chunk: Buffer, _encoding, done) {
        // Failing the pipeline destroys the body, which closes the connection: nothing more is read.
        if (sink.size + chunk.length > maxBytes) return done(tooLarge(url, maxBytes, 'is larger'));
        const writing = sink.add(chunk);
        if (writing === undefined) return done();
        wireChunks = undefined;
        writing.then(() => done(), done);
      },
    });
    let read: { body: Buffer; spooled?: SpooledBody };
    try {
      await pipeline([source, ...codings.reverse().map((coding) => new ContentDecoder(coding, url)), writable]);
      read = await sink.finish();
    } catch (error) {
      body.destroy(error as Error);
      await sink.discard();
      throw error;
    } finally {
      clearTimeout(idle);
    }
    if (wireChunks === undefined) return read;
    return { ...read, wireBody: Buffer.concat(wireChunks) };
  }

  /**
   * An unencoded body (most of them): read straight into memory, without a stream pipeline; wire and payload are one.
   * While a spooled chunk is being written, the body is paused.
   */
  #readPlain(response: HttpResponse, url: string, idle: NodeJS.Timeout, sink: BodySpool): Promise<{ body: Buffer; spooled?: SpooledBody }> {
    const { maxBytes } = this.#options;
    const body = response.body;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        if (error !== undefined) sink.discard().then(() => reject(error), reject);
        else if (sink.spooling) sink.finish().then(resolve, reject);
        else resolve({ body: sink.inMemory() });
      };
      const failWrite = (error: Error): void => {
        settle(error);
        body.destroy(error);
      };
      body.read({
        data: (chunk) => {
          if (settled) return;
          idle.refresh();
          if (sink.size + chunk.length > maxBytes) {
            // Destroying the body closes the connection: nothing more is read.
            return failWrite(tooLarge(url, maxBytes, 'is larger'));
          }
          const writing = sink.add(chunk);
          if (writing === undefined) return;
          body.pause();
          writing.then(() => body.resume(), failWrite);
        },
        end: () => settle(),
        error: (error) => settle(error),
      });
    });
  }

  /** The request headers a fetch of url without redirects sends (for --warc's request records). */
  requestHeadersFor(url: string, extra: Record<string, string> = {}): Record<string, string> {
    const target = new URL(url);
    return this.#headersFor(target, target, extra);
  }

  #headersFor(url: URL, start: URL, extra: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { 'user-agent': this.#options.userAgent, accept: '*/*', 'accept-encoding': 'gzip, deflate, br' };
    for (const [name, value] of Object.entries(this.#options.headers)) headers[name.toLowerCase()] = value;
    const { cookie } = this.#options;
    if (cookie) headers.cookie = headers.cookie ? `${headers.cookie}; ${cookie}` : cookie;
    for (const [name, value] of Object.entries(extra)) headers[name.toLowerCase()] = value;
    // Credentials belong to the site they were given for: not to a CDN the crawl fetches requisites from, nor after
    // a redirect to another host (curl drops them there too).
    const { credentialsFor } = this.#options;
    if (credentialsFor ? !credentialsFor(url.hostname) : url.hostname !== start.hostname) {
      delete headers.cookie;
      delete headers.authorization;
    }
    return headers;
  }
}

/** Decodes one content coding; picks its zlib stream at the first byte, so deflate may be zlib-wrapped or raw and an empty body stays empty. */
class ContentDecoder extends Transform {
  #inner: Transform | undefined;

  constructor(private readonly coding: string, private readonly url: string) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (chunk.length === 0) return done();
    if (!this.#inner) {
      const inner = this.#open(chunk);
      inner.on('data', (decoded: Buffer) => this.push(decoded));
      inner.on('error', (cause: Error) => this.destroy(new SitemirrorError('DECODE', `corrupt ${this.coding} body at ${this.url}: ${cause.message}`, { cause })));
      this.#inner = inner;
    }
    this.#inner.write(chunk, () => done());
  }

  override _flush(done: TransformCallback): void {
    if (!this.#inner) return done();
    this.#inner.once('end', () => done());
    this.#inner.end();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#inner?.destroy();
    done(error);
  }

  #open(first: Buffer): Transform {
    const zlib = lazyZlib();
    if (this.coding === 'br') return zlib.createBrotliDecompress();
    if (this.coding === 'deflate') {
      // RFC 9110 says zlib-wrapped, but servers send raw deflate too; a zlib header has CM=8 and a check value (RFC 1950).
      const zlibWrapped = (first[0] & 0x0f) === 8 && (first.length < 2 || ((first[0] << 8) | first[1]) % 31 === 0);
      return zlibWrapped ? zlib.createInflate() : zlib.createInflateRaw();
    }
    return zlib.createGunzip();
  }
}

/** The codings we decode, in the order they were applied; identity and unknown codings pass through as browsers do. */
function contentCodings(value: string | string[] | undefined): string[] {
  const list = Array.isArray(value) ? value.join(',') : value ?? '';
  return list.split(',').map((coding) => coding.trim().toLowerCase())
    .map((coding) => (coding === 'x-gzip' ? 'gzip' : coding))
    .filter((coding) => coding === 'gzip' || coding === 'deflate' || coding === 'br');
}

function redirectTarget(location: string | string[] | undefined, base: URL): URL {
  const values = Array.isArray(location) ? [...new Set(location)] : location === undefined ? [] : [location];
  if (values.length !== 1) throw badRedirect(base, values.length === 0 ? 'no Location' : 'conflicting Location headers');
  const raw = values[0].trim();
  if (raw === '') throw badRedirect(base, 'an empty Location');
  if (raw.length > MAX_LOCATION_LENGTH) throw badRedirect(base, `a Location of ${raw.length} characters`);
  let target: URL;
  try {
    target = new URL(utf8Header(raw), base);
  } catch (cause) {
    throw badRedirect(base, `an unparsable Location ${JSON.stringify(raw.slice(0, 200))}`, cause);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw badRedirect(base, `a ${target.protocol} Location`);
  return target;
}

function badRedirect(base: URL, what: string, cause?: unknown): SitemirrorError {
  return new SitemirrorError('BAD_REDIRECT', `redirect from ${base.href} has ${what}`, { cause });
}

/** Header bytes are read as Latin-1 (as node:http reads them); browsers read a Location's bytes as UTF-8 when they are valid UTF-8. */
function utf8Header(value: string): string {
  if (!/[\x80-\xff]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  const decoded = Buffer.from(value, 'latin1').toString('utf8');
  return decoded.includes('\ufffd') ? value : decoded;
}

/** One string per header (the parser made the names lower-case already); set-cookie values one per line. */
function flattenHeaders(raw: Record<string, string | string[]>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name in raw) {
    const value = raw[name]!;
    headers[name] = typeof value === 'string' ? value : value.join(name === 'set-cookie' ? '\n' : ', ');
  }
  return headers;
}

/** Bare lower-case media type and charset parameter; with repeated headers the last valid one wins (as in the Fetch standard). */
export function parseContentType(value: string | string[] | undefined): { contentType: string; charset: string | undefined } {
  let contentType = '';
  let charset: string | undefined;
  if (value === undefined) return { contentType, charset };
  // Plain loops: this runs for every response.
  for (const one of typeof value === 'string' ? [value] : value) {
    const parameters = one.split(';');
    const essence = parameters[0]!.trim().toLowerCase();
    if (!MEDIA_TYPE.test(essence) || essence === '*/*') continue;
    let declared: string | undefined;
    for (let i = 1; i < parameters.length; i++) {
      const [name = '', given] = parameters[i]!.split('=');
      if (name.trim().toLowerCase() !== 'charset') continue;
      declared = given?.trim().replace(/^"(.*)"$/, '$1').trim().toLowerCase() || undefined;
      break;
    }
    // A repeated header without a charset keeps the one an earlier value gave the same type.
    charset = declared ?? (essence === contentType ? charset : undefined);
    contentType = essence;
  }
  return { contentType, charset };
}

function parseHttpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new SitemirrorError('BAD_URL', `not a URL: ${url}`, { cause });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new SitemirrorError('BAD_URL', `not an http(s) URL: ${url}`);
  parsed.hash = '';
  return parsed;
}

/** Maps whatever the connection, its parser, zlib or an abort threw to our codes; an abort by the caller is rethrown as its own reason. */
function classifyError(error: unknown, url: string, abort: FetchAbort): unknown {
  if (abort.aborted) return abort.reason;
  if (error instanceof SitemirrorError) return error;
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new SitemirrorError('TIMEOUT', `timed out (${code}) fetching ${url}`, { cause: error, retryable: true });
  }
  const retryable = code !== undefined && TRANSIENT_CODES.has(code);
  // A certificate the system does not trust (self-signed, an internal CA, expired, for another name) says how to go on.
  const hint = code !== undefined && CERTIFICATE_CODES.has(code) ? '; NODE_EXTRA_CA_CERTS=ca.pem trusts its issuer, --no-check-certificate accepts any' : '';
  return new SitemirrorError('NETWORK', `network error fetching ${url}: ${detail}${code ? ` (${code})` : ''}${hint}`, { cause: error, retryable });
}

/** The first `code` on the error, its causes, or the errors of an AggregateError (happy-eyeballs connects). */
function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (current instanceof AggregateError) return errorCode(current.errors[0]);
  }
  return undefined;
}

function timeoutError(message: string): SitemirrorError {
  return new SitemirrorError('TIMEOUT', message, { retryable: true });
}

/**
 * Ends one fetch early, for a timer or the caller's signal: destroys the request in flight (and with it its response)
 * and keeps the reason, which the fetch then fails with. An AbortController did the same at twice the cost: a
 * signal, and a listener added to it and removed again, for every request.
 */
class FetchAbort {
  aborted = false;
  reason: unknown;
  #request: Exchange | undefined;
  /** The whole fetch's time limit (totalTimeoutMs), started with its first request's connection. */
  #startTotalTimer: (() => NodeJS.Timeout) | undefined;
  #totalTimer: NodeJS.Timeout | undefined;

  constructor(startTotalTimer?: () => NodeJS.Timeout) {
    this.#startTotalTimer = startTotalTimer;
  }

  /** A request of this fetch got its connection: the first one starts the total timer. */
  started(): void {
    this.#totalTimer ??= this.#startTotalTimer?.();
  }

  /** The fetch settled: its timer has nothing left to guard. */
  finish(): void {
    clearTimeout(this.#totalTimer);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#request?.destroy(abortError(reason));
  }

  /** The request a later abort destroys (one per redirect hop); destroyed at once when the fetch was aborted already. */
  watch(request: Exchange): void {
    this.#request = request;
    if (this.aborted) request.destroy(abortError(this.reason));
  }
}

/** What the request and its body fail with when aborted (the fetch itself fails with the reason: classifyError). */
function abortError(reason: unknown): Error {
  return Object.assign(new Error('the fetch was aborted', { cause: reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}

/**
 * The fetches that listen to one caller's signal (a crawl's halt signal, shared by all its fetches): a single
 * listener on the signal ends them all, rather than one listener added and removed per fetch.
 */
const fetchesBySignal = new WeakMap<AbortSignal, Set<FetchAbort>>();

/** Ends abort when signal aborts (at once if it has); returns the function that stops listening. */
function joinSignal(signal: AbortSignal, abort: FetchAbort): () => void {
  if (signal.aborted) {
    abort.abort(signal.reason);
    return () => undefined;
  }
  let members = fetchesBySignal.get(signal);
  if (members === undefined) {
    const joined = new Set<FetchAbort>();
    fetchesBySignal.set(signal, (members = joined));
    signal.addEventListener('abort', () => {
      for (const member of joined) member.abort(signal.reason);
      joined.clear();
    }, { once: true });
  }
  members.add(abort);
  return () => members.delete(abort);
}

function tooLarge(url: string, maxBytes: number, what: string): SitemirrorError {
  return new SitemirrorError('TOO_LARGE', `${url} ${what} than the ${maxBytes}-byte limit`);
}

/** A timer that only guards a request in flight: the request's socket keeps the process alive, not the guard. */
function guardTimer(ms: number, onTimeout: () => void): NodeJS.Timeout {
  return setTimeout(onTimeout, ms).unref();
}

export interface RetryOptions {
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
  /** Told before each retry; `attempt` is the retry's number, 1 for the first. */
  onRetry?: (error: SitemirrorError, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

export async function withRetries<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let retry = 0; ; retry++) {
    options.signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (error) {
      // The error's type is the retry policy: anything not marked retryable ends here.
      if (!(error instanceof SitemirrorError) || !error.retryable || retry >= options.retries) throw error;
      const backoffMs = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry) * (1 - Math.random() * 0.2);
      const retryAfterMs = error instanceof HttpStatusError && error.retryAfterMs !== undefined ? Math.min(error.retryAfterMs, options.maxRetryAfterMs) : 0;
      const delayMs = Math.round(Math.max(backoffMs, retryAfterMs));
      options.onRetry?.(error, retry + 1, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}

/** Waits with a referenced timer (a retry is pending work); an abort rejects with the signal's reason. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// The three HTTP-date forms of RFC 9110 §5.6.7; Date.parse alone would accept far too much.
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC_850 = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  let parts: [day: string, month: string, year: number, hours: string, minutes: string, seconds: string] | undefined;
  let match: RegExpExecArray | null;
  if ((match = IMF_FIXDATE.exec(text))) parts = [match[1], match[2], Number(match[3]), match[4], match[5], match[6]];
  else if ((match = ASCTIME.exec(text))) parts = [match[2], match[1], Number(match[6]), match[3], match[4], match[5]];
  else if ((match = RFC_850.exec(text))) {
    // A two-digit year more than 50 years ahead means the previous century (RFC 9110 §5.6.7).
    let year = 2000 + Number(match[3]);
    if (year > new Date(now).getUTCFullYear() + 50) year -= 100;
    parts = [match[1], match[2], year, match[4], match[5], match[6]];
  }
  if (!parts) return undefined;
  const [day, month, year, hours, minutes, seconds] = parts;
  const at = Date.UTC(year, MONTHS.indexOf(month), Number(day), Number(hours), Number(minutes), Number(seconds));
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
