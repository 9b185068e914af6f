// robots.txt policy: RFC 9309's status table row by row, groups, limits, and one fetch per origin.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { RobotsCache, productToken, type RobotsOptions } from '../src/robots.js';
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
    const [contentType = '', charset] = (answer.headers['content-type'] ?? '').split(/;\s*charset=/i);
    return {
      requestedUrl: url,
      finalUrl: current,
      status: answer.status,
      headers: answer.headers,
      contentType: contentType.trim().toLowerCase(),
      charset,
      body: answer.body,
      redirectChain: chain,
      via: 'http',
    };
  }
}

const servers: FixtureServer[] = [];
async function siteWith(robots: Parameters<typeof startServer>[0] = {}): Promise<FixtureServer> {
  const server = await startServer(robots);
  servers.push(server);
  return server;
}
after(() => Promise.all(servers.map((server) => server.close())));

function cacheFor(options: Partial<RobotsOptions> = {}): { cache: RobotsCache; warnings: string[] } {
  const warnings: string[] = [];
  const cache = new RobotsCache({
    userAgent: 'sitemirror/0.1 (+https://example.org/sitemirror)',
    get,
    retries: 2,
    retryDelayMs: 1,
    warn: (message) => warnings.push(message),
    ...options,
  });
  return { cache, warnings };
}

const text = (body: string | Buffer) => serve(body, 'text/plain; charset=utf-8');

describe('robots.txt groups', () => {
  it('applies the * group and not a group for another robot (B-01)', async () => {
    const site = await siteWith({
      routes: {
        '/robots.txt': text('User-agent: Badboy\nDisallow: /\n\n# a comment line\nUser-agent: *\nDisallow: /subdir2/\n'),
      },
    });
    const { cache } = cacheFor();
    const policy = await cache.policyFor(`${site.origin}/index.html`);
    assert.equal(policy.source, 'rules');
    assert.equal(policy.isAllowed(`${site.origin}/subdir2/x`), false);
    assert.equal(policy.isAllowed(`${site.origin}/subdir2/subpage2.html`), false);
    assert.equal(policy.isAllowed(`${site.origin}/subdir1/x`), true);
    assert.equal(policy.isAllowed(`${site.origin}/subdir1/subpage1.html?query&param`), true);
    assert.equal(policy.isAllowed(`${site.origin}/secondpage.html`), true);
    assert.deepEqual(site.paths(), ['/robots.txt']);
  });

  it('matches our product token case-insensitively and prefers our group to *', async () => {
    const site = await siteWith({
      routes: { '/robots.txt': text('User-agent: *\nDisallow: /\n\nUser-agent: SiteMirror\nDisallow: /private/\n') },
    });
    const { cache } = cacheFor({ userAgent: 'Sitemirror/0.1 (+https://example.org)' });
    const policy = await cache.policyFor(site.origin);
    assert.equal(policy.isAllowed(`${site.origin}/public.html`), true);
    assert.equal(policy.isAllowed(`${site.origin}/private/a.html`), false);
  });

  it('takes the product token from a User-Agent header', () => {
    assert.equal(productToken('sitemirror/0.1 (+https://example.org)'), 'sitemirror');
    assert.equal(productToken('My_Bot-2'), 'my_bot-');
    assert.equal(productToken('/weird'), '*');
  });

  it('reads Crawl-delay of our group in milliseconds', async () => {
    const site = await siteWith({
      routes: { '/robots.txt': text('User-agent: *\nCrawl-delay: 10\n\nUser-agent: sitemirror\nCrawl-delay: 2\nDisallow:\n') },
    });
    const policy = await cacheFor().cache.policyFor(site.origin);
    assert.equal(policy.crawlDelayMs, 2000);
  });

  it('has no crawl delay when robots.txt gives none', async () => {
    const site = await siteWith({ routes: { '/robots.txt': text('User-agent: *\nDisallow: /x\n') } });
    assert.equal((await cacheFor().cache.policyFor(site.origin)).crawlDelayMs, undefined);
  });

  it('collects Sitemap lines as absolute URLs, outside any group', async () => {
    const site = await siteWith();
    const index = `${site.origin}/sitemapdir/index.xml`;
    site.route(
      '/robots.txt',
      text(`Sitemap: ${index}\nUser-agent: Badboy\nDisallow: /\nSitemap: https://cdn.example.net/s.xml.gz\nSitemap: ${index}\n`),
    );
    const policy = await cacheFor().cache.policyFor(site.origin);
    assert.deepEqual(policy.sitemaps, [`${site.origin}/sitemapdir/index.xml`, 'https://cdn.example.net/s.xml.gz']);
  });

  it('parses a robots.txt that starts with a byte order mark', async () => {
    const site = await siteWith({ routes: { '/robots.txt': text('\uFEFFUser-agent: *\nDisallow: /x/\n') } });
    const policy = await cacheFor().cache.policyFor(site.origin);
    assert.equal(policy.isAllowed(`${site.origin}/x/y`), false);
  });

  it('answers false for a URL of another origin', async () => {
    const site = await siteWith({ routes: { '/robots.txt': text('User-agent: *\nDisallow:\n') } });
    const policy = await cacheFor().cache.policyFor(site.origin);
    assert.equal(policy.isAllowed(`${site.origin}/a`), true);
    assert.equal(policy.isAllowed('http://elsewhere.example/a'), false);
  });

  it('rejects a URL that is not http(s)', async () => {
    await assert.rejects(cacheFor().cache.policyFor('mailto:someone@example.org'), { code: 'BAD_URL' });
  });
});

describe('robots.txt status table (RFC 9309 §2.3.1)', () => {
  it('allows everything on 404 and never applies the 404 body as rules (B-03)', async () => {
    const page = `<html><body><pre>User-agent: *\nDisallow: /\n</pre>${'<p>not found</p>\n'.repeat(250)}</body></html>`;
    assert.ok(page.length > 4000);
    const site = await siteWith({ routes: { '/robots.txt': serve(page, 'text/html', 404) } });
    const { cache, warnings } = cacheFor();
    const policy = await cache.policyFor(site.origin);
    assert.equal(policy.source, 'missing');
    assert.equal(policy.isAllowed(`${site.origin}/anything.html`), true);
    assert.deepEqual(warnings, []);
  });

  for (const status of [400, 401, 403, 410, 451, 499]) {
    it(`allows everything on ${status}`, async () => {
      const site = await siteWith({ routes: { '/robots.txt': serve('User-agent: *\nDisallow: /\n', 'text/plain', status) } });
      const policy = await cacheFor().cache.policyFor(site.origin);
      assert.equal(policy.source, 'missing');
      assert.equal(policy.isAllowed(`${site.origin}/a`), true);
      assert.equal(site.paths().length, 1, 'a 4xx is not retried');
    });
  }

  it('follows a redirect and allows everything when it ends in 404 (B-03)', async () => {
    const site = await siteWith({ routes: { '/robots.txt': redirect('/robots2.txt', 302) } });
    const policy = await cacheFor().cache.policyFor(site.origin);
    assert.equal(policy.source, 'missing');
    assert.equal(policy.isAllowed(`${site.origin}/a`), true);
    assert.deepEqual(site.paths(), ['/robots.txt', '/robots2.txt']);
  });

  it('applies the rules found at the end of a redirect to the origin that was asked', async () => {
    const site = await siteWith({
      routes: { '/robots.txt': redirect('/real-robots.txt', 301), '/real-robots.txt': text('User-agent: *\nDisallow: /no/\n') },
    });
    const policy = await cacheFor().cache.policyFor(site.origin);
    assert.equal(policy.source, 'rules');
    assert.equal(policy.isAllowed(`${site.origin}/no/x`), false);
  });

  it('treats a redirect loop as a missing robots.txt, with a warning', async () => {
    const site = await siteWith({ routes: { '/robots.txt': redirect('/robots.txt', 302) } });
    const { cache, warnings } = cacheFor();
    const policy = await cache.policyFor(site.origin);
    assert.equal(policy.source, 'missing');
    assert.equal(policy.isAllowed(`${site.origin}/a`), true);
    assert.equal(warnings.length, 1);
  });

  it('retries a 503 and applies the rules that come after it', async () => {
    const site = await siteWith();
    let calls = 0;
    site.route('/robots.txt', (req, res) => {
      calls += 1;
      if (calls <= 2) return serve('busy', 'text/plain', 503)(req, res);
      return text('User-agent: *\nDisallow: /private/\n')(req, res);
    });
    const { cache, warnings } = cacheFor({ retries: 2 });
    const policy = await cache.policyFor(site.origin);
    assert.equal(policy.source, 'rules');
    assert.equal(policy.isAllowed(`${site.origin}/private/a`), false);
    assert.equal(policy.isAllowed(`${site.origin}/public/a`), true);
    assert.equal(site.paths().length, 3);
    assert.deepEqual(warnings, []);
  });

  it('disallows everything when robots.txt answers 500 on every try, and warns once naming the host', async () => {
    const site = await siteWith({ routes: { '/robots.txt': serve('oops', 'text/plain', 500) } });
    const { cache, warnings } = cacheFor({ retries: 2 });
    const policy = await cache.policyFor(site.origin);
    assert.equal(policy.source, 'unreachable');
    assert.equal(policy.isAllowed(`${site.origin}/`), false);
    assert.equal(policy.isAllowed(`${site.origin}/a.html`), false);
    assert.equal(site.paths().length, 3);
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]?.includes(`127.0.0.1:${site.port}`), warnings[0]);
  });

  it('disallows everything when the connection is refused', async () => {
    const gone = await startServer();
    const origin = gone.origin;
    await gone.close();
    const { cache, warnings } = cacheFor({ retries: 1 });
    const policy = await cache.policyFor(`${origin}/page.html`);
    assert.equal(policy.source, 'unreachable');
    assert.equal(policy.isAllowed(`${origin}/page.html`), false);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /disallowed/);
  });
});

describe('robots.txt size', () => {
  const filler = (bytes: number) => {
    const lines: string[] = ['User-agent: *'];
    let size = 0;
    for (let i = 0; size < bytes; i++) {
      const line = `Disallow: /archive/${String(i).padStart(6, '0')}/`;
      lines.push(line);
      size += line.length + 1;
    }
    return lines.join('\n');
  };

  for (const [label, bytes] of [['4 KB', 4 * 1024], ['500 KB', 500 * 1024]] as const) {
    it(`applies a Disallow that comes after ${label} of other rules (B-03)`, async () => {
      const body = `${filler(bytes)}\nDisallow: /secret/\n`;
      const site = await siteWith({ routes: { '/robots.txt': text(body) } });
      const { cache, warnings } = cacheFor();
      const policy = await cache.policyFor(site.origin);
      assert.equal(policy.isAllowed(`${site.origin}/secret/page.html`), false);
      assert.equal(policy.isAllowed(`${site.origin}/public/page.html`), true);
      assert.deepEqual(warnings, []);
    });
  }

  it('drops an Allow line cut by the size limit instead of allowing its shorter prefix (HTTrack #1294)', async () => {
    const head = 'User-agent: *\nDisallow: /very/\n';
    const allow = 'Allow: /very/long/path/that/only/this/exact/document/may/be/fetched.html\n';
    const tail = 'Disallow: /also-secret/\n';
    const body = head + allow + tail;
    const maxBytes = head.length + 'Allow: /very/lo'.length;
    const site = await siteWith({ routes: { '/robots.txt': text(body) } });
    const { cache, warnings } = cacheFor({ maxBytes });
    const policy = await cache.policyFor(site.origin);
    assert.equal(policy.isAllowed(`${site.origin}/very/lo`), false);
    assert.equal(policy.isAllowed(`${site.origin}/very/long/other.html`), false);
    assert.equal(policy.isAllowed(`${site.origin}/elsewhere.html`), true);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /left out/);
    assert.ok(warnings[0]?.includes('Allow: /very/long/path'), warnings[0]);
    assert.ok(warnings[0]?.includes('Disallow: /also-secret/'), warnings[0]);
  });

  it('keeps a line that ends exactly at the size limit', async () => {
    const body = 'User-agent: *\nDisallow: /a/\nDisallow: /b/\n';
    const site = await siteWith({ routes: { '/robots.txt': text(body) } });
    const { cache, warnings } = cacheFor({ maxBytes: body.indexOf('\nDisallow: /b/') });
    const policy = await cache.policyFor(site.origin);
    assert.equal(policy.isAllowed(`${site.origin}/a/x`), false);
    assert.equal(policy.isAllowed(`${site.origin}/b/x`), true);
    assert.equal(warnings.length, 1);
  });

  it('does not throw on a binary-garbage robots.txt and finds no rules in it', async () => {
    const garbage = Buffer.alloc(64 * 1024);
    let seed = 42;
    for (let i = 0; i < garbage.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      garbage[i] = seed >> 16;
    }
    const site = await siteWith({ routes: { '/robots.txt': serve(garbage, 'application/octet-stream') } });
    const policy = await cacheFor().cache.policyFor(site.origin);
    assert.equal(policy.source, 'rules');
    assert.equal(policy.isAllowed(`${site.origin}/any/page.html`), true);
    assert.equal(policy.crawlDelayMs, undefined);
    assert.deepEqual(policy.sitemaps, []);
  });
});

describe('robots.txt cache', () => {
  it('fetches robots.txt once per origin, even for 20 concurrent callers (R-01)', async () => {
    const site = await siteWith({ routes: { '/robots.txt': text('User-agent: *\nDisallow: /x/\n') } });
    const other = await siteWith();
    const { cache } = cacheFor();
    const policies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => cache.policyFor(`${site.origin}/page${i}.html`)),
    );
    assert.ok(policies.every((policy) => policy === policies[0]));
    await cache.policyFor(`${site.origin}/later.html`);
    await cache.policyFor(`${other.origin}/a.html`);
    assert.deepEqual(site.paths(), ['/robots.txt']);
    assert.deepEqual(other.paths(), ['/robots.txt']);
  });

  it('never asks for robots.txt when robots are ignored', async () => {
    const site = await siteWith({ routes: { '/robots.txt': text('User-agent: *\nDisallow: /\n') } });
    const policy = await cacheFor({ ignore: true }).cache.policyFor(`${site.origin}/a.html`);
    assert.equal(policy.source, 'ignored');
    assert.equal(policy.isAllowed(`${site.origin}/a.html`), true);
    assert.deepEqual(site.requests, []);
  });
});
