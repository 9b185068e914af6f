// The seed's robots.txt is asked for while the crawler's code loads (src/head-start.ts), through the real CLI.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { html, links, page, startHostileServer, type HostileServer, type RouteHandler } from './support/hostile-server.ts';
import { runCli, tempDir } from './support/cli.ts';
import { parseCrawlArgs } from '../src/config.ts';
import { HeadStart } from '../src/head-start.ts';
import type { PageSource } from '../src/types.ts';

const servers: HostileServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

/** robots.txt answered after `delayMs`, so the crawler is loaded and waiting for it when it arrives. */
function slowRobots(text: string, delayMs: number): RouteHandler {
  return (_req, res) => {
    setTimeout(() => page(text, 'text/plain')(_req, res), delayMs);
  };
}

async function site(robots: RouteHandler): Promise<HostileServer> {
  const server = await startHostileServer({
    '/robots.txt': robots,
    '/': page(html('home', links(['/a.html', '/private/b.html']))),
    '/a.html': page(html('a', 'A')),
    '/private/b.html': page(html('b', 'B')),
  });
  servers.push(server);
  return server;
}

describe('the head start on robots.txt', () => {
  it('asks for robots.txt once, first, and obeys it, however late it arrives', async () => {
    const server = await site(slowRobots('User-agent: *\nDisallow: /private/\n', 400));
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '-q']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(server.paths()[0], '/robots.txt');
    assert.equal(server.count('/robots.txt'), 1);
    assert.deepEqual(server.paths().slice(1).sort(), ['/', '/a.html']);
    assert.ok(existsSync(join(output, server.hostFolder, 'a.html')));
    assert.ok(!existsSync(join(output, server.hostFolder, 'private')));
  });

  it('asks again when the early answer was a 503, and obeys the second', async () => {
    let tries = 0;
    const server = await site((req, res) => {
      tries++;
      if (tries === 1) page('busy', 'text/plain', 503)(req, res);
      else page('User-agent: *\nDisallow: /private/\n', 'text/plain')(req, res);
    });
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '-q', '--retries', '1']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(server.paths().slice(0, 2), ['/robots.txt', '/robots.txt']);
    assert.deepEqual(server.paths().slice(2).sort(), ['/', '/a.html']);
  });

  it('is not taken with --ignore-robots: robots.txt is never asked for', async () => {
    const server = await site(page('User-agent: *\nDisallow: /\n', 'text/plain'));
    const output = await tempDir();
    const result = await runCli(['crawl', `${server.origin}/`, '-o', output, '-q', '--ignore-robots']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(server.paths().sort(), ['/', '/a.html', '/private/b.html']);
  });
});

/** A page that the seed request did not come from the head start. */
const FETCHED_ANEW = { body: Buffer.from('fetched anew') } as PageSource;

/** The head start alone, without the crawler: what it asks the server for by itself. */
async function headStartOn(server: HostileServer, args: string[] = [], prepare?: (output: string) => void) {
  const output = await tempDir();
  prepare?.(output);
  const headStart = HeadStart.start(parseCrawlArgs([`${server.origin}/`, '-o', output, ...args]))!;
  await headStart.take(`${server.origin}/robots.txt`)!.catch(() => undefined);
  const seed = headStart.takeSeed(`${server.origin}/`, {}, async () => FETCHED_ANEW);
  return { headStart, seed: await seed };
}

describe('the head start on the seed of a new mirror', () => {
  it('asks for the seed as soon as robots.txt allows it, before any crawler code runs', async () => {
    const server = await site(page('User-agent: *\nDisallow: /private/\n', 'text/plain'));
    const { headStart, seed } = await headStartOn(server);
    assert.deepEqual(server.paths(), ['/robots.txt', '/']);
    assert.equal(seed?.status, 200);
    assert.match(seed!.body.toString(), /<title>home<\/title>/);
    await headStart.fetcher.close();
  });

  it('is not handed to a seed request that carries headers of its own (a validator), and stays for the plain one', async () => {
    const server = await site(page('User-agent: *\n', 'text/plain'));
    const output = await tempDir();
    const headStart = HeadStart.start(parseCrawlArgs([`${server.origin}/`, '-o', output]))!;
    assert.equal(headStart.takeSeed(`${server.origin}/`, { 'if-none-match': '"x"' }, async () => FETCHED_ANEW), undefined);
    const seed = await headStart.takeSeed(`${server.origin}/`, {}, async () => FETCHED_ANEW);
    assert.match(seed!.body.toString(), /<title>home<\/title>/);
    await headStart.fetcher.close();
  });

  it('does not ask when robots.txt disallows the seed: the crawl decides and fetches it itself', async () => {
    const server = await site(page('User-agent: *\nDisallow: /\n', 'text/plain'));
    const { headStart, seed } = await headStartOn(server);
    assert.deepEqual(server.paths(), ['/robots.txt']);
    assert.equal(seed, FETCHED_ANEW);
    await headStart.fetcher.close();
  });

  it('does not ask for a seed that --exclude takes out of scope', async () => {
    const server = await site(page('User-agent: *\n', 'text/plain'));
    const { headStart, seed } = await headStartOn(server, ['--exclude', '/$']);
    assert.deepEqual(server.paths(), ['/robots.txt']);
    assert.equal(seed, undefined);
    await headStart.fetcher.close();
  });

  it('does not ask where a mirror already exists (a resume or re-crawl decides what is due)', async () => {
    const server = await site(page('User-agent: *\n', 'text/plain'));
    const { headStart, seed } = await headStartOn(server, [], (output) => {
      mkdirSync(join(output, '.sitemirror'), { recursive: true });
      writeFileSync(join(output, '.sitemirror', 'state.db'), '');
    });
    assert.deepEqual(server.paths(), ['/robots.txt']);
    assert.equal(seed, undefined);
    await headStart.fetcher.close();
  });

  it('is taken by the crawl: the seed is requested once and mirrored, named as the frontier names it', async () => {
    const server = await site(page('User-agent: *\nDisallow: /private/\n', 'text/plain'));
    const output = await tempDir();
    // With a fragment: the head start must name the seed as the frontier does, or it is asked for twice.
    const result = await runCli(['crawl', `${server.origin}/#top`, '-o', output, '-q']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(server.count('/'), 1);
    assert.deepEqual(server.paths().slice(0, 2), ['/robots.txt', '/']);
    assert.ok(existsSync(join(output, server.hostFolder, 'index.html')));
    assert.ok(existsSync(join(output, server.hostFolder, 'a.html')));
  });
});
