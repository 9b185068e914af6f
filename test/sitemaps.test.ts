// Sitemaps: robots.txt Sitemap lines → indexes → (gzipped) urlsets, with limits, cycles and broken documents.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { collectSitemapUrls, type SitemapOptions } from '../src/sitemaps.js';
import { RobotsCache } from '../src/robots.js';
import { HttpStatusError, SitemirrorError } from '../src/errors.js';
import type { PageSource, RedirectHop } from '../src/types.js';
import { startServer, serve, redirect, type FixtureServer } from './support/server.js';

/** A small stand-in for HttpFetcher: follows up to 5 redirects, throws like it does. */
async function get(url: string): Promise<PageSource> {
  const chain: RedirectHop[] = [];
  let current = url;
  for (;;) {
    const answer = await new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>((resolve, reject) => {
      const req = request(current, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      });
      req.on('error', (error) => reject(new SitemirrorError('NETWORK', `${error.message} for ${current}`, { cause: error, retryable: true })));
      req.end();
    });
    const location = answer.headers.location;
    if (answer.status >= 300 && answer.status < 400 && location !== undefined) {
      if (chain.length >= 5) throw new SitemirrorError('TOO_MANY_REDIRECTS', `more than 5 redirects from ${url}`);
      chain.push({ url: current, status: answer.status, location });
      current = new URL(location, current).href;
      continue;
    }
    if (answer.status >= 400) throw new HttpStatusError(answer.status, current);
    return {
      requestedUrl: url,
      finalUrl: current,
      status: answer.status,
      headers: answer.headers,
      contentType: (answer.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '',
      charset: undefined,
      body: answer.body,
      redirectChain: chain,
      via: 'http',
    };
  }
}

const servers: FixtureServer[] = [];
async function site(): Promise<FixtureServer> {
  const server = await startServer();
  servers.push(server);
  return server;
}
after(() => Promise.all(servers.map((server) => server.close())));

const xml = (body: string | Buffer) => serve(body, 'application/xml');
const gzip = (body: string) => serve(gzipSync(Buffer.from(body)), 'application/gzip');
const urlset = (...locs: string[]) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${locs
    .map((loc) => `  <url><loc>${loc}</loc></url>\n`)
    .join('')}</urlset>\n`;
const sitemapIndex = (...locs: string[]) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${locs
    .map((loc) => `  <sitemap><loc>${loc}</loc><lastmod>2024-01-01</lastmod></sitemap>\n`)
    .join('')}</sitemapindex>\n`;

function optionsFor(server: FixtureServer, overrides: Partial<SitemapOptions> = {}): SitemapOptions & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    get,
    mayFetch: (url) => new URL(url).origin === server.origin,
    maxNesting: 3,
    maxUrls: 1000,
    warn: (message) => warnings.push(message),
    warnings,
    ...overrides,
  };
}

describe('sitemap seeding (R-11)', () => {
  it('follows robots.txt Sitemap → index → gzipped urlset, without fetching off-host sitemaps', async () => {
    const origin = await site();
    const offHost = await site();
    const o = origin.origin;
    origin.route('/robots.txt', serve(`User-agent: *\nDisallow:\nSitemap: ${o}/sitemapdir/index.xml\n`, 'text/plain'));
    origin.route('/sitemapdir/index.xml', xml(sitemapIndex(`${o}/sitemapdir/pages.xml.gz`, `${offHost.origin}/sitemap.xml`)));
    origin.route(
      '/sitemapdir/pages.xml.gz',
      gzip(urlset(`${o}/sitemapdir/orphan1.html`, `${offHost.origin}/elsewhere.html`, `${o}/sitemapdir/orphan2.html`)),
    );
    offHost.route('/sitemap.xml', xml(urlset(`${offHost.origin}/never.html`)));

    const policy = await new RobotsCache({ userAgent: 'sitemirror/0.1', get, retries: 0, retryDelayMs: 0 }).policyFor(
      `${o}/sitemapdir/start.html`,
    );
    assert.deepEqual(policy.sitemaps, [`${o}/sitemapdir/index.xml`]);
    const options = optionsFor(origin, { mayFetch: (url) => new URL(url).origin === o && policy.isAllowed(url) });
    const urls = await collectSitemapUrls(policy.sitemaps, options);

    // Sitemaps give seeds, not permission: the off-host page URL is returned for the crawler's scope check.
    assert.deepEqual(urls, [`${o}/sitemapdir/orphan1.html`, `${offHost.origin}/elsewhere.html`, `${o}/sitemapdir/orphan2.html`]);
    assert.deepEqual(origin.paths(), ['/robots.txt', '/sitemapdir/index.xml', '/sitemapdir/pages.xml.gz']);
    assert.deepEqual(offHost.requests, []);
    assert.equal(options.warnings.length, 1);
    assert.ok(options.warnings[0]?.includes(`${offHost.origin}/sitemap.xml`));
  });

  it('detects gzip by its magic bytes, and reads a .gz name holding plain XML as XML', async () => {
    const server = await site();
    const o = server.origin;
    server.route('/sitemap.xml', gzip(urlset(`${o}/a.html`)));
    server.route('/already-decoded.xml.gz', xml(urlset(`${o}/b.html`)));
    const options = optionsFor(server);
    const urls = await collectSitemapUrls([`${o}/sitemap.xml`, `${o}/already-decoded.xml.gz`], options);
    assert.deepEqual(urls, [`${o}/a.html`, `${o}/b.html`]);
    assert.deepEqual(options.warnings, []);
  });

  it('reads a single <url>, namespace prefixes, CDATA, entities and whitespace around <loc>', async () => {
    const server = await site();
    const o = server.origin;
    server.route('/single.xml', xml(`<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>\n   ${o}/one.html   \n</loc></url></urlset>`));
    server.route(
      '/prefixed.xml',
      xml(
        `<sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">` +
          `<sm:url><sm:loc>${o}/q?a=1&amp;b=2</sm:loc><image:image><image:loc>${o}/img.png</image:loc></image:image></sm:url>` +
          `<sm:url><sm:loc><![CDATA[${o}/cdata.html]]></sm:loc></sm:url>` +
          `<sm:url><sm:loc>mailto:someone@example.org</sm:loc></sm:url><sm:url><sm:loc>/relative.html</sm:loc></sm:url><sm:url></sm:url>` +
          `</sm:urlset>`,
      ),
    );
    server.route('/empty.xml', xml('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>'));
    const options = optionsFor(server);
    const urls = await collectSitemapUrls([`${o}/single.xml`, `${o}/prefixed.xml`, `${o}/empty.xml`], options);
    assert.deepEqual(urls, [`${o}/one.html`, `${o}/q?a=1&b=2`, `${o}/cdata.html`]);
    assert.deepEqual(options.warnings, []);
  });

  it('reads a plain-text sitemap, one URL per line', async () => {
    const server = await site();
    const o = server.origin;
    server.route('/sitemap.txt', serve(`${o}/a.html\r\n\r\n${o}/b.html\n`, 'text/plain'));
    const urls = await collectSitemapUrls([`${o}/sitemap.txt`], optionsFor(server));
    assert.deepEqual(urls, [`${o}/a.html`, `${o}/b.html`]);
  });

  it('returns page URLs once each, in document order, across sitemaps', async () => {
    const server = await site();
    const o = server.origin;
    server.route('/index.xml', xml(sitemapIndex(`${o}/s1.xml`, `${o}/s2.xml`, `${o}/s1.xml`)));
    server.route('/s1.xml', xml(urlset(`${o}/c.html`, `${o}/a.html`, `${o}/c.html`)));
    server.route('/s2.xml', xml(urlset(`${o}/b.html`, `${o}/a.html`)));
    const urls = await collectSitemapUrls([`${o}/index.xml`, `${o}/index.xml`], optionsFor(server));
    assert.deepEqual(urls, [`${o}/c.html`, `${o}/a.html`, `${o}/b.html`]);
    assert.deepEqual(server.paths(), ['/index.xml', '/s1.xml', '/s2.xml']);
  });

  it('stops collecting at maxUrls, with a warning, and fetches no more sitemaps', async () => {
    const server = await site();
    const o = server.origin;
    server.route('/s1.xml', xml(urlset(`${o}/1.html`, `${o}/2.html`, `${o}/3.html`)));
    server.route('/s2.xml', xml(urlset(`${o}/4.html`)));
    const options = optionsFor(server, { maxUrls: 2 });
    const urls = await collectSitemapUrls([`${o}/s1.xml`, `${o}/s2.xml`], options);
    assert.deepEqual(urls, [`${o}/1.html`, `${o}/2.html`]);
    assert.deepEqual(server.paths(), ['/s1.xml']);
    assert.equal(options.warnings.length, 1);
    assert.match(options.warnings[0] ?? '', /more than 2 page URLs/);
  });
});

describe('sitemap limits and broken documents', () => {
  it('stops a chain of nested indexes at maxNesting, with a warning', async () => {
    const server = await site();
    const o = server.origin;
    server.route('/level0.xml', xml(sitemapIndex(`${o}/level1.xml`)));
    server.route('/level1.xml', xml(sitemapIndex(`${o}/level2.xml`)));
    server.route('/level2.xml', xml(sitemapIndex(`${o}/level3.xml`)));
    server.route('/level3.xml', xml(urlset(`${o}/too-deep.html`)));
    const shallow = optionsFor(server, { maxNesting: 2 });
    assert.deepEqual(await collectSitemapUrls([`${o}/level0.xml`], shallow), []);
    assert.deepEqual(server.paths(), ['/level0.xml', '/level1.xml', '/level2.xml']);
    assert.equal(shallow.warnings.length, 1);
    assert.ok(shallow.warnings[0]?.includes(`${o}/level2.xml`), shallow.warnings[0]);

    assert.deepEqual(await collectSitemapUrls([`${o}/level0.xml`], optionsFor(server, { maxNesting: 3 })), [`${o}/too-deep.html`]);
  });

  it('ends a cycle of two indexes, fetching each once', async () => {
    const server = await site();
    const o = server.origin;
    server.route('/a.xml', xml(sitemapIndex(`${o}/b.xml`, `${o}/pages-a.xml`)));
    server.route('/b.xml', xml(sitemapIndex(`${o}/a.xml`, `${o}/pages-b.xml`)));
    server.route('/pages-a.xml', xml(urlset(`${o}/from-a.html`)));
    server.route('/pages-b.xml', xml(urlset(`${o}/from-b.html`)));
    const urls = await collectSitemapUrls([`${o}/a.xml`], optionsFor(server, { maxNesting: 10 }));
    assert.deepEqual(urls, [`${o}/from-b.html`, `${o}/from-a.html`]);
    assert.deepEqual(server.paths().sort(), ['/a.xml', '/b.xml', '/pages-a.xml', '/pages-b.xml']);
  });

  it('does not fetch a document reached again through a redirect', async () => {
    const server = await site();
    const o = server.origin;
    server.route('/old-sitemap.xml', redirect('/sitemap.xml'));
    server.route('/sitemap.xml', xml(urlset(`${o}/a.html`)));
    const urls = await collectSitemapUrls([`${o}/old-sitemap.xml`, `${o}/sitemap.xml`], optionsFor(server));
    assert.deepEqual(urls, [`${o}/a.html`]);
    assert.deepEqual(server.paths(), ['/old-sitemap.xml', '/sitemap.xml']);
  });

  it('skips invalid XML with a warning and goes on with the next sitemap', async () => {
    const server = await site();
    const o = server.origin;
    server.route('/broken.xml', xml(`<urlset><url><loc>${o}/maybe.html</loc></ur></urlset>`));
    server.route('/html.xml', serve('<!doctype html><html><body>Not found</body></html>', 'text/html'));
    server.route('/good.xml', xml(urlset(`${o}/good.html`)));
    const options = optionsFor(server);
    const urls = await collectSitemapUrls([`${o}/broken.xml`, `${o}/html.xml`, `${o}/good.xml`], options);
    assert.deepEqual(urls, [`${o}/good.html`]);
    assert.equal(options.warnings.length, 2);
    assert.match(options.warnings[0] ?? '', /broken\.xml skipped: not well-formed XML/);
    assert.match(options.warnings[1] ?? '', /html\.xml skipped/);
  });

  it('skips a corrupt .gz and a missing sitemap with warnings', async () => {
    const server = await site();
    const o = server.origin;
    const corrupt = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from('definitely not deflate data')]);
    const cut = gzipSync(Buffer.from(urlset(`${o}/cut.html`))).subarray(0, 30);
    server.route('/corrupt.xml.gz', serve(corrupt, 'application/gzip'));
    server.route('/cut.xml.gz', serve(cut, 'application/gzip'));
    server.route('/good.xml', xml(urlset(`${o}/good.html`)));
    const options = optionsFor(server);
    const urls = await collectSitemapUrls([`${o}/corrupt.xml.gz`, `${o}/cut.xml.gz`, `${o}/missing.xml`, `${o}/good.xml`], options);
    assert.deepEqual(urls, [`${o}/good.html`]);
    assert.equal(options.warnings.length, 3);
    assert.match(options.warnings[0] ?? '', /corrupt\.xml\.gz skipped: gzip data is corrupt/);
    assert.match(options.warnings[1] ?? '', /cut\.xml\.gz skipped/);
    assert.match(options.warnings[2] ?? '', /missing\.xml skipped: HTTP 404/);
  });

  it('stops decompressing at the size limit and keeps the complete entries before it', async () => {
    const server = await site();
    const o = server.origin;
    const locs = Array.from({ length: 5000 }, (_, i) => `${o}/page-${i}.html`);
    const document = urlset(...locs);
    server.route('/big.xml.gz', gzip(document));
    const maxDocumentBytes = 10_000;
    const options = optionsFor(server, { maxDocumentBytes });
    const urls = await collectSitemapUrls([`${o}/big.xml.gz`], options);
    const complete = document.slice(0, maxDocumentBytes).split('</url>').length - 1;
    assert.ok(complete > 10);
    assert.deepEqual(urls, locs.slice(0, complete));
    assert.equal(options.warnings.length, 1);
    assert.match(options.warnings[0] ?? '', /larger than 10000 bytes/);
  });

  it('warns about a sitemap URL that is not absolute http(s)', async () => {
    const server = await site();
    const options = optionsFor(server);
    assert.deepEqual(await collectSitemapUrls(['/sitemap.xml', 'ftp://example.org/s.xml'], options), []);
    assert.equal(options.warnings.length, 2);
    assert.deepEqual(server.requests, []);
  });
});
