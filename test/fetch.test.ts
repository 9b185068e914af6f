import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import zlib from 'node:zlib';
import { HttpFetcher, HttpResponseError, parseContentType, parseRetryAfter, withRetries, type FetcherOptions } from '../src/fetch.js';
import { HttpStatusError, SitemirrorError } from '../src/errors.js';
import { seedSiteHostnames } from '../src/scope.js';
import { startServer, serve, redirect, type FixtureServer } from './support/server.js';
import { startRawServer } from './support/raw-server.js';

const OPTIONS: FetcherOptions = { userAgent: 'sitemirror-test/1', headers: {}, connectTimeoutMs: 1000, readTimeoutMs: 1000, maxRedirects: 10, maxBytes: Infinity };

/** Asserts that `promise` rejects with a SitemirrorError of `code`, and returns it. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<SitemirrorError> {
  const error = await promise.then(() => assert.fail(`expected ${code}, got a result`), (caught: unknown) => caught);
  assert.ok(error instanceof SitemirrorError, `expected a SitemirrorError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return error;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, host = '127.0.0.1'): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  server.listen(0, host);
  await once(server, 'listening');
  return { server, origin: `http://${host}:${(server.address() as AddressInfo).port}` };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((done) => server.close(() => done()));
}

describe('HttpFetcher', () => {
  let site: FixtureServer;
  let fetcher: HttpFetcher;
  const text = 'héllo '.repeat(500);
  before(async () => {
    site = await startServer();
    fetcher = new HttpFetcher(OPTIONS);
  });
  after(async () => {
    await fetcher.close();
    await site.close();
  });

  describe('responses', () => {
    it('reads headers named like Object.prototype properties as plain headers', async () => {
      // A hostile server's header names must not reach an object's prototype.
      site.route('/proto-headers', (_req, res) => {
        res.writeHead(200, [['__proto__', 'x'], ['__proto__', 'y'], ['constructor', 'c'], ['Content-Type', 'text/plain']]);
        res.end('ok');
      });
      const page = await fetcher.fetch(`${site.origin}/proto-headers`);
      assert.equal(page.body.toString(), 'ok');
      assert.equal(page.headers.constructor, 'c');
      assert.equal(page.contentType, 'text/plain');
      assert.equal(Object.getPrototypeOf({}), Object.prototype);
    });

    it('reads a 200 with headers, media type and charset', async () => {
      site.route('/plain', (_req, res) => {
        res.writeHead(200, [['Content-Type', 'Text/HTML; Charset="ISO-8859-1"'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['X-Two', '1'], ['X-Two', '2']]);
        res.end('<p>hi</p>');
      });
      const page = await fetcher.fetch(`${site.origin}/plain#top`);
      assert.equal(page.status, 200);
      assert.equal(page.requestedUrl, `${site.origin}/plain#top`);
      assert.equal(page.finalUrl, `${site.origin}/plain`);
      assert.equal(page.contentType, 'text/html');
      assert.equal(page.charset, 'iso-8859-1');
      assert.equal(page.headers['set-cookie'], 'a=1\nb=2');
      assert.equal(page.headers['x-two'], '1, 2');
      assert.equal(page.body.toString(), '<p>hi</p>');
      assert.deepEqual(page.redirectChain, []);
      assert.equal(page.via, 'http');
      assert.equal(site.paths().at(-1), '/plain');
    });

    it('reports an empty media type when the origin sends none', async () => {
      site.route('/untyped', (_req, res) => void res.end('x'));
      const page = await fetcher.fetch(`${site.origin}/untyped`);
      assert.equal(page.contentType, '');
      assert.equal(page.charset, undefined);
    });

    const encodings: [string, Buffer][] = [
      ['gzip', zlib.gzipSync(text)],
      ['x-gzip', zlib.gzipSync(text)],
      ['deflate', zlib.deflateSync(text)],
      ['deflate', zlib.deflateRawSync(text)],
      ['br', zlib.brotliCompressSync(text)],
      ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(text))],
    ];
    for (const [index, [coding, body]] of encodings.entries()) {
      it(`decodes a ${coding} body (case ${index})`, async () => {
        site.route(`/encoded/${index}`, serve(body, 'text/plain; charset=utf-8', 200, { 'content-encoding': coding }));
        const page = await fetcher.fetch(`${site.origin}/encoded/${index}`);
        assert.equal(page.body.toString('utf8'), text);
        assert.equal(site.requests.at(-1)?.headers['accept-encoding'], 'gzip, deflate, br');
      });
    }

    it('keeps an empty gzip-labelled body empty', async () => {
      site.route('/empty-gzip', serve('', 'text/plain', 200, { 'content-encoding': 'gzip' }));
      assert.equal((await fetcher.fetch(`${site.origin}/empty-gzip`)).body.length, 0);
    });

    it('reports a corrupt gzip body as DECODE, not retryable', async () => {
      const corrupt = zlib.gzipSync(text);
      corrupt.fill(0xff, 12, 40);
      site.route('/corrupt', serve(corrupt, 'text/plain', 200, { 'content-encoding': 'gzip' }));
      const error = await rejectsWith(fetcher.fetch(`${site.origin}/corrupt`), 'DECODE');
      assert.equal(error.retryable, false);
      site.route('/truncated-br', serve(zlib.brotliCompressSync(text).subarray(0, 12), 'text/plain', 200, { 'content-encoding': 'br' }));
      await rejectsWith(fetcher.fetch(`${site.origin}/truncated-br`), 'DECODE');
    });

    it('throws HttpStatusError 404 carrying the error page', async () => {
      const error = await rejectsWith(fetcher.fetch(`${site.origin}/missing`), 'HTTP_STATUS');
      assert.ok(error instanceof HttpStatusError && error instanceof HttpResponseError);
      assert.equal(error.status, 404);
      assert.equal(error.retryable, false);
      assert.equal(error.body?.toString(), 'not found');
      assert.equal(error.headers['content-type'], 'text/plain');
    });

    it('turns an error page into a fetch result for --keep-error-pages (L-05)', async () => {
      site.route('/error-page-410', serve('<h1>Gone</h1>', 'text/html; charset=ISO-8859-1', 410));
      const error = await rejectsWith(fetcher.fetch(`${site.origin}/error-page-410`, { followRedirects: false }), 'HTTP_STATUS');
      assert.ok(error instanceof HttpResponseError);
      const page = error.asPageSource(`${site.origin}/error-page-410`);
      assert.deepEqual(
        { ...page, headers: undefined, body: page?.body.toString() },
        { requestedUrl: `${site.origin}/error-page-410`, finalUrl: `${site.origin}/error-page-410`, status: 410, headers: undefined, contentType: 'text/html', charset: 'iso-8859-1', body: '<h1>Gone</h1>', redirectChain: [], via: 'http' },
      );
      const unread = new HttpResponseError(500, `${site.origin}/x`, undefined, { headers: {}, body: undefined, redirectChain: [] });
      assert.equal(unread.asPageSource(`${site.origin}/x`), undefined);
    });

    it('reads Retry-After on a 503, as seconds and as an HTTP-date', async () => {
      site.route('/busy-seconds', serve('busy', 'text/plain', 503, { 'retry-after': '1' }));
      const seconds = await rejectsWith(fetcher.fetch(`${site.origin}/busy-seconds`), 'HTTP_STATUS');
      assert.ok(seconds instanceof HttpStatusError);
      assert.equal(seconds.retryAfterMs, 1000);
      assert.equal(seconds.retryable, true);
      site.route('/busy-date', serve('busy', 'text/plain', 503, { 'retry-after': new Date(Date.now() + 2000).toUTCString() }));
      const dated = await rejectsWith(fetcher.fetch(`${site.origin}/busy-date`), 'HTTP_STATUS');
      assert.ok(dated instanceof HttpStatusError && dated.retryAfterMs !== undefined);
      assert.ok(dated.retryAfterMs > 0 && dated.retryAfterMs <= 2000, String(dated.retryAfterMs));
    });

    it('resolves a conditional request answered 304 with status 304 and no body', async () => {
      site.route('/cached', (req, res) => {
        if (req.headers['if-none-match'] === '"v1"') res.writeHead(304, { etag: '"v1"' }).end();
        else res.writeHead(200, { etag: '"v1"' }).end('fresh');
      });
      const page = await fetcher.fetch(`${site.origin}/cached`, { headers: { 'If-None-Match': '"v1"' } });
      assert.equal(page.status, 304);
      assert.equal(page.body.length, 0);
      assert.equal(page.headers.etag, '"v1"');
    });

    it('sends the user agent, extra headers, the cookie and per-request headers', async () => {
      const custom = new HttpFetcher({ ...OPTIONS, userAgent: 'MirrorBot/2', headers: { 'X-Token': 'abc', Accept: 'text/html' }, cookie: 'session=42' });
      try {
        site.route('/headers', serve('ok'));
        await custom.fetch(`${site.origin}/headers`, { headers: { Referer: `${site.origin}/` } });
        const { headers } = site.requests.at(-1)!;
        assert.equal(headers['user-agent'], 'MirrorBot/2');
        assert.equal(headers['x-token'], 'abc');
        assert.equal(headers.accept, 'text/html');
        assert.equal(headers.cookie, 'session=42');
        assert.equal(headers.referer, `${site.origin}/`);
      } finally {
        await custom.close();
      }
    });
  });

  describe('redirects', () => {
    it('follows a chain and records every hop, relative Locations included', async () => {
      site.route('/chain/a', redirect('/chain/b', 301));
      site.route('/chain/b', redirect(`${site.origin}/chain/dir/c`, 302));
      site.route('/chain/dir/c', redirect('d.html', 307));
      site.route('/chain/dir/d.html', serve('done'));
      const page = await fetcher.fetch(`${site.origin}/chain/a`);
      assert.equal(page.finalUrl, `${site.origin}/chain/dir/d.html`);
      assert.equal(page.body.toString(), 'done');
      assert.deepEqual(page.redirectChain, [
        { url: `${site.origin}/chain/a`, status: 301, location: `${site.origin}/chain/b` },
        { url: `${site.origin}/chain/b`, status: 302, location: `${site.origin}/chain/dir/c` },
        { url: `${site.origin}/chain/dir/c`, status: 307, location: `${site.origin}/chain/dir/d.html` },
      ]);
    });

    it('percent-encodes raw spaces and UTF-8 bytes in a Location', async () => {
      site.route('/301.html', redirect('/with spaces .html'));
      site.route('/with%20spaces%20.html', serve('spaces'));
      assert.equal((await fetcher.fetch(`${site.origin}/301.html`)).body.toString(), 'spaces');
      site.route('/utf8', redirect(Buffer.from('/café').toString('latin1')));
      site.route('/caf%C3%A9', serve('utf8'));
      assert.equal((await fetcher.fetch(`${site.origin}/utf8`)).finalUrl, `${site.origin}/caf%C3%A9`);
    });

    it('never sends the fragment of a Location', async () => {
      site.route('/redir/index.html', redirect('target.html#x', 302));
      site.route('/redir/target.html', serve('target'));
      const page = await fetcher.fetch(`${site.origin}/redir/index.html`);
      assert.equal(page.finalUrl, `${site.origin}/redir/target.html`);
      assert.equal(page.redirectChain[0].location, `${site.origin}/redir/target.html#x`);
      assert.ok(site.paths().every((path) => !path.includes('#')));
    });

    it('stops a loop with REDIRECT_LOOP', async () => {
      site.route('/loop1', redirect('/loop2'));
      site.route('/loop2', redirect('/loop1'));
      await rejectsWith(fetcher.fetch(`${site.origin}/loop1`), 'REDIRECT_LOOP');
      site.route('/self', redirect('/self#again'));
      await rejectsWith(fetcher.fetch(`${site.origin}/self`), 'REDIRECT_LOOP');
    });

    it('allows maxRedirects hops and stops at one more with TOO_MANY_REDIRECTS', async () => {
      const short = new HttpFetcher({ ...OPTIONS, maxRedirects: 3 });
      try {
        for (let hop = 0; hop < 10; hop++) site.route(`/hop${hop}`, redirect(`/hop${hop + 1}`));
        site.route('/hop3', serve('three'));
        assert.equal((await short.fetch(`${site.origin}/hop0`)).redirectChain.length, 3);
        site.route('/hop3', redirect('/hop4'));
        const before = site.requests.length;
        await rejectsWith(short.fetch(`${site.origin}/hop0`), 'TOO_MANY_REDIRECTS');
        assert.equal(site.requests.length - before, 4);
      } finally {
        await short.close();
      }
    });

    it('refuses a Location that is not http(s), missing or too long with BAD_REDIRECT', async () => {
      site.route('/to-ftp', redirect('ftp://example.com/file'));
      site.route('/no-location', (_req, res) => void res.writeHead(302).end());
      site.route('/long-location', redirect(`/${'a'.repeat(9000)}`));
      for (const path of ['/to-ftp', '/no-location', '/long-location']) await rejectsWith(fetcher.fetch(`${site.origin}${path}`), 'BAD_REDIRECT');
    });

    it("sends the cookie and Authorization only to the seed's site, even to a fetch that starts elsewhere", async () => {
      const cdn = await listen((req, res) => res.end(JSON.stringify(req.headers)), 'localhost');
      const custom = new HttpFetcher({ ...OPTIONS, cookie: 'session=42', headers: { Authorization: 'Bearer t' }, credentialsFor: seedSiteHostnames(`${site.origin}/`) });
      try {
        site.route('/mine', serve('here'));
        await custom.fetch(`${site.origin}/mine`);
        assert.equal(site.requests.at(-1)?.headers.cookie, 'session=42');
        assert.equal(site.requests.at(-1)?.headers.authorization, 'Bearer t');
        // A requisite on a CDN host (--allow-host) is fetched from its own URL: no redirect, still no credentials.
        const seen = JSON.parse((await custom.fetch(`${cdn.origin}/lib.css`)).body.toString()) as Record<string, string>;
        assert.equal(seen.cookie, undefined);
        assert.equal(seen.authorization, undefined);
      } finally {
        await custom.close();
        await closeServer(cdn.server);
      }
    });

    it('takes for the seed\'s site its host, its www form and their subdomains, nothing else', () => {
      const onSite = seedSiteHostnames('https://www.example.com/docs/');
      for (const host of ['example.com', 'www.example.com', 'static.example.com', 'a.b.example.com']) assert.equal(onSite(host), true, host);
      for (const host of ['example.org', 'notexample.com', 'example.com.evil.net', 'cdn.net']) assert.equal(onSite(host), false, host);
    });

    it('keeps the cookie on the same host and drops it on another', async () => {
      const other = await listen((req, res) => res.end(JSON.stringify(req.headers)), 'localhost');
      const custom = new HttpFetcher({ ...OPTIONS, cookie: 'session=42', headers: { Authorization: 'Bearer t' } });
      try {
        site.route('/away', redirect(`${other.origin}/`));
        site.route('/stay', redirect('/stayed'));
        site.route('/stayed', serve('here'));
        await custom.fetch(`${site.origin}/stay`);
        assert.equal(site.requests.at(-1)?.headers.cookie, 'session=42');
        const seen = JSON.parse((await custom.fetch(`${site.origin}/away`)).body.toString()) as Record<string, string>;
        assert.equal(seen.cookie, undefined);
        assert.equal(seen.authorization, undefined);
        assert.equal(seen['user-agent'], OPTIONS.userAgent);
      } finally {
        await custom.close();
        await closeServer(other.server);
      }
    });
  });

  describe('network failures and timeouts', () => {
    const quick = { ...OPTIONS, readTimeoutMs: 200 };

    it('reports a refused connection as NETWORK, retryable', async () => {
      const { server, origin } = await listen(() => undefined);
      await closeServer(server);
      const error = await rejectsWith(fetcher.fetch(`${origin}/`), 'NETWORK');
      assert.equal(error.retryable, true);
      assert.ok(error.message.includes(origin));
    });

    it('times out a server that accepts and never answers', async () => {
      const silent = createTcpServer(() => undefined).listen(0, '127.0.0.1');
      await once(silent, 'listening');
      const client = new HttpFetcher(quick);
      try {
        const started = Date.now();
        const error = await rejectsWith(client.fetch(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/`), 'TIMEOUT');
        assert.ok(Date.now() - started < 700, `took ${Date.now() - started} ms`);
        assert.equal(error.retryable, true);
      } finally {
        await client.close();
        silent.close();
      }
    });

    it('times out a body that trickles slower than the read timeout, but not one that keeps flowing', async () => {
      const trickle = (everyMs: number, bytes: number) => (_req: IncomingMessage, res: ServerResponse) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.flushHeaders();
        let sent = 0;
        const timer = setInterval(() => (++sent >= bytes ? res.end('x') : res.write('x')), everyMs);
        res.on('close', () => clearInterval(timer));
      };
      site.route('/slow', trickle(300, 100));
      site.route('/steady', trickle(40, 12));
      const client = new HttpFetcher(quick);
      try {
        await rejectsWith(client.fetch(`${site.origin}/slow`), 'TIMEOUT');
        assert.equal((await client.fetch(`${site.origin}/steady`)).body.length, 12);
        const capped = new HttpFetcher({ ...quick, totalTimeoutMs: 250 });
        await rejectsWith(capped.fetch(`${site.origin}/steady`), 'TIMEOUT');
        await capped.close();
      } finally {
        await client.close();
      }
    });

    it('reports a body shorter than its Content-Length, and a reset mid-body, as NETWORK', async () => {
      site.route('/short', (_req, res) => {
        res.writeHead(200, { 'content-length': '1000' });
        res.write('x'.repeat(500), () => res.socket?.end());
      });
      site.route('/reset', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('x'.repeat(5000), () => res.socket?.destroy());
      });
      for (const path of ['/short', '/reset']) assert.equal((await rejectsWith(fetcher.fetch(`${site.origin}${path}`), 'NETWORK')).retryable, true);
    });

    it('rejects with the caller’s own reason when the caller aborts', async () => {
      let arrived!: () => void;
      const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
      site.route('/never', () => arrived());
      const controller = new AbortController();
      const reason = new Error('crawl stopped');
      const pending = fetcher.fetch(`${site.origin}/never`, { signal: controller.signal });
      await requestArrived;
      controller.abort(reason);
      await assert.rejects(pending, (error) => error === reason);
    });

    it('ends every fetch on one signal when it aborts, mid-body too, and refuses a new one on it', async () => {
      let arrivals = 0;
      let bothArrived!: () => void;
      const requestsArrived = new Promise<void>((resolve) => (bothArrived = resolve));
      const count = (): void => {
        if (++arrivals === 2) bothArrived();
      };
      site.route('/silent', () => count());
      site.route('/half-body', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
        res.write('only part of it');
        count();
      });
      site.route('/done', (_req, res) => void res.end('done'));
      const controller = new AbortController();
      // A fetch that finished on the signal earlier must not be ended (or held) by the abort.
      assert.equal((await fetcher.fetch(`${site.origin}/done`, { signal: controller.signal })).body.toString(), 'done');
      const reason = new Error('crawl stopped');
      const waiting = fetcher.fetch(`${site.origin}/silent`, { signal: controller.signal });
      const reading = fetcher.fetch(`${site.origin}/half-body`, { signal: controller.signal });
      await requestsArrived;
      controller.abort(reason);
      await assert.rejects(waiting, (error) => error === reason);
      await assert.rejects(reading, (error) => error === reason);
      await assert.rejects(fetcher.fetch(`${site.origin}/done`, { signal: controller.signal }), (error) => error === reason);
    });
  });

  describe('a body that arrives with its headers, in one write', () => {
    // A raw server, so headers and body leave in one write and the client reads them in one go: the body is then
    // read before the fetch has looked at the status (http1.ts's ResponseBody).
    it('keeps every byte and the connection for the next request', async () => {
      const bodies = [Buffer.alloc(48 * 1024, 'a'), Buffer.alloc(30 * 1024, 'b')];
      const raw = await startRawServer((socket, request) => {
        const body = bodies[(request - 1) % 2]!;
        socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n`), body]));
      });
      const client = new HttpFetcher(OPTIONS);
      try {
        assert.ok((await client.fetch(`${raw.origin}/one`)).body.equals(bodies[0]!));
        assert.ok((await client.fetch(`${raw.origin}/two`)).body.equals(bodies[1]!));
        assert.equal(raw.connections(), 1);
      } finally {
        await client.close();
        raw.close();
      }
    });

    it('still stops a chunked body over maxBytes as TOO_LARGE', async () => {
      const chunk = Buffer.alloc(60 * 1024, 'c');
      const framed = (part: Buffer): Buffer => Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]);
      const raw = await startRawServer((socket) => {
        socket.write(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n'), framed(chunk), framed(chunk), Buffer.from('0\r\n\r\n')]));
      });
      const client = new HttpFetcher({ ...OPTIONS, maxBytes: 100 * 1024 });
      try {
        const error = await rejectsWith(client.fetch(`${raw.origin}/big`), 'TOO_LARGE');
        assert.match(error.message, /is larger than the 102400-byte limit/);
      } finally {
        await client.close();
        raw.close();
      }
    });

    it('reports a connection closed mid-body as NETWORK, retryable', async () => {
      const raw = await startRawServer((socket) => {
        socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\n'), Buffer.alloc(400, 'd')]));
      });
      const client = new HttpFetcher(OPTIONS);
      try {
        const error = await rejectsWith(client.fetch(`${raw.origin}/short`), 'NETWORK');
        assert.equal(error.retryable, true);
        assert.ok(error.message.includes(`${raw.origin}/short`), error.message);
      } finally {
        await client.close();
        raw.close();
      }
    });
  });

  describe('size limit', () => {
    it('stops an endless body at maxBytes while streaming and closes the connection', async () => {
      let written = 0;
      let closed!: () => void;
      const serverSawClose = new Promise<void>((resolve) => (closed = resolve));
      site.route('/endless', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 1);
        const pump = (): void => {
          while (written < 200 * 1024 * 1024 && !res.destroyed) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', closed);
        pump();
      });
      const client = new HttpFetcher({ ...OPTIONS, maxBytes: 100 * 1024 });
      try {
        const started = Date.now();
        const error = await rejectsWith(client.fetch(`${site.origin}/endless`), 'TOO_LARGE');
        assert.equal(error.retryable, false);
        assert.ok(Date.now() - started < 1000);
        await serverSawClose;
        assert.ok(written < 20 * 1024 * 1024, `server wrote ${written} bytes`);
      } finally {
        await client.close();
      }
    });

    it('counts decompressed bytes, so a small gzip bomb is TOO_LARGE', async () => {
      site.route('/bomb', serve(zlib.gzipSync(Buffer.alloc(10 * 1024 * 1024)), 'text/plain', 200, { 'content-encoding': 'gzip' }));
      const client = new HttpFetcher({ ...OPTIONS, maxBytes: 100 * 1024 });
      try {
        await rejectsWith(client.fetch(`${site.origin}/bomb`), 'TOO_LARGE');
      } finally {
        await client.close();
      }
    });

    it('refuses a Content-Length over the cap before reading', async () => {
      site.route('/big', serve(Buffer.alloc(300 * 1024), 'application/octet-stream', 200, { 'content-length': String(300 * 1024) }));
      site.route('/small', serve(Buffer.alloc(50 * 1024), 'application/octet-stream'));
      const client = new HttpFetcher({ ...OPTIONS, maxBytes: 100 * 1024 });
      try {
        const error = await rejectsWith(client.fetch(`${site.origin}/big`), 'TOO_LARGE');
        assert.match(error.message, /declares 307200 bytes/);
        assert.equal((await client.fetch(`${site.origin}/small`)).body.length, 50 * 1024);
      } finally {
        await client.close();
      }
    });
  });

  describe('withRetries', () => {
    const policy = { baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 5000 };
    const countOf = (path: string): number => site.paths().filter((one) => one === path).length;

    it('retries a 504 until it succeeds, requesting exactly three times', async () => {
      let calls = 0;
      site.route('/flaky', (_req, res) => (++calls <= 2 ? serve('gateway', 'text/plain', 504) : serve('ok'))(_req, res));
      const retries: number[] = [];
      const page = await withRetries(() => fetcher.fetch(`${site.origin}/flaky`), { ...policy, retries: 2, onRetry: (_error, attempt) => retries.push(attempt) });
      assert.equal(page.body.toString(), 'ok');
      assert.equal(countOf('/flaky'), 3);
      assert.deepEqual(retries, [1, 2]);
    });

    it('gives up after 1 + retries attempts', async () => {
      site.route('/504', serve('gateway', 'text/plain', 504));
      const error = await rejectsWith(withRetries(() => fetcher.fetch(`${site.origin}/504`), { ...policy, retries: 1 }), 'HTTP_STATUS');
      assert.equal((error as HttpStatusError).status, 504);
      assert.equal(countOf('/504'), 2);
    });

    it('does not retry a 404', async () => {
      site.route('/gone', serve('gone', 'text/plain', 404));
      await rejectsWith(withRetries(() => fetcher.fetch(`${site.origin}/gone`), { ...policy, retries: 3 }), 'HTTP_STATUS');
      assert.equal(countOf('/gone'), 1);
    });

    it('waits as long as Retry-After asks when that is longer than the backoff', async () => {
      let calls = 0;
      site.route('/later', (req, res) => (++calls === 1 ? serve('busy', 'text/plain', 429, { 'retry-after': '1' }) : serve('ok'))(req, res));
      const delays: number[] = [];
      const started = Date.now();
      await withRetries(() => fetcher.fetch(`${site.origin}/later`), { ...policy, retries: 1, onRetry: (_error, _attempt, delayMs) => delays.push(delayMs) });
      assert.deepEqual(delays, [1000]);
      assert.ok(Date.now() - started >= 990, `elapsed ${Date.now() - started} ms`);
    });

    it('backs off exponentially within the cap and stops when aborted', async () => {
      const delays: number[] = [];
      const failing = async (): Promise<never> => {
        throw new SitemirrorError('NETWORK', 'down', { retryable: true });
      };
      await rejectsWith(withRetries(failing, { baseDelayMs: 4, maxDelayMs: 20, maxRetryAfterMs: 0, retries: 4, onRetry: (_e, _a, delayMs) => delays.push(delayMs) }), 'NETWORK');
      assert.equal(delays.length, 4);
      delays.forEach((delayMs, index) => assert.ok(delayMs <= Math.min(20, 4 * 2 ** index) && delayMs >= 0.8 * Math.min(20, 4 * 2 ** index) - 1, String(delays)));
      const controller = new AbortController();
      const reason = new Error('stop');
      const pending = withRetries(failing, { ...policy, baseDelayMs: 10_000, maxDelayMs: 10_000, retries: 3, signal: controller.signal, onRetry: () => controller.abort(reason) });
      await assert.rejects(pending, (error) => error === reason);
    });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2024, 0, 1, 0, 0, 0);
  const cases: [string | undefined, number | undefined][] = [
    ['120', 120_000],
    [' 5 ', 5000],
    ['0', 0],
    ['Mon, 01 Jan 2024 00:00:30 GMT', 30_000],
    ['Monday, 01-Jan-24 00:01:00 GMT', 60_000],
    ['Mon Jan  1 00:00:10 2024', 10_000],
    ['Sun, 31 Dec 2023 23:00:00 GMT', 0],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2024-01-01T00:00:30Z', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [value, expected] of cases) {
    it(`reads ${JSON.stringify(value)} as ${expected}`, () => assert.equal(parseRetryAfter(value, now), expected));
  }
});

describe('parseContentType', () => {
  const table: [header: string | string[] | undefined, contentType: string, charset: string | undefined][] = [
    [undefined, '', undefined],
    ['text/html', 'text/html', undefined],
    [' Text/HTML ; Charset = "UTF-8" ', 'text/html', 'utf-8'],
    ['text/html; foo=bar; charset=iso-8859-1; charset=utf-8', 'text/html', 'iso-8859-1'],
    ['text/html; charset=', 'text/html', undefined],
    ['text/html; charset', 'text/html', undefined],
    ['*/*; charset=utf-8', '', undefined],
    ['nonsense', '', undefined],
    [['text/html; charset=utf-8', 'text/html'], 'text/html', 'utf-8'],
    [['text/plain; charset=utf-8', 'text/html'], 'text/html', undefined],
    [['text/html; charset=utf-8', 'bogus'], 'text/html', 'utf-8'],
  ];
  for (const [header, contentType, charset] of table) {
    it(`reads ${JSON.stringify(header)} as ${contentType || '(none)'}${charset ? `, ${charset}` : ''}`, () => {
      assert.deepEqual(parseContentType(header), { contentType, charset });
    });
  }
});
