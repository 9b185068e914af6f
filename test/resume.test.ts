// A crawl killed with SIGKILL at random moments and resumed each time ends with the same mirror as an uninterrupted one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startServer, type RouteHandler } from './support/server.ts';
import { BIN, runCli, tempDir, cliEnv } from './support/cli.ts';
import { listFiles } from './support/linkcheck.ts';
import { redisUrl } from './support/redis.ts';

const PAGES = 60;

/** Pages in three folders linking onward, each with a stylesheet and an image, answering after a short delay. */
function slowSite(onRequest: () => void): Record<string, RouteHandler> {
  const routes: Record<string, RouteHandler> = {};
  const later = (type: string, body: string | Buffer): RouteHandler => async (_req: IncomingMessage, res: ServerResponse) => {
    onRequest();
    await new Promise((resolve) => setTimeout(resolve, 15));
    res.writeHead(200, { 'content-type': type });
    res.end(body);
  };
  const path = (i: number) => `/s${i % 3}/page${i}.html`;
  for (let i = 0; i < PAGES; i++) {
    const next = [1, 2, 3].map((step) => path((i * 2 + step) % PAGES));
    routes[path(i)] = later(
      'text/html',
      `<!doctype html><html><head><title>Page ${i}</title><link rel="stylesheet" href="/css/s${i % 5}.css"></head><body><h1>Page ${i}</h1><img src="/img/i${i % 7}.gif">${next.map((n) => `<a href="${n}">${n}</a>`).join(' ')}</body></html>`,
    );
  }
  for (let i = 0; i < 5; i++) routes[`/css/s${i}.css`] = later('text/css', `body { background: url(../img/i${i}.gif) }`);
  for (let i = 0; i < 7; i++) routes[`/img/i${i}.gif`] = later('image/gif', Buffer.from(`GIF89a-fixture-${i}`));
  routes['/'] = later('text/html', `<!doctype html><title>Home</title><a href="${path(0)}">start</a>`);
  return routes;
}

function snapshot(root: string): Map<string, string> {
  return new Map(listFiles(root).map((file) => [file, readFileSync(join(root, file)).toString('base64')]));
}

/** Requests seen by the server; a run is killed when the count reaches a chosen number, so the kill lands mid-crawl. */
let requestCount = 0;
let onCount: (() => void) | undefined;

function killAtRequest(args: string[], count: number): Promise<void> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(), stdio: 'ignore' });
    onCount = () => {
      if (requestCount >= count) child.kill('SIGKILL');
    };
    child.on('exit', () => {
      onCount = undefined;
      done();
    });
  });
}

const BACKENDS: [string, () => Promise<string[]>][] = [
  ['SQLite', async () => []],
  ['Redis', async () => ['--state', await redisUrl()]],
];

for (const [backend, stateArgs] of BACKENDS) describe(`resuming a killed crawl (state on ${backend})`, () => {
  it('ends with the same files and bytes as an uninterrupted crawl', async () => {
    const server = await startServer({
      routes: slowSite(() => {
        requestCount++;
        onCount?.();
      }),
    });
    try {
      const reference = await tempDir();
      const whole = await runCli(['crawl', `${server.origin}/`, '-o', reference, '--quiet', '--concurrency', '4']);
      assert.equal(whole.code, 0, whole.stderr);
      const expected = snapshot(reference);
      assert.ok(expected.size >= PAGES + 12, `reference mirror has only ${expected.size} files`);

      const resumed = await tempDir();
      // --render never as runCli gives the reference run: the killed runs are spawned directly.
      const args = ['crawl', `${server.origin}/`, '-o', resumed, '--quiet', '--concurrency', '4', '--render', 'never', ...(await stateArgs())];
      // Three kills at random points of the crawl (it makes about PAGES + 13 requests).
      for (const share of [0.1, 0.35, 0.6]) {
        const atRequest = requestCount + Math.round((share + Math.random() * 0.15) * PAGES * 0.6);
        await killAtRequest(args, atRequest);
      }
      const requestsBeforeLastRun = server.requests.length;
      const last = await runCli(args);
      assert.equal(last.code, 0, last.stderr);
      assert.ok(server.requests.length > requestsBeforeLastRun, 'the last run had work left');
      const actual = snapshot(resumed);
      assert.deepEqual([...actual.keys()], [...expected.keys()]);
      for (const [file, bytes] of expected) assert.equal(actual.get(file), bytes, `${file} differs`);
      const verify = await runCli(['verify', resumed]);
      assert.equal(verify.code, 0, verify.stdout);
    } finally {
      await server.close();
    }
  });
});

describe('interrupting a crawl with SIGINT', () => {
  it('stops gracefully: a browsable mirror that verify passes, and a resume that finishes it', async () => {
    let count = 0;
    let interrupt: (() => void) | undefined;
    const server = await startServer({
      routes: slowSite(() => {
        count++;
        if (count === 25) interrupt?.();
      }),
    });
    try {
      const output = await tempDir();
      const args = ['crawl', `${server.origin}/`, '-o', output, '--concurrency', '2', '--render', 'never'];
      const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      interrupt = () => child.kill('SIGINT');
      const code = await new Promise<number | null>((done) => child.on('exit', done));
      assert.equal(code, 1);
      assert.match(stderr, /Stopped because the crawl was interrupted; run the same command again/);
      const partial = await runCli(['verify', output]);
      assert.equal(partial.code, 0, `a stopped crawl leaves no broken local link:\n${partial.stdout}`);
      const resumed = await runCli(args);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.ok(listFiles(output).length >= PAGES + 12);
      assert.equal((await runCli(['verify', output])).code, 0);
    } finally {
      await server.close();
    }
  });
});
