// GET requests over kept-alive HTTP/1.1 connections: at most a given number of connections to one origin, a
// request queued in order when all of them are busy, responses read by http1-parser. It does what the crawl used
// of node:http's Agent, ClientRequest and IncomingMessage, with a fraction of their work: a crawl's process is
// short, and their layers of streams and events ran mostly before V8 had optimised them (the README's performance
// section: 2,154 fetches in a fresh process, 0.8 s of CPU through node:http, 0.3 s over a bare socket).
import { channel } from 'node:diagnostics_channel';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { lazyRequire } from './lazy.js';
import { BAD_FIELD_VALUE, ResponseParser, TOKEN, type ResponseHead } from './http1-parser.js';

const lazyTls = lazyRequire<typeof import('node:tls')>('node:tls');

/**
 * Each request's steps for bench/gaps (its client-log.cjs subscribes): 'created', 'sent' (with the socket), 'head'
 * and 'ended', with the exchange they are of. Nothing is published without a subscriber.
 */
const exchangeSteps = channel('sitemirror.http1.exchange');
type Step = 'created' | 'sent' | 'head' | 'ended';
function tell(step: Step, exchange: Exchange, socket?: Socket): void {
  if (exchangeSteps.hasSubscribers) exchangeSteps.publish({ step, exchange, socket });
}

export interface PoolOptions {
  /** Connections at most to one origin; Infinity for no limit. */
  connectionsPerOrigin: number;
  /** false: accept any TLS certificate. */
  checkCertificates: boolean;
}

/** What the fetch that made a request is told, in order: its connection, then its response's head, or a failure. */
export interface ExchangeEvents {
  /** The request has a connection to go out on; `connecting` while it is still being opened. */
  connection(socket: Socket, connecting: boolean): void;
  response(head: ResponseHead, body: ResponseBody): void;
  error(error: Error): void;
}

/** Reads a body's chunks in order; told its end or failure once. */
export interface BodyReader {
  data(chunk: Buffer): void;
  end(): void;
  error(error: Error): void;
}

const BAD_TARGET = /[^\x21-\x7e]/;

/** Bytes a body holds for a reader that has not come yet before its connection stops reading. */
const UNREAD_LIMIT_BYTES = 1024 * 1024;

/**
 * A response's body. It is read from the moment its head arrives, so its connection frees for the next request as
 * soon as the body has ended, whoever reads it a few microtasks later; past UNREAD_LIMIT_BYTES unread, or while its
 * reader pauses, the connection stops reading.
 */
export class ResponseBody {
  ended = false;
  failure: Error | undefined;
  #chunks: Buffer[] = [];
  #unreadBytes = 0;
  #reader: BodyReader | undefined;
  #paused = false;
  /** The connection stopped reading for the unread bytes (not for the reader's pause). */
  #heldUnread = false;
  #settled = false;
  readonly #connection: Connection;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /** Hands reader every chunk, the ones already read first; then the end or the failure. */
  read(reader: BodyReader): void {
    this.#reader = reader;
    this.#deliver();
  }

  /** The reader wants no chunk until resume(). */
  pause(): void {
    this.#paused = true;
    this.#connection.pauseReading(this);
  }

  resume(): void {
    this.#paused = false;
    this.#deliver();
    if (!this.#paused) this.#connection.resumeReading(this);
  }

  /** Reads the rest and drops it: the connection is kept for the next request. */
  discard(): void {
    this.read({ data() {}, end() {}, error() {} });
  }

  /** Stops reading: the connection, unless the body had ended, is closed. */
  destroy(error?: Error): void {
    if (!this.ended && this.failure === undefined) {
      this.failure = error ?? new Error('the body was abandoned');
      this.#connection.destroy(this.failure);
    }
    this.#chunks = [];
    this.#settled = true;
  }

  /** From the connection. */
  push(chunk: Buffer): void {
    if (this.#settled) return;
    if (this.#reader !== undefined && !this.#paused && this.#chunks.length === 0) {
      this.#reader.data(chunk);
      return;
    }
    this.#chunks.push(chunk);
    this.#unreadBytes += chunk.length;
    if (this.#unreadBytes > UNREAD_LIMIT_BYTES && !this.#heldUnread) {
      this.#heldUnread = true;
      this.#connection.pauseReading(this);
    }
  }

  /** From the connection. */
  finish(error?: Error): void {
    if (this.ended || this.failure !== undefined) return;
    if (error === undefined) this.ended = true;
    else this.failure = error;
    this.#deliver();
  }

  #deliver(): void {
    const reader = this.#reader;
    if (reader === undefined || this.#settled) return;
    while (this.#chunks.length > 0 && !this.#paused) {
      const chunk = this.#chunks.shift()!;
      this.#unreadBytes -= chunk.length;
      reader.data(chunk);
      if (this.#settled) return;
    }
    if (this.#heldUnread && !this.#paused) {
      this.#heldUnread = false;
      this.#connection.resumeReading(this);
    }
    if (this.#chunks.length > 0 || this.#paused) return;
    if (this.ended) {
      this.#settled = true;
      reader.end();
    } else if (this.failure !== undefined) {
      this.#settled = true;
      reader.error(this.failure);
    }
  }
}

/** One request: queued, then on a connection until its response's body has ended. */
export class Exchange {
  /** Set by the pool when the request is written to a connection. */
  connection: Connection | undefined;
  /** Its response's head or its failure has been told. */
  done = false;
  /** A response byte has arrived: a failure from here on is the response's, not a stale connection's. */
  answered = false;
  /** It went out on a kept-alive connection, which the server may have closed meanwhile. */
  reused = false;
  /** Sent again once already after its kept-alive connection was found closed. */
  retried = false;
  readonly requestHead: string;
  readonly events: ExchangeEvents;
  readonly #pool: OriginPool;

  constructor(pool: OriginPool, requestHead: string, events: ExchangeEvents) {
    this.#pool = pool;
    this.requestHead = requestHead;
    this.events = events;
    tell('created', this);
  }

  /** Ends the request wherever it is: dropped from the queue, or its connection closed (its body with it). */
  destroy(error: Error): void {
    if (this.connection?.exchange === this) this.connection.destroy(error);
    else if (this.connection === undefined && !this.done) {
      this.#pool.unqueue(this);
      this.fail(error);
    }
  }

  fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.events.error(error);
  }
}

/** One socket and its parser; carries one exchange at a time. */
class Connection {
  readonly socket: Socket;
  exchange: Exchange | undefined;
  #body: ResponseBody | undefined;
  /** The current response has ended; the connection goes back to the pool after the read that ended it. */
  #ended = false;
  #keepAlive = false;
  #closed = false;
  readonly #parser: ResponseParser;
  readonly #pool: OriginPool;

  constructor(pool: OriginPool, socket: Socket) {
    this.#pool = pool;
    this.socket = socket;
    this.#parser = new ResponseParser({
      head: (head) => this.#onHead(head),
      body: (chunk) => this.#body?.push(chunk),
      end: () => {
        this.#ended = true;
      },
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (error: Error) => this.destroy(error));
    socket.on('close', () => this.destroy(closedError()));
  }

  send(exchange: Exchange): void {
    this.exchange = exchange;
    exchange.connection = this;
    this.#ended = false;
    this.#body = undefined;
    this.#parser.expectNext();
    this.socket.ref();
    exchange.events.connection(this.socket, this.socket.connecting);
    if (exchange.done) return;
    if (!exchange.reused) return this.#write(exchange);
    // On a kept-alive connection, usually freed by the response just read: written after this turn's reads, not
    // inside them. Written at once, a crawl at 5 connections and 50 ms spent 22.73–23.55 s against its server's
    // 22.49–22.84 with node:http, and its requests reached the server later (bench/gaps: 2.0 s summed from write to
    // arrival, against 0.65 s when the write waited); written here, 22.45–22.57 s.
    setImmediate(() => {
      if (this.exchange === exchange && !this.#closed) this.#write(exchange);
    });
  }

  #write(exchange: Exchange): void {
    this.socket.write(exchange.requestHead, 'latin1');
    tell('sent', exchange, this.socket);
  }

  /** For the body being read now only: a body that has ended no longer speaks for its connection. */
  pauseReading(body: ResponseBody): void {
    if (!this.#closed && body === this.#body) this.socket.pause();
  }

  resumeReading(body: ResponseBody): void {
    if (!this.#closed && body === this.#body) this.socket.resume();
  }

  /** Closes the connection; an exchange or body still on it fails with error. */
  destroy(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.socket.destroy();
    this.#pool.forget(this);
    const exchange = this.exchange;
    this.exchange = undefined;
    if (this.#body !== undefined) this.#body.finish(error);
    else if (exchange !== undefined) {
      // A kept-alive connection the server closed as the request went out: once more on a new connection.
      if (exchange.reused && !exchange.retried && !exchange.answered && isStaleConnectionError(error)) this.#pool.retry(exchange);
      else exchange.fail(error);
    }
  }

  #onData(chunk: Buffer): void {
    if (this.exchange === undefined) return this.destroy(new Error('the server sent bytes nobody asked for'));
    this.exchange.answered = true;
    try {
      this.#parser.execute(chunk);
    } catch (error) {
      return this.destroy(error as Error);
    }
    if (this.#ended) this.#release();
  }

  /** The server closed its side: a body read until the close ends; whatever else is unfinished was cut short. */
  #onEnd(): void {
    this.#parser.finish();
    if (this.#ended) this.#release();
    this.destroy(closedError());
  }

  #onHead(head: ResponseHead): void {
    const exchange = this.exchange!;
    this.#keepAlive = head.keepAlive;
    this.#body = new ResponseBody(this);
    exchange.done = true;
    tell('head', exchange);
    exchange.events.response(head, this.#body);
  }

  /** The response has ended: its body is told, and the connection carries the next request or waits for one. */
  #release(): void {
    this.#ended = false;
    const body = this.#body;
    this.#body = undefined;
    if (this.exchange !== undefined) tell('ended', this.exchange);
    this.exchange = undefined;
    body?.finish();
    if (this.#closed) return;
    if (!this.#keepAlive) return this.destroy(closedError());
    this.socket.resume();
    this.#pool.free(this);
  }
}

function closedError(): Error {
  return Object.assign(new Error('the connection closed before the response ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

function isStaleConnectionError(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/** The connections to one origin and the requests waiting for one. */
class OriginPool {
  readonly #connections = new Set<Connection>();
  readonly #idle: Connection[] = [];
  readonly #queue: Exchange[] = [];
  #closed = false;
  readonly #connect: () => Socket;
  readonly #limit: number;

  constructor(connect: () => Socket, limit: number) {
    this.#connect = connect;
    this.#limit = limit;
  }

  request(requestHead: string, events: ExchangeEvents): Exchange {
    const exchange = new Exchange(this, requestHead, events);
    this.#queue.push(exchange);
    this.#dispatch();
    return exchange;
  }

  /** A request whose kept-alive connection was gone before any answer: first in line again, once. */
  retry(exchange: Exchange): void {
    exchange.retried = true;
    exchange.connection = undefined;
    this.#queue.unshift(exchange);
    this.#dispatch();
  }

  unqueue(exchange: Exchange): void {
    const at = this.#queue.indexOf(exchange);
    if (at !== -1) this.#queue.splice(at, 1);
  }

  free(connection: Connection): void {
    connection.socket.unref(); // an idle connection keeps no process alive
    this.#idle.push(connection);
    this.#dispatch();
  }

  forget(connection: Connection): void {
    const at = this.#idle.indexOf(connection);
    if (at !== -1) this.#idle.splice(at, 1);
    this.#connections.delete(connection);
    if (!this.#closed) this.#dispatch();
  }

  /** Ends every connection, and every request still queued or in flight with it. */
  close(): void {
    this.#closed = true;
    const error = Object.assign(new Error('the connection pool was closed'), { code: 'ERR_POOL_CLOSED' });
    for (const exchange of this.#queue.splice(0)) exchange.fail(error);
    for (const connection of [...this.#connections]) connection.destroy(error);
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      // The connection idle longest first (the order node:http's agent used with scheduling 'fifo').
      const idle = this.#idle.shift();
      if (idle !== undefined) {
        const exchange = this.#queue.shift()!;
        exchange.reused = true;
        idle.send(exchange);
        continue;
      }
      if (this.#connections.size >= this.#limit) return;
      const connection = new Connection(this, this.#connect());
      this.#connections.add(connection);
      connection.send(this.#queue.shift()!);
    }
  }
}

/** Every origin's pool; one for a crawl. */
export class ConnectionPool {
  readonly #origins = new Map<string, OriginPool>();
  readonly #options: PoolOptions;

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /**
   * Sends GET url with headers (lower-case names). Host is the URL's unless headers name one (as node:http did);
   * Connection is always keep-alive. Throws at a header that cannot be sent.
   */
  get(url: URL, headers: Record<string, string>, events: ExchangeEvents): Exchange {
    const target = `${url.pathname}${url.search}`;
    if (BAD_TARGET.test(target)) throw Object.assign(new TypeError(`the request target ${JSON.stringify(target)} holds characters that cannot be sent`), { code: 'ERR_UNESCAPED_CHARACTERS' });
    let head = `GET ${target} HTTP/1.1\r\n`;
    if (headers.host === undefined) head += `host: ${url.host}\r\n`;
    for (const name in headers) {
      const value = headers[name]!;
      if (!TOKEN.test(name)) throw Object.assign(new TypeError(`the header name ${JSON.stringify(name)} is not a token`), { code: 'ERR_INVALID_HTTP_TOKEN' });
      if (BAD_FIELD_VALUE.test(value)) throw Object.assign(new TypeError(`the value of header ${name} holds a control character or one past Latin-1`), { code: 'ERR_INVALID_CHAR' });
      if (name === 'connection') continue;
      head += `${name}: ${value}\r\n`;
    }
    head += 'connection: keep-alive\r\n\r\n';
    return this.#originPool(url).request(head, events);
  }

  /** Closes every connection; requests still queued or in flight fail. */
  close(): void {
    for (const pool of this.#origins.values()) pool.close();
    this.#origins.clear();
  }

  #originPool(url: URL): OriginPool {
    const secure = url.protocol === 'https:';
    const key = `${url.protocol}//${url.host}`;
    let pool = this.#origins.get(key);
    if (pool === undefined) {
      const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      const port = Number(url.port || (secure ? 443 : 80));
      const rejectUnauthorized = this.#options.checkCertificates;
      const connect = secure
        ? () => lazyTls().connect({ host, port, servername: isIP(host) === 0 ? host : undefined, rejectUnauthorized, ALPNProtocols: ['http/1.1'] })
        : () => connectTcp({ host, port });
      pool = new OriginPool(connect, this.#options.connectionsPerOrigin);
      this.#origins.set(key, pool);
    }
    return pool;
  }
}
