// A crawl run again over its mirror goes on where limits stopped it, and leaves other seeds' crawls alone.
// fixtures/rerun/ is a chain index → a → b → c → d (depths 0 to 4), with flaky.html linked from the index too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type FixtureServer } from './support/server.ts';
import { runCli, tempDir } from './support/cli.ts';

const ALL_PAGES = ['index.html', 'a.html', 'flaky.html', 'b.html', 'c.html', 'd.html'];

function mirroredPages(output: string, server: FixtureServer): string[] {
  return ALL_PAGES.filter((page) => existsSync(join(output, server.hostFolder, page)));
}

// SQLite only: workers on a Redis state must share the crawl's options, so its limits cannot change between runs.
describe('a rerun with higher limits goes on', () => {
  const crawl = (server: FixtureServer, output: string, args: string[]) => runCli(['crawl', `${server.origin}/`, '-o', output, '--retries', '0', ...args]);

  it('--max-pages 2, then 4, then none: breadth first, each run from where the last stopped', async () => {
    const server = await startServer({ root: 'rerun' });
    try {
      const output = await tempDir('sitemirror-rerun-');
      const first = await crawl(server, output, ['--max-pages', '2']);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(mirroredPages(output, server), ['index.html', 'a.html']);

      const second = await crawl(server, output, ['--max-pages', '4']);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /going on with 2 pages an earlier run left out for --max-pages or --depth/);
      assert.deepEqual(mirroredPages(output, server), ['index.html', 'a.html', 'flaky.html', 'b.html']);
      assert.equal(server.paths().filter((path) => path === '/index.html' || path === '/').length, 1, 'pages already mirrored are not fetched again');

      const third = await crawl(server, output, []);
      assert.equal(third.code, 0, third.stderr);
      assert.deepEqual(mirroredPages(output, server), ALL_PAGES);
      // b.html was written while c.html was left out: its link to c now points at the mirrored file.
      assert.match(readFileSync(join(output, server.hostFolder, 'b.html'), 'utf8'), /<a href="c.html">/);
      const verify = await runCli(['verify', output]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    } finally {
      await server.close();
    }
  });

  it('--depth 1, then none: the pages deeper than the first limit are crawled by the second run', async () => {
    const server = await startServer({ root: 'rerun' });
    try {
      const output = await tempDir('sitemirror-rerun-');
      const shallow = await crawl(server, output, ['--depth', '1']);
      assert.equal(shallow.code, 0, shallow.stderr);
      assert.deepEqual(mirroredPages(output, server), ['index.html', 'a.html', 'flaky.html']);
      const deeper = await crawl(server, output, ['--depth', '3']);
      assert.equal(deeper.code, 0, deeper.stderr);
      assert.deepEqual(mirroredPages(output, server), ['index.html', 'a.html', 'flaky.html', 'b.html', 'c.html']);
      const whole = await crawl(server, output, []);
      assert.equal(whole.code, 0, whole.stderr);
      assert.deepEqual(mirroredPages(output, server), ALL_PAGES);
      assert.match(readFileSync(join(output, server.hostFolder, 'a.html'), 'utf8'), /<a href="b.html">/);
    } finally {
      await server.close();
    }
  });
});

describe('two seeds in one mirror folder', () => {
  it("a crawl of one seed neither retries nor continues the other seed's crawl", async () => {
    let flakyAnswers = 0;
    const first = await startServer({
      root: 'rerun',
      routes: {
        // Fails the first time (a transient 503), then serves the page.
        '/flaky.html': (_req, res) => {
          flakyAnswers++;
          if (flakyAnswers === 1) {
            res.writeHead(503, { 'content-type': 'text/plain' });
            res.end('busy\n');
            return;
          }
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'rerun', 'flaky.html')));
        },
      },
    });
    const second = await startServer({ root: 'rerun' });
    try {
      const output = await tempDir('sitemirror-two-seeds-');
      const crawl = (server: FixtureServer, args: string[] = []) => runCli(['crawl', `${server.origin}/`, '-o', output, '--retries', '0', ...args]);

      const a = await crawl(first, ['--depth', '1']);
      assert.equal(a.code, 1, 'the 503 is a failure of the run');
      assert.equal(flakyAnswers, 1);
      const b = await crawl(second);
      assert.equal(b.code, 0, b.stderr);
      assert.doesNotMatch(b.stderr, /trying again|going on with/);
      assert.equal(flakyAnswers, 1, "the second seed's crawl did not retry the first seed's failure");
      assert.deepEqual(mirroredPages(output, first), ['index.html', 'a.html'], "nor went deeper into the first seed's site");
      assert.deepEqual(mirroredPages(output, second), ALL_PAGES);

      const again = await crawl(first);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /trying again 1 URLs that failed last time/);
      assert.equal(flakyAnswers, 2);
      assert.deepEqual(mirroredPages(output, first), ALL_PAGES);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('a new seed in a folder that already holds --max-pages pages is refused with a one-line error', async () => {
    const first = await startServer({ root: 'rerun' });
    const second = await startServer({ root: 'rerun' });
    try {
      const output = await tempDir('sitemirror-two-seeds-');
      const a = await runCli(['crawl', `${first.origin}/`, '-o', output, '--max-pages', '3']);
      assert.equal(a.code, 0, a.stderr);
      const b = await runCli(['crawl', `${second.origin}/`, '-o', output, '--max-pages', '3']);
      assert.equal(b.code, 2);
      assert.equal(
        b.stderr.trim(),
        `sitemirror: the seed ${second.origin}/ is not crawled: ${output} already holds the 3 pages --max-pages allows; raise it to go on`,
      );
      assert.deepEqual(mirroredPages(output, second), []);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
