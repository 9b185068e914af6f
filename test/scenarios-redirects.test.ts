// D-01, D-03, D-05: redirects through the real CLI. Our rule (README "A redirect is followed"): the body is saved
// under the FINAL URL's path, links to either URL point at that one file, the redirecting URL gets a small HTML file
// that forwards to it, and the canonical is the final URL. wget/wget2 save under the requested name instead; not ours.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load, type CheerioAPI } from 'cheerio';
import { redirect, serve, startServer, type FixtureServer, type RouteHandler } from './support/server.ts';
import { runCli, tempDir, type CliResult } from './support/cli.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';

interface Mirror {
  server: FixtureServer;
  result: CliResult;
  site: string;
  report: { redirects: number; failed: { url: string; code: string; message: string }[] };
  page(path: string): CheerioAPI;
}

const servers: FixtureServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

/** Serves fixtures/scenarios/redirects/<fixture> plus `routes`, mirrors it from `seedPath` with the real CLI. */
async function mirror(fixture: string, routes: (origin: string) => Record<string, RouteHandler>, seedPath = '/', args: string[] = []): Promise<Mirror> {
  const server = await startServer({ root: `scenarios/redirects/${fixture}` });
  servers.push(server);
  for (const [target, handler] of Object.entries(routes(server.origin))) server.route(target, handler);
  const output = await tempDir();
  const result = await runCli(['crawl', `${server.origin}${seedPath}`, '--output', output, '--quiet', '--retries', '0', ...args], { timeoutMs: 30_000 });
  const reports = join(output, '.sitemirror', 'reports');
  const report = JSON.parse(readFileSync(join(reports, readdirSync(reports)[0]!), 'utf8'));
  const site = join(output, server.hostFolder);
  return { server, result, site, report, page: (path) => load(readFileSync(join(site, path), 'utf8')) };
}

function counts(paths: string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const path of paths) seen.set(path, (seen.get(path) ?? 0) + 1);
  return seen;
}

function canonicalOf($: CheerioAPI): string[] {
  return $('link[rel=canonical]').map((_, link) => $(link).attr('href')).get();
}

/** The target of a redirect file's `<meta http-equiv=refresh>`. */
function refreshTarget($: CheerioAPI): string | undefined {
  return /^0; url=(.*)$/.exec($('meta[http-equiv=refresh]').attr('content') ?? '')?.[1];
}

describe('D-01 plain redirects: which name is saved', () => {
  let m: Mirror;
  before(async () => {
    m = await mirror('d01', (origin) => ({
      '/index.html': redirect(`${origin}/index2.html`, 302),
      '/File1.txt': redirect('/File2.txt', 301),
      // Node's http server sends a header value as given, so the Location really holds raw spaces.
      '/301.html': redirect('/with spaces .html', 301),
      '/dir/302.html': redirect('302_2.html', 302),
      '/307.html': redirect('/307_2.html', 307),
    }), '/index.html');
  });

  it('finishes cleanly and counts five redirects', () => {
    assert.equal(m.result.code, 0, m.result.stderr);
    assert.equal(m.result.stderr, '');
    assert.equal(m.report.redirects, 5);
  });

  it('saves each body once, under its final URL, and a forwarding file under each redirecting HTML URL', () => {
    assert.deepEqual(listFiles(m.site), [
      '301.html',
      '307.html',
      '307_2.html',
      'File2.txt',
      'dir/302.html',
      'dir/302_2.html',
      'index.html',
      'index2.html',
      'with spaces .html',
    ]);
    assert.equal(readFileSync(join(m.site, 'File2.txt'), 'utf8'), 'Would you like some Tea?\n');
    // A forwarding file is HTML; File1.txt holding HTML would show as text, so a non-HTML target gets none.
    assert.ok(!existsSync(join(m.site, 'File1.txt')));
  });

  it('points links to the redirecting URL and to the final URL at the same file', () => {
    const $ = m.page('index2.html');
    assert.deepEqual($('a').map((_, a) => $(a).attr('href')).get(), [
      'index2.html',
      'File2.txt',
      'File2.txt',
      'with%20spaces%20.html',
      'with%20spaces%20.html',
      'dir/302_2.html',
      'dir/302_2.html',
      '307_2.html',
    ]);
    assert.deepEqual(brokenLinks(m.site), []);
  });

  it('gives each final page the canonical of its final URL', () => {
    for (const [path, url] of [
      ['index2.html', '/index2.html'],
      ['with spaces .html', '/with%20spaces%20.html'],
      ['dir/302_2.html', '/dir/302_2.html'],
      ['307_2.html', '/307_2.html'],
    ] as const) {
      assert.deepEqual(canonicalOf(m.page(path)), [`${m.server.origin}${url}`], path);
    }
  });

  it('makes each forwarding file refresh to the final file, with the final URL as canonical', () => {
    for (const [path, target, url] of [
      ['index.html', 'index2.html', '/index2.html'],
      ['301.html', 'with%20spaces%20.html', '/with%20spaces%20.html'],
      ['dir/302.html', '302_2.html', '/dir/302_2.html'],
      ['307.html', '307_2.html', '/307_2.html'],
    ] as const) {
      const $ = m.page(path);
      assert.equal(refreshTarget($), target, path);
      assert.equal($('a').attr('href'), target, path);
      assert.deepEqual(canonicalOf($), [`${m.server.origin}${url}`], path);
    }
  });

  it('percent-encodes raw spaces of a Location, resolves a relative Location against the request, and asks each URL once', () => {
    const paths = m.server.paths();
    assert.ok(paths.includes('/with%20spaces%20.html'), paths.join(' '));
    assert.ok(paths.every((path) => !path.includes(' ')));
    assert.ok(paths.includes('/dir/302_2.html'));
    assert.ok(!paths.includes('/302_2.html'), 'a relative Location resolves against /dir/302.html, not the root');
    assert.deepEqual([...counts(paths)].filter(([, n]) => n > 1), []);
    // sitemirror only ever sends GET, so "a 307 keeps the method" holds trivially.
    assert.ok(m.server.requests.every((request) => request.method === 'GET'));
  });
});

describe('D-01 redirect limits', () => {
  let m: Mirror;
  before(async () => {
    m = await mirror('d01', () => {
      const routes: Record<string, RouteHandler> = { '/loop/a': redirect('/loop/b', 302), '/loop/b': redirect('/loop/a', 302) };
      for (let hop = 1; hop <= 20; hop++) routes[`/hops/${hop}`] = redirect(`/hops/${hop + 1}`, 302);
      return routes;
    }, '/limits.html', ['--max-redirects', '3']);
  });

  it('follows at most --max-redirects redirects for one link, then reports the chain and exits 1', () => {
    assert.equal(m.result.code, 1);
    const hops = m.server.paths().filter((path) => path.startsWith('/hops/'));
    assert.deepEqual(hops, ['/hops/1', '/hops/2', '/hops/3', '/hops/4']);
    const failure = m.report.failed.find((one) => one.code === 'TOO_MANY_REDIRECTS');
    assert.ok(failure, JSON.stringify(m.report.failed));
    assert.equal(failure.url, `${m.server.origin}/hops/1`, 'the report names the URL the link pointed at');
    assert.match(failure.message, /more than 3 redirects/);
    assert.match(m.result.stderr, /\/hops\/1: more than 3 redirects/);
  });

  it('stops a redirect loop after asking each URL once', () => {
    assert.deepEqual(m.server.paths().filter((path) => path.startsWith('/loop/')), ['/loop/a', '/loop/b']);
    assert.ok(m.report.failed.some((one) => one.code === 'REDIRECT_LOOP'), JSON.stringify(m.report.failed));
    assert.match(m.result.stderr, /redirect loop/);
  });

  it('links the unreachable targets at their origin URLs and writes nothing for them', () => {
    const $ = m.page('limits.html');
    assert.deepEqual($('a').map((_, a) => $(a).attr('href')).get(), [`${m.server.origin}/hops/1`, `${m.server.origin}/loop/a`, 'File2.txt']);
    assert.deepEqual(listFiles(m.site), ['File2.txt', 'limits.html']);
  });
});

describe('D-03 a redirect to a trailing-slash URL changes the base of relative links', () => {
  let m: Mirror;
  before(async () => {
    m = await mirror('d03', () => ({ '/about': redirect('/about/', 301) }));
  });

  it('saves both stylesheets with their own bodies', () => {
    assert.equal(m.result.code, 0, m.result.stderr);
    assert.deepEqual(listFiles(m.site), ['about.html', 'about/index.html', 'about/style.css', 'index.html', 'style.css']);
    const fixture = (path: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures/scenarios/redirects/d03', path), 'utf8');
    assert.equal(readFileSync(join(m.site, 'style.css'), 'utf8'), fixture('style.css'));
    assert.equal(readFileSync(join(m.site, 'about/style.css'), 'utf8'), fixture('about/style.css'));
    assert.ok(m.server.paths().includes('/about/style.css') && m.server.paths().includes('/style.css'));
  });

  it('links each stylesheet from the about page, whose canonical is the slash URL', () => {
    const $ = m.page('about/index.html');
    assert.deepEqual($('link[rel=stylesheet]').map((_, link) => $(link).attr('href')).get(), ['../style.css', 'style.css']);
    assert.deepEqual(canonicalOf($), [`${m.server.origin}/about/`]);
    assert.equal(m.page('index.html')('a').attr('href'), 'about/index.html');
    assert.equal(refreshTarget(m.page('about.html')), 'about/index.html');
    assert.deepEqual(brokenLinks(m.site), []);
  });
});

describe('D-05 a fragment in Location is not sent', () => {
  let m: Mirror;
  before(async () => {
    m = await mirror('d05', () => ({
      '/redir/index.html': redirect('target.html#x', 302),
      // HTTrack's server answers 400 to a request line with `#`; the log check below catches any other form too.
      '/redir/target.html#x': serve('fragment sent', 'text/plain', 400),
    }));
  });

  it('fetches and saves the target without ever sending the fragment', () => {
    assert.equal(m.result.code, 0, m.result.stderr);
    assert.deepEqual(m.server.paths().filter((path) => path.includes('#')), []);
    assert.ok(m.server.paths().includes('/redir/target.html'));
    assert.match(readFileSync(join(m.site, 'redir/target.html'), 'utf8'), /x marks the spot/);
    assert.equal(m.page('index.html')('a').attr('href'), 'redir/target.html');
    assert.equal(refreshTarget(m.page('redir/index.html')), 'target.html');
    assert.deepEqual(brokenLinks(m.site), []);
  });
});
