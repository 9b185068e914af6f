// The HTTP/1.1 response parser (pure, fed bytes split anywhere) and the connection pool against raw TCP servers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ResponseParser, ResponseParseError, MAX_HEAD_BYTES, type ResponseHead } from '../src/http1-parser.js';
import { ConnectionPool, type ResponseBody } from '../src/http1.js';
import { HttpFetcher, type FetcherOptions } from '../src/fetch.js';
import { SitemirrorError } from '../src/errors.js';
import { startRawServer } from './support/raw-server.js';

interface Parsed {
  heads: ResponseHead[];
  bodies: Buffer[];
}

/** Feeds bytes to one parser in the given pieces, and finish() at the end when closeAtEnd; expectNext after each response unless once. */
function parse(pieces: Buffer[], closeAtEnd = false, once = false): Parsed {
  const heads: ResponseHead[] = [];
  const bodies: Buffer[] = [];
  let chunks: Buffer[] = [];
  const parser = new ResponseParser({
    head: (head) => heads.push(head),
    body: (chunk) => chunks.push(Buffer.from(chunk)),
    end: () => {
      bodies.push(Buffer.concat(chunks));
      chunks = [];
      if (!once) parser.expectNext();
    },
  });
  for (const piece of pieces) parser.execute(piece);
  if (closeAtEnd) parser.finish();
  return { heads, bodies };
}

/** bytes cut at the given offsets. */
function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => Math.min(cut, bytes.length)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(bytes.subarray(from, point));
    from = point;
  }
  pieces.push(bytes.subarray(from));
  return pieces.filter((piece) => piece.length > 0);
}

function chunked(body: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= body.length) break;
    const part = body.subarray(at, at + Math.max(1, size));
    parts.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n'));
    at += part.length;
  }
  if (at < body.length) parts.push(Buffer.from(`${(body.length - at).toString(16)}\r\n`), body.subarray(at), Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

function refuses(text: string, code: string): void {
  assert.throws(() => parse([Buffer.from(text, 'latin1')], false, true), (error: unknown) => error instanceof ResponseParseError && error.code === code, `${JSON.stringify(text)} should fail with ${code}`);
}

describe('ResponseParser', () => {
  it('reads a Content-Length response, its header names in lower case and Latin-1 bytes kept', () => {
    const { heads, bodies } = parse([Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Name: caf\xe9\r\nContent-Length: 5\r\n\r\nhello', 'latin1')]);
    assert.deepEqual(heads, [{ statusCode: 200, minorVersion: 1, headers: Object.assign(Object.create(null), { 'content-type': 'text/plain', 'x-name': 'caf\xe9', 'content-length': '5' }), keepAlive: true }]);
    assert.deepEqual(bodies.map(String), ['hello']);
  });

  it('reads a chunked body with extensions and trailers, and the next response after it', () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;name=x\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n';
    const { heads, bodies } = parse([Buffer.from(text + 'HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno')]);
    assert.deepEqual(heads.map((head) => head.statusCode), [200, 404]);
    assert.deepEqual(bodies.map(String), ['abcde', 'no']);
  });

  it('reads a body without length until the connection closes, and keeps no such connection', () => {
    const { heads, bodies } = parse([Buffer.from('HTTP/1.1 200 OK\r\n\r\nto the '), Buffer.from('end')], true);
    assert.equal(heads[0]!.keepAlive, false);
    assert.deepEqual(bodies.map(String), ['to the end']);
  });

  it('skips 100 and 103 responses and tells the final one', () => {
    const { heads, bodies } = parse([Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')]);
    assert.deepEqual(heads.map((head) => head.statusCode), [200]);
    assert.deepEqual(bodies.map(String), ['ok']);
  });

  it('gives 204 and 304 no body, whatever Content-Length says', () => {
    const { heads, bodies } = parse([Buffer.from('HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n')]);
    assert.deepEqual(heads.map((head) => head.statusCode), [304, 204]);
    assert.deepEqual(bodies.map(String), ['', '']);
  });

  it('keeps a connection only as its version and Connection header allow', () => {
    const keepAlive = (text: string): boolean => parse([Buffer.from(text)]).heads[0]!.keepAlive;
    assert.equal(keepAlive('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), true);
    assert.equal(keepAlive('HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n'), false);
    assert.equal(keepAlive('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n'), false);
    assert.equal(keepAlive('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n'), true);
    // Both framings: chunked wins, and the sender is not trusted with the connection again.
    assert.equal(keepAlive('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), false);
  });

  it('joins a folded header line with one space, and takes bare LF line ends', () => {
    const { heads, bodies } = parse([Buffer.from('HTTP/1.1 200 OK\nX-Long: one\n  two\nContent-Length: 1\n\nz')]);
    assert.deepEqual({ ...heads[0]!.headers }, { 'x-long': 'one two', 'content-length': '1' });
    assert.deepEqual(bodies.map(String), ['z']);
  });

  it('takes a Content-Length repeated with one value, and refuses one that could mis-frame the body', () => {
    assert.deepEqual(parse([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok')]).bodies.map(String), ['ok']);
    refuses('HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH');
    refuses('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH');
    refuses('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 'HPE_UNEXPECTED_CONTENT_LENGTH');
  });

  it('refuses a malformed status line, header, chunk size or chunk', () => {
    refuses('HTTP/2 200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT');
    refuses('<html>hello</html>\r\n\r\n', 'HPE_INVALID_CONSTANT');
    refuses('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN');
    refuses('HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN');
    refuses('HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN');
    refuses('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'HPE_INVALID_CHUNK_SIZE');
    refuses('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', 'HPE_STRICT');
    refuses('HTTP/1.1 101 Switching Protocols\r\n\r\n', 'HPE_UNEXPECTED_UPGRADE');
    refuses(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`, 'HPE_HEADER_OVERFLOW');
    refuses('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA', 'HPE_UNEXPECTED_DATA');
  });

  it('reads the same response however its bytes are split (property)', () => {
    const header = fc.tuple(fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/), fc.stringMatching(/^[ -~\x80-\xff]{0,30}$/).map((value) => value.replace(/^[ \t]+|[ \t]+$/g, '')));
    fc.assert(
      fc.property(
        fc.integer({ min: 200, max: 599 }).filter((status) => status !== 204 && status !== 304),
        fc.array(header, { maxLength: 6 }),
        fc.boolean(),
        fc.uint8Array({ maxLength: 3000 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 900 }), { maxLength: 8 }),
        fc.array(fc.nat(4000), { maxLength: 12 }),
        (status, headers, bareLineEnds, bodyBytes, useChunks, chunkSizes, cuts) => {
          const body = Buffer.from(bodyBytes);
          const framing = useChunks ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
          const eol = bareLineEnds ? '\n' : '\r\n';
          const head = `HTTP/1.1 ${status} Whatever${eol}${headers.map(([name, value]) => `${name}:  ${value}${eol}`).join('')}${framing}${eol}${eol}`;
          const bytes = Buffer.concat([Buffer.from(head, 'latin1'), useChunks ? chunked(body, chunkSizes) : body]);
          const parsed = parse(splitAt(bytes, cuts));
          assert.equal(parsed.heads.length, 1);
          assert.equal(parsed.heads[0]!.statusCode, status);
          // Repeated names (in any case) gather their values in order.
          const expected: Record<string, string | string[]> = {};
          for (const [name, value] of headers) {
            const key = name.toLowerCase();
            const known = expected[key];
            expected[key] = known === undefined ? value : [known, value].flat();
          }
          expected[useChunks ? 'transfer-encoding' : 'content-length'] = useChunks ? 'chunked' : String(body.length);
          assert.deepEqual({ ...parsed.heads[0]!.headers }, expected);
          assert.equal(parsed.bodies.length, 1);
          assert.ok(parsed.bodies[0]!.equals(body));
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** GET url through pool; resolves with the status and body text. */
function get(pool: ConnectionPool, url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    pool.get(new URL(url), headers, {
      connection: () => undefined,
      response: (head, body: ResponseBody) => {
        const chunks: Buffer[] = [];
        body.read({ data: (chunk) => chunks.push(chunk), end: () => resolve({ status: head.statusCode, text: Buffer.concat(chunks).toString() }), error: reject });
      },
      error: reject,
    });
  });
}

describe('ConnectionPool', () => {
  it('holds at most the given connections to an origin, and answers queued requests in order', async () => {
    const raw = await startRawServer((socket, _n, head) => {
      const path = head.split(' ')[1]!;
      setTimeout(() => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${path.length}\r\n\r\n${path}`), 15);
    });
    const pool = new ConnectionPool({ connectionsPerOrigin: 2, checkCertificates: true });
    try {
      const order: string[] = [];
      const paths = Array.from({ length: 9 }, (_, i) => `/p${i}`);
      await Promise.all(paths.map((path) => get(pool, `${raw.origin}${path}`).then(({ text }) => order.push(text))));
      assert.deepEqual([...order].sort(), [...paths].sort());
      assert.equal(raw.connections(), 2);
      assert.equal(raw.mostAtOnce(), 2);
    } finally {
      pool.close();
      raw.close();
    }
  });

  it('sends Host, the given headers and keep-alive, and refuses a header that would split the request', async () => {
    const heads: string[] = [];
    const raw = await startRawServer((socket, _n, head) => {
      heads.push(head);
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    const pool = new ConnectionPool({ connectionsPerOrigin: 1, checkCertificates: true });
    try {
      await get(pool, `${raw.origin}/a%20b?q=1`, { 'user-agent': 'Bot/1', accept: '*/*' });
      assert.equal(heads[0], `GET /a%20b?q=1 HTTP/1.1\r\nhost: ${new URL(raw.origin).host}\r\nuser-agent: Bot/1\r\naccept: */*\r\nconnection: keep-alive`);
      // A Host given with the headers (--header) is sent instead of the URL's, as node:http did.
      await get(pool, `${raw.origin}/vhost`, { host: 'mirror.example' });
      assert.equal(heads[1], 'GET /vhost HTTP/1.1\r\nhost: mirror.example\r\nconnection: keep-alive');
      assert.throws(() => pool.get(new URL(`${raw.origin}/`), { 'x-evil': 'a\r\nInjected: yes' }, { connection() {}, response() {}, error() {} }), { code: 'ERR_INVALID_CHAR' });
      assert.throws(() => pool.get(new URL(`${raw.origin}/`), { 'bad name': 'x' }, { connection() {}, response() {}, error() {} }), { code: 'ERR_INVALID_HTTP_TOKEN' });
      assert.equal(heads.length, 2);
    } finally {
      pool.close();
      raw.close();
    }
  });

  it('sends a request once more on a new connection when its kept-alive one was closed before any answer', async () => {
    const raw = await startRawServer((socket, requestOnConnection) => {
      // The second request on a connection finds it closing, as when a server's idle timeout meets a new request.
      if (requestOnConnection === 2) return socket.destroy();
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const pool = new ConnectionPool({ connectionsPerOrigin: 1, checkCertificates: true });
    try {
      assert.deepEqual(await get(pool, `${raw.origin}/1`), { status: 200, text: 'ok' });
      assert.deepEqual(await get(pool, `${raw.origin}/2`), { status: 200, text: 'ok' });
      assert.equal(raw.connections(), 2);
    } finally {
      pool.close();
      raw.close();
    }
  });

  it('closes a connection whose response said Connection: close, and opens another for the next request', async () => {
    const raw = await startRawServer((socket) => socket.write('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok'));
    const pool = new ConnectionPool({ connectionsPerOrigin: 1, checkCertificates: true });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await get(pool, `${raw.origin}/${i}`)).text, 'ok');
      assert.equal(raw.connections(), 3);
    } finally {
      pool.close();
      raw.close();
    }
  });

  it('reads on once a late reader takes a body that piled up past the unread limit', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'v');
    const raw = await startRawServer((socket) => socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`), big])));
    const pool = new ConnectionPool({ connectionsPerOrigin: 1, checkCertificates: true });
    try {
      // A connection that never read on would leave the read hanging: it fails after 5 s instead.
      let stall: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_resolve, reject) => (stall = setTimeout(() => reject(new Error('the body stopped being read')), 5000)));
      const read = new Promise<number>((resolve, reject) => {
        pool.get(new URL(`${raw.origin}/big`), {}, {
          connection: () => undefined,
          // The reader comes only after the body has had time to fill the unread buffer and stop the socket.
          response: (_head, body) => setTimeout(() => {
            let length = 0;
            body.read({ data: (chunk) => (length += chunk.length), end: () => resolve(length), error: reject });
          }, 200),
          error: reject,
        });
      });
      const bytes = await Promise.race([read, stalled]).finally(() => clearTimeout(stall));
      assert.equal(bytes, big.length);
    } finally {
      pool.close();
      raw.close();
    }
  });

  it('ends a request in flight and one still queued when the pool is closed', async () => {
    const raw = await startRawServer(() => undefined); // never answers
    const pool = new ConnectionPool({ connectionsPerOrigin: 1, checkCertificates: true });
    try {
      const inFlight = get(pool, `${raw.origin}/a`);
      const queued = get(pool, `${raw.origin}/b`);
      while (raw.connections() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      pool.close();
      for (const request of [inFlight, queued]) await assert.rejects(request, { code: 'ERR_POOL_CLOSED' });
    } finally {
      raw.close();
    }
  });
});

describe('HttpFetcher over malformed responses', () => {
  const OPTIONS: FetcherOptions = { userAgent: 'sitemirror-test/1', headers: {}, connectTimeoutMs: 1000, readTimeoutMs: 1000, maxRedirects: 10, maxBytes: Infinity };

  it('fails a response with a bad Content-Length or chunk size as NETWORK, not retryable, and goes on with the next', async () => {
    const raw = await startRawServer((socket, _n, head) => {
      const path = head.split(' ')[1]!;
      if (path === '/bad-length') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\nabc');
      else if (path === '/bad-chunk') socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nnope\r\n');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\nfine');
    });
    const fetcher = new HttpFetcher(OPTIONS);
    try {
      for (const path of ['/bad-length', '/bad-chunk']) {
        const error = await fetcher.fetch(`${raw.origin}${path}`).then(() => assert.fail('expected a failure'), (caught: unknown) => caught);
        assert.ok(error instanceof SitemirrorError);
        assert.equal(error.code, 'NETWORK');
        assert.equal(error.retryable, false);
        assert.match(error.message, /malformed HTTP response/);
      }
      assert.equal((await fetcher.fetch(`${raw.origin}/good`)).body.toString(), 'fine');
    } finally {
      await fetcher.close();
      raw.close();
    }
  });
});
