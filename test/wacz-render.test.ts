// Issue 7, item 2: pages rendered in the browser are archived as they arrived from the network, not as the rewritten
// mirror files, and what the browser fetched is recorded once. Uses Debian's Chromium (see test/render.test.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { originBytes, readMirrorWarcs, responsesFor, type ReadRecord } from './support/archive.ts';
import { startServer, type FixtureServer } from './support/server.ts';
import { runCli, tempDir, type CliResult } from './support/cli.ts';

describe('--warc with rendered pages', () => {
  let server: FixtureServer;
  let output: string;
  let crawl: CliResult;
  let records: ReadRecord[];
  /** What the server was asked during the crawl (the tests' own fetches come later). */
  let crawlPaths: string[];

  before(async () => {
    server = await startServer({ root: 'warc' });
    output = await tempDir();
    crawl = await runCli(['crawl', `${server.origin}/app.html`, '--output', output, '--render', 'always', '--retries', '0', '--wacz', '--quiet'], { timeoutMs: 60_000 });
    crawlPaths = server.paths();
    ({ records } = await readMirrorWarcs(output));
  });
  after(() => server.close());

  it('renders the pages (the mirror holds what the script built)', () => {
    assert.equal(crawl.code, 0, crawl.stderr);
    const mirrored = readFileSync(join(output, server.hostFolder, 'app.html'), 'utf8');
    assert.match(mirrored, /Loaded by script/);
    assert.doesNotMatch(mirrored, /<script/);
  });

  it('archives each page as the origin sent it, not the rendered and rewritten mirror file', async () => {
    for (const path of ['/app.html', '/app2.html']) {
      const url = `${server.origin}${path}`;
      const found = responsesFor(records, url);
      assert.equal(found.length, 1, `${path}: ${found.length} responses`);
      assert.ok(found[0]!.payload.equals(await originBytes(url)), `${path}: payload differs from the origin's bytes`);
      assert.match(found[0]!.payload.toString('utf8'), /<script src="app\.js"><\/script>/);
    }
  });

  it('archives what only the browser fetched, once each, with the origin\'s bytes, whichever page asked first', async () => {
    // data.json is named in no document: only the page's script asked for it. app.js and logo.png serve two pages.
    for (const path of ['/data.json', '/app.js', '/logo.png']) {
      const url = `${server.origin}${path}`;
      const found = responsesFor(records, url);
      assert.equal(found.length, 1, `${path}: ${found.length} responses`);
      assert.equal(found[0]!.status, 200);
      assert.ok(found[0]!.payload.equals(await originBytes(url)), `${path}: payload differs from the origin's bytes`);
      assert.equal(found[0]!.headers.get('content-type'), (await fetch(url)).headers.get('content-type'));
    }
    const data = records.find((record) => record.type === 'request' && record.uri === `${server.origin}/data.json`);
    assert.ok(data, 'no request record for data.json');
    assert.match(data.raw.httpHeaders?.statusline ?? '', /^GET \/data\.json HTTP\/1\.1$/);
    // The server saw data.json asked for once: the archive and the network agree.
    assert.equal(crawlPaths.filter((path) => path === '/data.json').length, 1);
  });

  it('pairs every response with its request, and nothing else was fetched unrecorded', () => {
    const responses = records.filter((record) => record.type === 'response');
    const requests = records.filter((record) => record.type === 'request');
    assert.equal(requests.length, responses.length);
    const archivedPaths = responses.map((record) => new URL(record.uri!).pathname).sort();
    assert.deepEqual(archivedPaths, [...crawlPaths].sort());
  });
});
