// Many workers on one Redis state: the mirror equals a single worker's, each URL is fetched once, the per-host limit
// holds across workers, a killed worker's URLs return to the others, and a worker with other options is refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startServer, type FixtureServer, type RouteHandler } from './support/server.ts';
import { BIN, runCli, tempDir, type CliResult, cliEnv } from './support/cli.ts';
import { listFiles } from './support/linkcheck.ts';
import { redisUrl } from './support/redis.ts';

const PAGES = 48;

/** Requests in flight at the origin right now, and the most there ever were. */
const load = { active: 0, peak: 0 };
let onRequest: (() => void) | undefined;

/** Pages in folders linking onward, with stylesheets, images and one redirect, each answering after a short delay. */
function site(): Record<string, RouteHandler> {
  const routes: Record<string, RouteHandler> = {};
  const later = (type: string, body: string | Buffer): RouteHandler => async (_req: IncomingMessage, res: ServerResponse) => {
    load.active++;
    load.peak = Math.max(load.peak, load.active);
    onRequest?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
    load.active--;
    res.writeHead(200, { 'content-type': type });
    res.end(body);
  };
  const path = (i: number) => `/s${i % 4}/page${i}.html`;
  for (let i = 0; i < PAGES; i++) {
    const next = [i + 1, i * 7 + 3, i * 5 + 11].map((n) => path(n % PAGES));
    routes[path(i)] = later(
      'text/html',
      `<!doctype html><html><head><title>Page ${i}</title><link rel="stylesheet" href="/css/s${i % 5}.css"></head><body><h1>Page ${i}</h1><img src="/img/i${i % 7}.gif"><a href="/old">old</a>${next.map((n) => `<a href="${n}">${n}</a>`).join(' ')}</body></html>`,
    );
  }
  for (let i = 0; i < 5; i++) routes[`/css/s${i}.css`] = later('text/css', `body { background: url(../img/i${i}.gif) }`);
  for (let i = 0; i < 7; i++) routes[`/img/i${i}.gif`] = later('image/gif', Buffer.from(`GIF89a-fixture-${i}`));
  routes['/old'] = (_req, res) => {
    res.writeHead(301, { location: path(1) });
    res.end();
  };
  routes['/'] = later('text/html', `<!doctype html><title>Home</title><a href="${path(0)}">start</a> <a href="/index.html">home again</a>`);
  routes['/index.html'] = later('text/html', `<!doctype html><title>Home</title><a href="${path(0)}">start</a> <a href="/index.html">home again</a>`);
  return routes;
}

function snapshot(root: string): Map<string, string> {
  return new Map(listFiles(root).map((file) => [file, readFileSync(join(root, file)).toString('base64')]));
}

function assertSameMirror(actual: Map<string, string>, expected: Map<string, string>): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [file, bytes] of expected) assert.equal(actual.get(file), bytes, `${file} differs`);
}

/** Request targets other than robots.txt (each worker reads robots.txt once for itself), counted. */
function fetchCounts(server: FixtureServer, since: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of server.requests.slice(since)) if (request.url !== '/robots.txt') counts.set(request.url, (counts.get(request.url) ?? 0) + 1);
  return counts;
}

/** A single worker's mirror (on SQLite, the default) and the URLs it fetched. */
async function reference(server: FixtureServer): Promise<{ files: Map<string, string>; fetched: string[] }> {
  const output = await tempDir();
  const before = server.requests.length;
  const single = await runCli(['crawl', `${server.origin}/`, '-o', output, '--quiet', '--concurrency', '4']);
  assert.equal(single.code, 0, single.stderr);
  const files = snapshot(output);
  assert.ok(files.size >= PAGES + 12, `the reference mirror has only ${files.size} files`);
  return { files, fetched: [...fetchCounts(server, before).keys()].sort() };
}

async function workers(count: number, args: string[]): Promise<CliResult[]> {
  return Promise.all(Array.from({ length: count }, () => runCli(args)));
}

describe('many workers sharing a crawl state on Redis', () => {
  for (const count of [2, 4]) {
    it(`${count} workers make the same mirror as one, fetch each URL once, and keep the per-host limit together`, async () => {
      const server = await startServer({ routes: site() });
      try {
        const { files: expected, fetched } = await reference(server);
        const output = await tempDir();
        const before = server.requests.length;
        load.peak = 0;
        const args = ['crawl', `${server.origin}/`, '-o', output, '--quiet', '--concurrency', '3', '--per-host', '2', '--state', await redisUrl()];
        for (const result of await workers(count, args)) assert.equal(result.code, 0, result.stderr);
        assertSameMirror(snapshot(output), expected);
        const counts = fetchCounts(server, before);
        assert.deepEqual([...counts].filter(([, n]) => n > 1), [], 'no URL fetched twice');
        assert.deepEqual([...counts.keys()].sort(), fetched, 'the same URLs as one worker fetched');
        assert.ok(load.peak <= 2, `${load.peak} requests at once to one host, limit 2 across ${count} workers`);
        assert.equal(load.peak, 2, 'the workers did share the host at its limit');
        const verify = await runCli(['verify', output]);
        assert.equal(verify.code, 0, verify.stdout);
      } finally {
        await server.close();
      }
    });
  }

  it('finishes the mirror whole when one of three workers is killed mid-crawl (its leases expire)', async () => {
    const server = await startServer({ routes: site() });
    try {
      const { files: expected } = await reference(server);
      const output = await tempDir();
      const args = ['crawl', `${server.origin}/`, '-o', output, '--quiet', '--concurrency', '3', '--render', 'never', '--lease', '1s', '--state', await redisUrl()];
      const start = server.requests.length;
      const victim = spawn(process.execPath, [BIN, ...args], { env: cliEnv(), stdio: 'ignore' });
      const killed = new Promise<void>((done) => victim.on('exit', () => done()));
      onRequest = () => {
        if (server.requests.length - start >= 20) {
          onRequest = undefined;
          victim.kill('SIGKILL');
        }
      };
      const others = workers(2, args);
      await killed;
      for (const result of await others) assert.equal(result.code, 0, result.stderr);
      assertSameMirror(snapshot(output), expected);
      const verify = await runCli(['verify', output]);
      assert.equal(verify.code, 0, verify.stdout);
    } finally {
      onRequest = undefined;
      await server.close();
    }
  });

  it('refuses a worker whose options differ from the crawl it joins, naming the option', async () => {
    const server = await startServer({ routes: site() });
    try {
      const output = await tempDir();
      const stateUrl = await redisUrl();
      const first = await runCli(['crawl', `${server.origin}/`, '-o', output, '--quiet', '--depth', '1', '--state', stateUrl]);
      assert.equal(first.code, 0, first.stderr);
      const requests = server.requests.length;
      const second = await runCli(['crawl', `${server.origin}/`, '-o', output, '--quiet', '--depth', '3', '--state', stateUrl]);
      assert.equal(second.code, 2);
      assert.match(second.stderr, /^sitemirror: this worker's depth \(3; the crawl has 1\) differs from the crawl already in redis:\/\/.*start every worker with the same options/);
      assert.equal(server.requests.length, requests, 'the refused worker fetched nothing');
    } finally {
      await server.close();
    }
  });

  it('fails at start with one line when the state cannot be reached', async () => {
    const output = await tempDir();
    const result = await runCli(['crawl', 'http://127.0.0.1:9/', '-o', output, '--state', 'redis://127.0.0.1:1/0']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'sitemirror: cannot reach the crawl state at redis://127.0.0.1:1/0: connect ECONNREFUSED 127.0.0.1:1\n');
  });
});
