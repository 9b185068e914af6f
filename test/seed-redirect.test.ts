// A seed that redirects to another host (example.com → www.example.com, an old domain → its new one) is followed: the
// crawl mirrors the site it lands on. Wget 1.x saves only the first page there, wget2 and HTTrack nothing of it.
// Two real servers: `old` answers every request with a 301 to the same path on `site`, which serves fixtures/rerun/.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type FixtureServer } from './support/server.ts';
import { runCli, tempDir } from './support/cli.ts';
import { redisUrl } from './support/redis.ts';
import { serveMirror } from '../src/serve.ts';

const PAGES = ['index.html', 'a.html', 'flaky.html', 'b.html', 'c.html', 'd.html'];

async function movedSite(options: { slowSeed?: () => boolean; extraLink?: () => boolean } = {}) {
  const site = await startServer({
    root: 'rerun',
    routes: {
      '/': (_req, res) => {
        const index = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'rerun', 'index.html'), 'utf8');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(options.extraLink?.() ? index.replace('</body>', '<p><a href="new.html">new</a></p></body>') : index);
      },
      '/new.html': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>New</title><p>Added later.</p>');
      },
    },
  });
  const old = await startServer({
    fallback: async (req, res) => {
      if (options.slowSeed?.()) await new Promise((wake) => setTimeout(wake, 1_500));
      res.writeHead(301, { location: `${site.origin}${req.url}` });
      res.end();
    },
  });
  return { site, old, close: async () => Promise.all([site.close(), old.close()]) };
}

const mirrored = (output: string, server: FixtureServer) => PAGES.filter((page) => existsSync(join(output, server.hostFolder, page)));

describe('a seed that redirects to another host', () => {
  it('takes the crawl onto that host, and the seed URL forwards to its page', async () => {
    const { site, old, close } = await movedSite();
    try {
      const output = await tempDir('sitemirror-seed-redirect-');
      const run = await runCli(['crawl', `${old.origin}/`, '-o', output]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`the seed redirects to ${site.origin}/: the crawl follows it onto 127\\.0\\.0\\.1:${new URL(site.origin).port}`));
      assert.deepEqual(mirrored(output, site), PAGES);
      const forwarder = readFileSync(join(output, old.hostFolder, 'index.html'), 'utf8');
      assert.match(forwarder, new RegExp(`url=\\.\\./${site.hostFolder}/index\\.html`));
      const verify = await runCli(['verify', output]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      // Only the seed's own redirect widens the crawl: one request to the old host for the seed, one for robots.txt.
      assert.deepEqual(old.paths().sort(), ['/', '/robots.txt']);
      // Served, the root of a mirror of two hosts lists them.
      const served = await serveMirror(output);
      try {
        const root = await (await fetch(served.url)).text();
        assert.match(root, new RegExp(`<a href="/${old.hostFolder}/">`));
        assert.match(root, new RegExp(`<a href="/${site.hostFolder}/">`));
        assert.match(await (await fetch(`${served.url}${site.hostFolder}/a.html`)).text(), /<h1>Page a<\/h1>/);
      } finally {
        await served.close();
      }
    } finally {
      await close();
    }
  });

  it('a rerun with a higher --max-pages goes on with the pages on that host', async () => {
    const { site, old, close } = await movedSite();
    try {
      const output = await tempDir('sitemirror-seed-redirect-');
      const first = await runCli(['crawl', `${old.origin}/`, '-o', output, '--max-pages', '3']);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(mirrored(output, site), ['index.html', 'a.html']);
      const rest = await runCli(['crawl', `${old.origin}/`, '-o', output]);
      assert.equal(rest.code, 0, rest.stderr);
      assert.match(rest.stderr, /going on with \d+ pages an earlier run left out/);
      assert.deepEqual(mirrored(output, site), PAGES);
    } finally {
      await close();
    }
  });

  it('an update keeps following it, even when the site answers before the seed does', async () => {
    let updating = false;
    const { site, old, close } = await movedSite({ slowSeed: () => updating, extraLink: () => updating });
    try {
      const output = await tempDir('sitemirror-seed-redirect-');
      const first = await runCli(['crawl', `${old.origin}/`, '-o', output]);
      assert.equal(first.code, 0, first.stderr);
      updating = true;
      const update = await runCli(['update', output]);
      assert.equal(update.code, 0, update.stderr);
      assert.ok(existsSync(join(output, site.hostFolder, 'new.html')), `the page linked only since the first crawl is mirrored\n${update.stderr}`);
    } finally {
      await close();
    }
  });

  it('workers sharing a Redis state stay on the seed host and say why', async () => {
    const { site, old, close } = await movedSite();
    try {
      const output = await tempDir('sitemirror-seed-redirect-');
      const run = await runCli(['crawl', `${old.origin}/`, '-o', output, '--state', await redisUrl()]);
      assert.match(run.stderr, new RegExp(`the seed redirects to ${site.origin}/, on another host, which workers sharing a state do not follow: start them with that URL`));
      assert.deepEqual(mirrored(output, site), []);
    } finally {
      await close();
    }
  });
});
