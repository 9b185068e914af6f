// HTTP/1.1 responses read off a connection's bytes (RFC 9112): the status line and headers, then the body framed by
// Content-Length, chunked coding or the connection's close. Strict where a lax reading could mis-frame a body (a
// bad length, a bad chunk size, a header that is not a header); pure: it is handed bytes and tells what they are.

/** A malformed response: the connection is not usable past it (the code names the fault, as llhttp's do). */
export class ResponseParseError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(`malformed HTTP response: ${message}`);
    this.name = 'ResponseParseError';
    this.code = code;
  }
}

export interface ResponseHead {
  statusCode: number;
  /** HTTP/1.0 or 1.1. */
  minorVersion: number;
  /**
   * Lower-case names; a repeated header is an array of its values in order (node's own map keeps only the first of
   * some). Bytes are read as Latin-1, as node:http reads them.
   */
  headers: Record<string, string | string[]>;
  /** The connection may carry another request once this response has ended. */
  keepAlive: boolean;
}

export interface ResponseEvents {
  /** A final (non-1xx) response's head; informational responses are skipped. */
  head(head: ResponseHead): void;
  body(chunk: Buffer): void;
  /** The response's body has ended; bytes after it belong to no request. */
  end(): void;
}

/** At most this much status line and headers (node:http's default is 16 KiB; browsers take more). */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE_BYTES = 4096;
/** A header name (RFC 9110 §5.6.2), whether read here or sent by http1.ts. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * A character no field value may hold, read or sent: only visible characters, obs-text, spaces and tabs may (RFC 9110
 * §5.5), so a bare CR or NUL is refused, and so is anything past Latin-1, which node:http refused to send too.
 */
export const BAD_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([0-9]{3})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;.*)?$/;

const enum State {
  Head,
  Sized,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
  Done,
}

/** One connection's responses, one after another: feed it what the socket reads, and finish() at the socket's end. */
export class ResponseParser {
  #state = State.Head;
  /** Bytes of a line or head not yet complete, carried to the next chunk. */
  #pending: Buffer | undefined;
  #remaining = 0;
  readonly #events: ResponseEvents;

  constructor(events: ResponseEvents) {
    this.#events = events;
  }

  /** The next response is expected (after end(), before the connection's next request is written). */
  expectNext(): void {
    this.#state = State.Head;
    this.#pending = undefined;
  }

  /** Reads chunk; throws ResponseParseError at a malformed byte, and at any byte after a response's end. */
  execute(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      switch (this.#state) {
        case State.Head:
          at = this.#head(chunk, at);
          break;
        case State.Sized:
          at = this.#bodyBytes(chunk, at);
          if (this.#remaining === 0) this.#finishMessage();
          break;
        case State.ChunkSize:
        case State.ChunkEnd:
        case State.Trailers:
          at = this.#chunkLine(chunk, at);
          break;
        case State.ChunkData:
          at = this.#bodyBytes(chunk, at);
          if (this.#remaining === 0) this.#state = State.ChunkEnd;
          break;
        case State.UntilClose:
          this.#events.body(at === 0 ? chunk : chunk.subarray(at));
          at = chunk.length;
          break;
        case State.Done:
          throw new ResponseParseError('HPE_UNEXPECTED_DATA', 'bytes after the end of a response');
      }
    }
  }

  /** The connection ended: a body read until the close ends here (anything else unfinished was cut short). */
  finish(): void {
    if (this.#state === State.UntilClose) this.#finishMessage();
  }

  /** Tells the body's bytes in chunk from `at`, up to the #remaining of a length or a chunk; returns where they end. */
  #bodyBytes(chunk: Buffer, at: number): number {
    const take = Math.min(this.#remaining, chunk.length - at);
    this.#remaining -= take;
    this.#events.body(at === 0 && take === chunk.length ? chunk : chunk.subarray(at, at + take));
    return at + take;
  }

  #finishMessage(): void {
    this.#state = State.Done;
    this.#events.end();
  }

  /** Collects the head up to its empty line; returns where reading goes on in chunk. */
  #head(chunk: Buffer, at: number): number {
    const pendingLength = this.#pending?.length ?? 0;
    const bytes = this.#pending === undefined ? (at === 0 ? chunk : chunk.subarray(at)) : Buffer.concat([this.#pending, chunk.subarray(at)]);
    // The head ends at the first empty line: LF LF or LF CR LF (a bare LF ends a line, as browsers read it).
    let end = -1;
    let from = Math.max(0, pendingLength - 2);
    for (let lf = bytes.indexOf(0x0a, from); lf !== -1; lf = bytes.indexOf(0x0a, from)) {
      const next = bytes[lf + 1];
      if (next === 0x0a) {
        end = lf + 2;
        break;
      }
      if (next === 0x0d && bytes[lf + 2] === 0x0a) {
        end = lf + 3;
        break;
      }
      from = lf + 1;
    }
    if (end === -1) {
      if (bytes.length > MAX_HEAD_BYTES) throw new ResponseParseError('HPE_HEADER_OVERFLOW', `headers over ${MAX_HEAD_BYTES} bytes`);
      this.#pending = Buffer.from(bytes); // a copy: the socket's chunk may be reused
      return chunk.length;
    }
    if (end > MAX_HEAD_BYTES) throw new ResponseParseError('HPE_HEADER_OVERFLOW', `headers over ${MAX_HEAD_BYTES} bytes`);
    this.#pending = undefined;
    this.#startMessage(bytes.toString('latin1', 0, end));
    return at + end - pendingLength;
  }

  #startMessage(text: string): void {
    // Leading empty lines before a status line are tolerated (RFC 9112 §2.2).
    let at = 0;
    while (text.charCodeAt(at) === 0x0d || text.charCodeAt(at) === 0x0a) at++;
    const statusLine = lineAt(text, at);
    const status = STATUS_LINE.exec(statusLine);
    if (status === null) throw new ResponseParseError('HPE_INVALID_CONSTANT', `status line ${JSON.stringify(statusLine.slice(0, 80))}`);
    const statusCode = Number(status[2]);
    const minorVersion = Number(status[1]);
    // No prototype: a header named __proto__ or constructor is a header like any other.
    const headers: Record<string, string | string[]> = Object.create(null);
    let last: string | undefined;
    for (at = text.indexOf('\n', at) + 1; at < text.length; at = text.indexOf('\n', at) + 1) {
      const line = lineAt(text, at);
      if (line === '') break;
      const first = line.charCodeAt(0);
      if (first === 0x20 || first === 0x09) {
        // obs-fold: a continuation of the previous value, read as one space (RFC 9112 §5.2).
        if (last === undefined) throw new ResponseParseError('HPE_INVALID_HEADER_TOKEN', 'a folded line before any header');
        const more = trimSpaces(line);
        if (BAD_FIELD_VALUE.test(more)) throw new ResponseParseError('HPE_INVALID_HEADER_TOKEN', `a control character in ${last}`);
        const known = headers[last]!;
        const join = (value: string): string => (value === '' ? more : `${value} ${more}`);
        if (typeof known === 'string') headers[last] = join(known);
        else known[known.length - 1] = join(known[known.length - 1]!);
        continue;
      }
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!TOKEN.test(name)) throw new ResponseParseError('HPE_INVALID_HEADER_TOKEN', `header line ${JSON.stringify(line.slice(0, 80))}`);
      const value = trimSpaces(line.slice(colon + 1));
      if (BAD_FIELD_VALUE.test(value)) throw new ResponseParseError('HPE_INVALID_HEADER_TOKEN', `a control character in ${name}`);
      last = name.toLowerCase();
      const known = headers[last];
      if (known === undefined) headers[last] = value;
      else if (typeof known === 'string') headers[last] = [known, value];
      else known.push(value);
    }
    if (statusCode < 200) {
      // 1xx: informational, another head follows (101 would switch protocols, which no request here asks for).
      if (statusCode === 101) throw new ResponseParseError('HPE_UNEXPECTED_UPGRADE', 'a 101 Switching Protocols nobody asked for');
      return;
    }
    this.#frame(statusCode, minorVersion, headers);
  }

  /** How the body is delimited (RFC 9112 §6.3), then the head is told. */
  #frame(statusCode: number, minorVersion: number, headers: Record<string, string | string[]>): void {
    const transferEncoding = listOf(headers['transfer-encoding']);
    const transferEncoded = transferEncoding !== undefined;
    const codings = transferEncoding?.toLowerCase().split(',');
    const chunked = codings !== undefined && codings[codings.length - 1]!.trim() === 'chunked';
    let length: number | undefined;
    const contentLength = listOf(headers['content-length']);
    if (contentLength !== undefined) {
      // One value, or a list of one value repeated (RFC 9110 §8.6); anything else could mis-frame the body.
      for (const part of contentLength.split(',')) {
        const digits = part.trim();
        if (!/^[0-9]{1,15}$/.test(digits)) throw new ResponseParseError('HPE_INVALID_CONTENT_LENGTH', `Content-Length ${JSON.stringify(contentLength.slice(0, 40))}`);
        if (length !== undefined && Number(digits) !== length) throw new ResponseParseError('HPE_UNEXPECTED_CONTENT_LENGTH', 'conflicting Content-Length values');
        length = Number(digits);
      }
    }
    const connection = listOf(headers.connection);
    const tokens = connection === undefined ? [] : connection.toLowerCase().split(',').map((token) => token.trim());
    let keepAlive = minorVersion === 1 ? !tokens.includes('close') : tokens.includes('keep-alive');
    const events = this.#events;
    if (statusCode === 204 || statusCode === 304) {
      events.head({ statusCode, minorVersion, headers, keepAlive });
      this.#finishMessage();
      return;
    }
    if (transferEncoded) {
      // Transfer-Encoding overrides Content-Length; a sender of both is not trusted with the connection again.
      if (length !== undefined || !chunked) keepAlive = false;
      events.head({ statusCode, minorVersion, headers, keepAlive });
      this.#state = chunked ? State.ChunkSize : State.UntilClose;
      return;
    }
    if (length === undefined) {
      events.head({ statusCode, minorVersion, headers, keepAlive: false });
      this.#state = State.UntilClose;
      return;
    }
    events.head({ statusCode, minorVersion, headers, keepAlive });
    if (length === 0) this.#finishMessage();
    else {
      this.#remaining = length;
      this.#state = State.Sized;
    }
  }

  /** A chunk-size line, the CRLF after a chunk's data, or a trailer line; returns where reading goes on. */
  #chunkLine(chunk: Buffer, at: number): number {
    const lf = chunk.indexOf(0x0a, at);
    if (lf === -1) {
      const rest = chunk.subarray(at);
      this.#pending = this.#pending === undefined ? Buffer.from(rest) : Buffer.concat([this.#pending, rest]);
      if (this.#pending.length > MAX_CHUNK_LINE_BYTES && this.#state !== State.Trailers) throw new ResponseParseError('HPE_INVALID_CHUNK_SIZE', 'a chunk line too long');
      if (this.#pending.length > MAX_HEAD_BYTES) throw new ResponseParseError('HPE_HEADER_OVERFLOW', 'trailers too long');
      return chunk.length;
    }
    let line = chunk.toString('latin1', at, lf);
    if (this.#pending !== undefined) {
      line = this.#pending.toString('latin1') + line;
      this.#pending = undefined;
    }
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (this.#state === State.ChunkEnd) {
      if (line !== '') throw new ResponseParseError('HPE_STRICT', 'chunk data longer than its size');
      this.#state = State.ChunkSize;
    } else if (this.#state === State.ChunkSize) {
      const size = CHUNK_SIZE.exec(line);
      if (size === null) throw new ResponseParseError('HPE_INVALID_CHUNK_SIZE', `chunk size ${JSON.stringify(line.slice(0, 40))}`);
      this.#remaining = parseInt(size[1]!, 16);
      this.#state = this.#remaining === 0 ? State.Trailers : State.ChunkData;
    } else if (line === '') {
      this.#finishMessage(); // the empty line after the trailers (which are read and dropped)
    }
    return lf + 1;
  }
}

/** The line that starts at `at`, without its line end. */
function lineAt(text: string, at: number): string {
  const lf = text.indexOf('\n', at);
  const end = lf === -1 ? text.length : lf;
  return text.charCodeAt(end - 1) === 0x0d ? text.slice(at, end - 1) : text.slice(at, end);
}

/** Without leading and trailing spaces and tabs, the only white space a field value may be padded with (obs-text stays). */
function trimSpaces(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** A repeated header's values as one comma-separated list (RFC 9110 §5.3). */
function listOf(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' || value === undefined ? value : value.join(',');
}
