// Large bodies go to disk, not memory: the fetcher spools a body past its threshold into a file (hashing it on the
// way), cleans up after a failure, and a crawl of a site of large videos stays within a few connections' worth of
// memory while every file arrives whole.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { HttpFetcher, type FetcherOptions } from '../src/fetch.js';
import { SitemirrorError } from '../src/errors.js';
import type { SpoolOptions } from '../src/spool.js';
import { readMirrorWarcs, responsesFor } from './support/archive.ts';
import { crawlHostile, html, links, page, startHostileServer, type HostileServer, type RouteHandler } from './support/hostile-server.ts';
import { tempDir } from './support/cli.ts';

const MiB = 1024 ** 2;
const OPTIONS: FetcherOptions = { userAgent: 'sitemirror-test/1', headers: {}, connectTimeoutMs: 1000, readTimeoutMs: 2000, maxRedirects: 10, maxBytes: Infinity };

/** `size` bytes that differ from file to file and from MiB to MiB (so a chunk out of order changes the hash). */
function pattern(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) bytes.fill((seed * 31 + Math.floor(i / 4096)) & 0xff, i, Math.min(size, i + 4096));
  return bytes;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Streams `bytes` in 64 KiB writes (with or without Content-Length), as a server of large files does. */
function streamed(bytes: Buffer, contentType: string, { declareLength = true, headers = {} as Record<string, string> } = {}): RouteHandler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': contentType, ...(declareLength ? { 'content-length': String(bytes.length) } : {}), ...headers });
    let offset = 0;
    const pump = () => {
      while (offset < bytes.length) {
        const chunk = bytes.subarray(offset, (offset += 64 * 1024));
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  };
}

const servers: HostileServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

async function spoolFolder(): Promise<{ dir: string; spool: SpoolOptions }> {
  const dir = await tempDir('sitemirror-spool-');
  let n = 0;
  return { dir, spool: { newPath: () => join(dir, `body-${++n}`), aboveBytes: () => MiB } };
}

describe('HttpFetcher spooling', async () => {
  const big = pattern(3 * MiB + 123, 1);
  const small = pattern(MiB - 1, 2);
  const server = await startHostileServer({
    '/big.png': streamed(big, 'image/png'),
    '/small.png': streamed(small, 'image/png'),
    '/big.gz': (_req, res) => {
      const gzipped = zlib.gzipSync(big);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip', 'content-length': gzipped.length });
      res.end(gzipped);
    },
    '/chunked.bin': streamed(big, 'application/zip', { declareLength: false }),
    '/reset.bin': (req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(big.length) });
      res.write(big.subarray(0, 2 * MiB), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
    },
  });
  servers.push(server);

  it('reads a body past the threshold to a file, with its size, sha256 and first bytes', async () => {
    const { dir, spool } = await spoolFolder();
    const fetcher = new HttpFetcher(OPTIONS);
    try {
      const source = await fetcher.fetch(`${server.origin}/big.png`, { spool });
      assert.ok(source.spooled, 'the body was spooled');
      assert.equal(source.spooled.size, big.length);
      assert.equal(source.spooled.sha256, sha256(big));
      assert.deepEqual(readFileSync(source.spooled.path), big);
      assert.deepEqual(source.body, big.subarray(0, 4096), 'only the head stays in memory');
      assert.deepEqual(readdirSync(dir), ['body-1']);
    } finally {
      await fetcher.close();
    }
  });

  it('keeps a body up to the threshold in memory and writes no file', async () => {
    const { dir, spool } = await spoolFolder();
    const fetcher = new HttpFetcher(OPTIONS);
    try {
      const source = await fetcher.fetch(`${server.origin}/small.png`, { spool });
      assert.equal(source.spooled, undefined);
      assert.deepEqual(source.body, small);
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      await fetcher.close();
    }
  });

  it('spools a gzip-encoded body decoded, and a chunked one without Content-Length', async () => {
    const { spool } = await spoolFolder();
    const fetcher = new HttpFetcher({ ...OPTIONS, keepWireBody: true });
    try {
      for (const path of ['/big.gz', '/chunked.bin']) {
        const source = await fetcher.fetch(`${server.origin}${path}`, { spool });
        assert.equal(source.spooled?.size, big.length, path);
        assert.equal(sha256(readFileSync(source.spooled.path)), sha256(big), path);
        // The archive takes the file: no second copy of a large body is held for it.
        assert.equal(source.wireBody, undefined, path);
      }
    } finally {
      await fetcher.close();
    }
  });

  it('removes the partial file when the body passes --max-file-size or the connection resets', async () => {
    const { dir, spool } = await spoolFolder();
    const capped = new HttpFetcher({ ...OPTIONS, maxBytes: 2 * MiB });
    const fetcher = new HttpFetcher(OPTIONS);
    try {
      await assert.rejects(capped.fetch(`${server.origin}/chunked.bin`, { spool }), (error: unknown) => error instanceof SitemirrorError && error.code === 'TOO_LARGE');
      await assert.rejects(fetcher.fetch(`${server.origin}/reset.bin`, { spool }), (error: unknown) => error instanceof SitemirrorError && error.code === 'NETWORK');
      assert.deepEqual(readdirSync(dir), [], 'no partial file is left');
    } finally {
      await capped.close();
      await fetcher.close();
    }
  });

  it('fails with a WRITE error naming the file when the spool cannot be written', async () => {
    const { dir } = await spoolFolder();
    const missing = join(dir, 'gone', 'body');
    const fetcher = new HttpFetcher(OPTIONS);
    try {
      await assert.rejects(fetcher.fetch(`${server.origin}/big.png`, { spool: { newPath: () => missing, aboveBytes: () => MiB } }), (error: unknown) => {
        assert.ok(error instanceof SitemirrorError);
        assert.equal(error.code, 'WRITE');
        assert.match(error.message, /cannot write .*gone\/body: ENOENT/);
        return true;
      });
    } finally {
      await fetcher.close();
    }
  });
});

describe('a crawl of large files', async () => {
  const videos = Array.from({ length: 6 }, (_, i) => pattern(24 * MiB + i, 10 + i));
  const archive = pattern(3 * MiB, 40);
  const bigPage = html('Big', `<p>${'a long page '.repeat(300_000)}</p>`); // 3.6 MB, past --max-parse-size 1M
  const routes: Record<string, RouteHandler> = {
    '/': page(html('Videos', `${links(['/big.html', '/archive.zip'])}${videos.map((_, i) => `<video src="/v${i}.mp4"></video>`).join('')}`)),
    '/archive.zip': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip', 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(archive));
    },
    '/big.html': streamed(Buffer.from(bigPage), 'text/html; charset=utf-8', { declareLength: false }),
  };
  videos.forEach((bytes, i) => (routes[`/v${i}.mp4`] = streamed(bytes, 'video/mp4', { declareLength: i % 2 === 0 })));
  const server = await startHostileServer(routes);
  servers.push(server);

  it('writes every file whole, leaves no temporary file, and holds a few MB a connection, not the files', async () => {
    const crawl = await crawlHostile(server, '/', ['-c', '6', '--per-host', '6', '--max-parse-size', '1M'], { timeoutMs: 60_000 });
    assert.equal(crawl.result.code, 0, crawl.result.stderr);
    videos.forEach((bytes, i) => {
      const file = join(crawl.site, `v${i}.mp4`);
      assert.equal(statSync(file).size, bytes.length, `v${i}.mp4`);
      assert.equal(sha256(readFileSync(file)), sha256(bytes), `v${i}.mp4`);
    });
    // A page past --max-parse-size is saved as sent, spooled like any large body.
    assert.equal(readFileSync(join(crawl.site, 'big.html'), 'utf8'), bigPage);
    assert.ok(crawl.warnings.some((warning) => /big\.html is 3\.\d MB, more than --max-parse-size/.test(warning)), crawl.warnings.join('\n'));
    assert.deepEqual(readdirSync(join(crawl.output, '.sitemirror', 'tmp')), []);
    assert.equal(crawl.verify.code, 0, crawl.verify.stdout);
    // 6 × 24 MB in flight at once: held in memory they alone are 144 MB (300 MB at the peak, joined from their
    // chunks); spooled, the crawl stays near 110 MB.
    assert.ok(crawl.peakRssMiB !== undefined && crawl.peakRssMiB < 180, `peak RSS ${crawl.peakRssMiB} MiB`);
  });

  it('archives a spooled body whole with --warc', async () => {
    const crawl = await crawlHostile(server, '/', ['-c', '6', '--per-host', '6', '--max-parse-size', '1M', '--warc'], { timeoutMs: 60_000 });
    assert.equal(crawl.result.code, 0, crawl.result.stderr);
    const { records } = await readMirrorWarcs(crawl.output);
    for (const [i, bytes] of videos.entries()) {
      const [record] = responsesFor(records, `${server.origin}/v${i}.mp4`);
      assert.ok(record, `a response record for v${i}.mp4`);
      assert.equal(record.payload.length, bytes.length);
      assert.equal(sha256(record.payload), sha256(bytes));
      assert.equal(record.payloadDigest, `sha256:${sha256(bytes)}`);
    }
    // A gzip-encoded body is spooled decoded, and archived so: its Content-Encoding no longer applies.
    const [zipped] = responsesFor(records, `${server.origin}/archive.zip`);
    assert.ok(zipped, 'a response record for archive.zip');
    assert.equal(sha256(zipped.payload), sha256(archive));
    assert.equal(zipped.headers.get('content-encoding'), undefined);
    assert.equal(zipped.headers.get('x-archive-orig-content-encoding'), 'gzip');
    assert.equal(sha256(readFileSync(join(crawl.site, 'archive.zip'))), sha256(archive));
    assert.deepEqual(readdirSync(join(crawl.output, '.sitemirror', 'tmp')), []);
  });
});
