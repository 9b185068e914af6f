// D-07, D-09, L-05: retries and 204, Content-Disposition, and pages that failed (4xx/5xx), through the real CLI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { load, type CheerioAPI } from 'cheerio';
import { serve, serveFixture, startServer, type FixtureServer, type RouteHandler } from './support/server.ts';
import { runCli, tempDir, type CliResult } from './support/cli.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';

interface Failure {
  url: string;
  code: string;
  message: string;
  savedAs?: string;
}

interface Mirror {
  server: FixtureServer;
  result: CliResult;
  output: string;
  site: string;
  report: { failed: Failure[] };
  page(path: string): CheerioAPI;
  hrefs(path: string): string[];
}

const servers: FixtureServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

/** Serves fixtures/scenarios/redirects/<fixture> plus `routes`, mirrors it from `seedPath` into `output` with the real CLI. */
async function mirror(fixture: string, routes: Record<string, RouteHandler>, seedPath: string, args: string[], output?: string): Promise<Mirror> {
  const server = await startServer({ root: `scenarios/redirects/${fixture}`, routes });
  servers.push(server);
  const out = output ?? (await tempDir());
  const result = await runCli(['crawl', `${server.origin}${seedPath}`, '--output', out, '--quiet', ...args], { timeoutMs: 30_000 });
  const reports = join(out, '.sitemirror', 'reports');
  const report = JSON.parse(readFileSync(join(reports, readdirSync(reports)[0]!), 'utf8'));
  const site = join(out, server.hostFolder);
  const page = (path: string) => load(readFileSync(join(site, path), 'utf8'));
  const hrefs = (path: string) => {
    const $ = page(path);
    return $('a').map((_, a) => $(a).attr('href')).get();
  };
  return { server, result, output: out, site, report, page, hrefs };
}

function timesAsked(server: FixtureServer, path: string): number {
  return server.paths().filter((one) => one === path).length;
}

/** Every file under `root`, state folder included, as paths relative to it. */
function allFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((path) => statSync(join(root, path)).isFile());
}

describe('D-07 retries for 5xx, and a 204', () => {
  let m: Mirror;
  before(async () => {
    m = await mirror('d07', {
      '/File1': serve('gateway timeout', 'text/plain', 504),
      '/File2': serve('File2 is here\n', 'text/plain; charset=utf-8'),
      '/dummy': (_req, res) => {
        res.writeHead(204);
        res.end();
      },
    }, '/', ['--retries', '1']);
  });

  it('asks a URL that always answers 504 exactly twice with --retries 1, then goes on and exits 1', () => {
    assert.equal(timesAsked(m.server, '/File1'), 2);
    assert.equal(m.result.code, 1);
    assert.match(m.result.stderr, /1 failed:\n {2}http:\/\/127\.0\.0\.1:\d+\/File1: HTTP 504/);
    assert.deepEqual(m.report.failed.map((failure) => [failure.url, failure.code]), [[`${m.server.origin}/File1`, 'HTTP_STATUS']]);
  });

  it('saves File2, writes nothing for File1, and links File1 at its origin URL', () => {
    assert.equal(timesAsked(m.server, '/File2'), 1);
    assert.equal(readFileSync(join(m.site, 'File2.txt'), 'utf8'), 'File2 is here\n');
    assert.deepEqual(listFiles(m.site).filter((path) => path.startsWith('File1')), []);
    assert.deepEqual(m.hrefs('index.html').slice(0, 2), [`${m.server.origin}/File1`, 'File2.txt']);
  });

  it('keeps a 204 as an empty file and links to it', () => {
    // SCENARIOS D-07 allows "no file, or an empty file, but then the link goes to it"; we keep what the origin answered.
    assert.equal(timesAsked(m.server, '/dummy'), 1);
    const href = m.hrefs('index.html')[2]!;
    assert.ok(!href.startsWith('http'), href);
    assert.equal(statSync(join(m.site, decodeURIComponent(href))).size, 0);
    assert.deepEqual(brokenLinks(m.site), []);
  });
});

describe('D-07 429 and 503 with Retry-After in seconds', () => {
  const askedAt = new Map<string, number[]>();
  /** Answers `status` with Retry-After: 1 the first time, then 200. */
  const busyOnce = (status: number): RouteHandler => (req, res) => {
    const times = askedAt.get(req.url!) ?? [];
    times.push(performance.now());
    askedAt.set(req.url!, times);
    if (times.length === 1) res.writeHead(status, { 'content-type': 'text/plain', 'retry-after': '1' }).end('busy');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok after ${status}\n`);
  };
  let m: Mirror;
  before(async () => {
    m = await mirror('d07', { '/busy-503.txt': busyOnce(503), '/busy-429.txt': busyOnce(429) }, '/busy.html', ['--retries', '1']);
  });

  it('waits at least the Retry-After seconds before asking again, then saves the answer', () => {
    assert.equal(m.result.code, 0, m.result.stderr);
    for (const status of [503, 429]) {
      const times = askedAt.get(`/busy-${status}.txt`) ?? [];
      assert.equal(times.length, 2, `asked ${times.length} times`);
      const waitedMs = times[1]! - times[0]!;
      // The backoff alone would wait about 500 ms, so only Retry-After explains a wait of a second.
      assert.ok(waitedMs >= 990 && waitedMs < 5000, `${status}: waited ${waitedMs.toFixed(0)} ms`);
      assert.equal(readFileSync(join(m.site, `busy-${status}.txt`), 'utf8'), `ok after ${status}\n`);
    }
  });
});

describe('D-09 Content-Disposition does not rename files in a mirror', () => {
  // Our rule: a mirror follows URL structure, so a file keeps the name of its URL whatever Content-Disposition says.
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
  const attachment = (filename: string) => ({ 'content-disposition': `attachment; ${filename}` });
  let m: Mirror;
  let sandbox: string;
  before(async () => {
    sandbox = await tempDir();
    m = await mirror('d09', {
      '/dummy.html': serve('<!doctype html><title>dummy</title><p>dummy page</p>', 'text/html; charset=utf-8', 200, attachment('filename="filename.html"')),
      '/cdispo/fetch.php': serve(pdf, 'application/pdf', 200, attachment('filename="report.pdf"')),
      '/cdispo/evil.php': serve(pdf, 'application/pdf', 200, attachment('filename="../../evil.pdf"')),
      '/cdispo/evil2.php': serve(pdf, 'application/pdf', 200, attachment("filename*=UTF-8''..%2F..%2F..%2Fevil2.pdf")),
    }, '/', ['--retries', '0'], join(sandbox, 'deep', 'er', 'out'));
  });

  it('saves every response under its URL path and links to it', () => {
    assert.equal(m.result.code, 0, m.result.stderr);
    const hrefs = m.hrefs('index.html');
    assert.equal(hrefs[0], 'dummy.html');
    assert.match(readFileSync(join(m.site, 'dummy.html'), 'utf8'), /dummy page/);
    for (const [index, name] of [[1, 'fetch.php'], [2, 'evil.php'], [3, 'evil2.php']] as const) {
      assert.ok(hrefs[index]!.startsWith(`cdispo/${name}`), hrefs[index]);
      assert.deepEqual(readFileSync(join(m.site, decodeURIComponent(hrefs[index]!))), pdf);
    }
    assert.deepEqual(brokenLinks(m.site), []);
  });

  it('creates no file named by Content-Disposition, and none outside the output folder', () => {
    const files = allFiles(sandbox);
    assert.deepEqual(files.filter((path) => !path.startsWith(join('deep', 'er', 'out') + '/')), []);
    assert.deepEqual(files.filter((path) => /(^|\/)(filename\.html|report\.pdf|evil2?\.pdf)$/.test(path)), []);
    assert.deepEqual(allFiles(join(sandbox, 'deep', 'er', 'out')).filter((path) => !path.startsWith('.sitemirror/')).map((path) => relative(m.server.hostFolder, path)).sort(), [
      'cdispo/evil.php',
      'cdispo/evil2.php',
      'cdispo/fetch.php',
      'dummy.html',
      'index.html',
    ]);
  });
});

describe('L-05 a link to a page that failed (4xx/5xx)', () => {
  const routes = (): Record<string, RouteHandler> => ({
    '/b/y.html': serve('Sorry, there is no y here.\n', 'text/plain; charset=utf-8', 404),
    '/b/gone.html': serveFixture('scenarios/redirects/l05/b-gone.html', 'text/html; charset=utf-8', {}, 410),
    '/a/empty.html': serve('', 'text/html; charset=utf-8'),
  });

  describe('by default', () => {
    let m: Mirror;
    before(async () => {
      m = await mirror('l05', routes(), '/a/x.html', ['--retries', '0']);
    });

    it('writes no file for the failed pages and links them at their origin URLs', () => {
      assert.deepEqual(listFiles(m.site), ['a/empty.html', 'a/empty.txt', 'a/x.html']);
      assert.deepEqual(m.hrefs('a/x.html'), [`${m.server.origin}/b/y.html`, `${m.server.origin}/b/gone.html`, 'empty.html', 'empty.txt']);
      assert.ok(!m.server.paths().includes('/b/error.css'), 'an error page that is not kept is not parsed either');
    });

    it('lists the 404 and the 410 in the report and on stderr, and exits 1', () => {
      assert.equal(m.result.code, 1);
      assert.deepEqual(m.report.failed.map((failure) => [failure.url, failure.code, failure.savedAs]).sort(), [
        [`${m.server.origin}/b/gone.html`, 'HTTP_STATUS', undefined],
        [`${m.server.origin}/b/y.html`, 'HTTP_STATUS', undefined],
      ]);
      assert.match(m.result.stderr, /\/b\/y\.html: HTTP 404/);
      assert.match(m.result.stderr, /\/b\/gone\.html: HTTP 410/);
    });

    it('saves a real empty 200 response as an empty file', () => {
      assert.equal(statSync(join(m.site, 'a/empty.html')).size, 0);
      assert.equal(statSync(join(m.site, 'a/empty.txt')).size, 0);
    });
  });

  describe('with --keep-error-pages', () => {
    let m: Mirror;
    before(async () => {
      m = await mirror('l05', routes(), '/a/x.html', ['--retries', '0', '--keep-error-pages']);
    });

    it('saves the error bodies under their URL paths and links them relatively', () => {
      assert.equal(readFileSync(join(m.site, 'b/y.html'), 'utf8'), 'Sorry, there is no y here.\n');
      assert.deepEqual(m.hrefs('a/x.html'), ['../b/y.html', '../b/gone.html', 'empty.html', 'empty.txt']);
      assert.deepEqual(brokenLinks(m.site), []);
    });

    it('treats an HTML error page as a page: canonical, requisites and rewritten links, but follows none of its links', () => {
      const $ = m.page('b/gone.html');
      assert.match($('h1').text(), /This page is gone/);
      assert.deepEqual($('link[rel=canonical]').map((_, link) => $(link).attr('href')).get(), [`${m.server.origin}/b/gone.html`]);
      assert.equal($('link[rel=stylesheet]').attr('href'), 'error.css');
      assert.equal(readFileSync(join(m.site, 'b/error.css'), 'utf8'), 'h1 { color: gray; }\n');
      assert.deepEqual(m.hrefs('b/gone.html'), [`${m.server.origin}/b/elsewhere.html`, '../a/x.html']);
      assert.ok(!m.server.paths().includes('/b/elsewhere.html'));
    });

    it('marks the records as error pages in the state and in the report, and still exits 1', () => {
      assert.equal(m.result.code, 1);
      const db = new Database(join(m.output, '.sitemirror', 'state.db'), { readonly: true });
      try {
        const rows = db.prepare(`SELECT url, state, http_status, error_code, local_path FROM urls WHERE url LIKE '%/b/%.html' ORDER BY url`).all();
        assert.deepEqual(rows, [
          { url: `${m.server.origin}/b/gone.html`, state: 'done', http_status: 410, error_code: 'HTTP_STATUS', local_path: `${m.server.hostFolder}/b/gone.html` },
          { url: `${m.server.origin}/b/y.html`, state: 'done', http_status: 404, error_code: 'HTTP_STATUS', local_path: `${m.server.hostFolder}/b/y.html` },
        ]);
      } finally {
        db.close();
      }
      assert.deepEqual(m.report.failed.map((failure) => [failure.url, failure.savedAs]).sort(), [
        [`${m.server.origin}/b/gone.html`, `${m.server.hostFolder}/b/gone.html`],
        [`${m.server.origin}/b/y.html`, `${m.server.hostFolder}/b/y.html`],
      ]);
      assert.match(m.result.stderr, /\/b\/y\.html: HTTP 404 for \S+ \(error page kept as 127\.0\.0\.1_\d+\/b\/y\.html\)/);
    });
  });
});
