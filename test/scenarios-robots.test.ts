// B-03: robots.txt errors, redirects and size, row by row of RFC 9309 §2.3.1 and §2.5, through the real CLI.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'cheerio';
import { redirect, serve, startServer, type FixtureServer, type RouteHandler } from './support/server.ts';
import { runCli, tempDir, type CliResult } from './support/cli.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';

/** RFC 9309 §2.5 asks for at least 500 KiB; sitemirror reads 512 KiB (DEFAULT_ROBOTS_MAX_BYTES). */
const ROBOTS_LIMIT_BYTES = 512 * 1024;

interface Mirror {
  server: FixtureServer;
  result: CliResult;
  output: string;
  site: string;
  report: { failed: { url: string; code: string; message: string }[] };
}

const servers: FixtureServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

/** Mirrors fixtures/scenarios/robots/site with robots.txt answered by `routes`. */
async function mirror(routes: (origin: string) => Record<string, RouteHandler>, args: string[] = []): Promise<Mirror> {
  const server = await startServer({ root: 'scenarios/robots/site' });
  servers.push(server);
  for (const [target, handler] of Object.entries(routes(server.origin))) server.route(target, handler);
  const output = await tempDir();
  const result = await runCli(['crawl', `${server.origin}/`, '--output', output, '--quiet', '--retries', '1', ...args], { timeoutMs: 30_000 });
  const reports = join(output, '.sitemirror', 'reports');
  const [reportName] = existsSync(reports) ? readdirSync(reports) : [];
  const report = reportName ? JSON.parse(readFileSync(join(reports, reportName), 'utf8')) : { failed: [] };
  return { server, result, output, site: join(output, server.hostFolder), report };
}

const text = (body: string, status = 200, headers: Record<string, string> = {}) => serve(body, 'text/plain; charset=utf-8', status, headers);

/** `head` (a `User-agent: *` line), harmless Disallow lines and a comment, then `lastRules`: exactly `bytes` long. */
function robotsOfSize(bytes: number, lastRules: string, head = 'User-agent: *\n'): string {
  let body = head;
  for (let i = 0; body.length + lastRules.length < bytes - 40; i++) body += `Disallow: /archive/${String(i).padStart(6, '0')}/\n`;
  body += `#${'-'.repeat(bytes - body.length - lastRules.length - 2)}\n`;
  return body + lastRules;
}

function hrefsOf(site: string, path: string): string[] {
  const $ = load(readFileSync(join(site, path), 'utf8'));
  return $('a').map((_, a) => $(a).attr('href')).get();
}

describe('B-03 a robots.txt that redirects', () => {
  it('follows 302 → 404 as "allow all", never uses the 404 body as rules and never saves it', async () => {
    // wget2 test-redirection.c; the 404 body is ~4 KB of rules that would block everything (HTTrack 99_local-robots-error).
    const blockEverything = `User-agent: *\nDisallow: /\n#${'x'.repeat(4096)}\n`;
    const { server, result, output, site } = await mirror(() => ({
      '/robots.txt': redirect('/robots2.txt', 302),
      '/robots2.txt': text(blockEverything, 404),
    }));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '', 'a missing robots.txt is normal, not worth a warning');
    const paths = server.paths();
    assert.deepEqual(paths.slice(0, 3), ['/robots.txt', '/robots2.txt', '/'], 'robots.txt is asked before the seed, once, and its redirect followed');
    for (const path of ['/public.html', '/secret/page.html', '/private/open-aaaa.html']) assert.ok(paths.includes(path), `${path} requested`);
    assert.equal(paths.filter((path) => path.startsWith('/robots')).length, 2);
    assert.deepEqual(listFiles(output).filter((file) => /robots/.test(file)), [], 'neither robots.txt nor the 404 body is in the mirror');
    assert.ok(existsSync(join(site, 'secret/page.html')));
    assert.deepEqual(hrefsOf(site, 'index.html'), ['public.html', 'secret/page.html', 'private/open-aaaa.html']);
  });

  it('applies the rules found at the end of the redirect', async () => {
    const { server, result, site } = await mirror(() => ({
      '/robots.txt': redirect('/robots-real.txt', 301),
      '/robots-real.txt': text('User-agent: *\nDisallow: /secret/\n'),
    }));
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!server.paths().includes('/secret/page.html'), 'a disallowed page is never requested');
    assert.ok(server.paths().includes('/public.html'));
    assert.ok(!existsSync(join(site, 'secret')));
    assert.equal(hrefsOf(site, 'index.html')[1], `${server.origin}/secret/page.html`, 'a refused page is linked at its origin URL');
    assert.deepEqual(brokenLinks(site), []);
  });

  it('stops an endless redirect chain at --max-redirects and then treats robots.txt as missing, with a warning', async () => {
    const { server, result } = await mirror(() => {
      const routes: Record<string, RouteHandler> = { '/robots.txt': redirect('/robots-hop/1', 302) };
      for (let hop = 1; hop <= 30; hop++) routes[`/robots-hop/${hop}`] = redirect(`/robots-hop/${hop + 1}`, 302);
      return routes;
    }, ['--max-redirects', '5']);
    assert.equal(result.code, 0, result.stderr);
    // RFC 9309 §2.3.1.2: follow at least five redirects, then the file MAY be assumed unavailable.
    assert.equal(server.paths().filter((path) => path.startsWith('/robots-hop/')).length, 5);
    assert.match(result.stderr, /warning: robots\.txt of 127\.0\.0\.1:\d+: .*redirects.*treated as missing, everything is allowed/);
    assert.ok(server.paths().includes('/secret/page.html'));
  });
});

describe('B-03 a robots.txt that cannot be read (5xx, network error)', () => {
  for (const [label, handler] of [
    ['503', text('try later', 503)],
    ['500', text('oops', 500)],
    ['a reset connection', ((req) => void req.socket.destroy()) as RouteHandler],
  ] as const) {
    it(`requests nothing but robots.txt (twice with --retries 1) after ${label}, says so, and exits 1`, async () => {
      const { server, result, output, report } = await mirror(() => ({ '/robots.txt': handler }));
      // RFC 9309 §2.3.1.4: an unreachable robots.txt means the site is fully disallowed for now.
      assert.deepEqual(server.paths(), ['/robots.txt', '/robots.txt']);
      assert.equal(result.code, 1, 'the mirror is empty because of the origin, which is a failed run, not a success');
      assert.match(result.stderr, /warning: robots\.txt of 127\.0\.0\.1:\d+ is unreachable \(.+\) after 2 tries: the whole host is treated as disallowed/);
      assert.match(result.stderr, new RegExp(`1 failed:\\n  ${server.origin}/: .*robots\\.txt`));
      assert.deepEqual(report.failed.map((failure) => [failure.url, failure.code]), [[`${server.origin}/`, 'ROBOTS_UNAVAILABLE']]);
      assert.deepEqual(listFiles(output), []);
    });
  }
});

describe('B-03 a large robots.txt', () => {
  for (const [label, bytes] of [
    ['about 4 KB', 4 * 1024],
    ['about 500 KB', 500 * 1024],
  ] as const) {
    it(`applies a Disallow that is the last line of ${label} of rules (HTTrack #1286)`, async () => {
      const robots = robotsOfSize(bytes, 'Disallow: /secret/\n');
      assert.equal(robots.length, bytes);
      assert.ok(robots.endsWith('\nDisallow: /secret/\n') && robots.startsWith('User-agent: *\n'));
      const { server, result, site } = await mirror(() => ({ '/robots.txt': text(robots) }));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '', 'nothing was left out, so there is nothing to warn about');
      assert.ok(!server.paths().includes('/secret/page.html'));
      assert.ok(server.paths().includes('/public.html') && server.paths().includes('/private/open-aaaa.html'));
      assert.equal(hrefsOf(site, 'index.html')[1], `${server.origin}/secret/page.html`);
    });
  }

  it('names the rules it left out past its 512 KiB limit', async () => {
    const robots = `${robotsOfSize(ROBOTS_LIMIT_BYTES - 10, '')}Disallow: /secret/\nDisallow: /tmp/\n`;
    const { server, result } = await mirror(() => ({ '/robots.txt': text(robots) }));
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`warning: robots\\.txt of 127\\.0\\.0\\.1:\\d+ is ${robots.length} bytes, over the ${ROBOTS_LIMIT_BYTES}-byte limit: .*2 rule line\\(s\\) after them were left out: "Disallow: /secret/", "Disallow: /tmp/"`),
    );
    // RFC 9309 §2.5 lets a crawler ignore rules past its limit; we do, and said so above.
    assert.ok(server.paths().includes('/secret/page.html'));
  });

  it('drops a long Allow line cut by the limit instead of allowing its shorter prefix (HTTrack #1294)', async () => {
    const head = 'User-agent: *\nDisallow: /private/\n';
    const allow = `Allow: /private/open-${'a'.repeat(4000)}.html\n`;
    // The Allow line straddles the limit: a naive cut would keep `Allow: /private/open-aaaa…`, which opens open-aaaa.html.
    const robots = robotsOfSize(ROBOTS_LIMIT_BYTES - 2000, '', head) + allow;
    assert.ok(robots.length > ROBOTS_LIMIT_BYTES);
    const { server, result } = await mirror(() => ({ '/robots.txt': text(robots) }));
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!server.paths().includes('/private/open-aaaa.html'), 'the cut Allow line must not open the private folder');
    assert.ok(server.paths().includes('/secret/page.html'));
    assert.match(result.stderr, /left out: "Allow: \/private\/open-a+…"/);
  });
});
