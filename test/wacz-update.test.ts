// Issue 7, item 3: `update` appends a WARC of its own; an unchanged resource (a 304, or the same payload digest)
// becomes a revisit record that refers to the earlier capture instead of a second copy of the body.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMirrorWarcs, readZip, responsesFor, type ReadRecord } from './support/archive.ts';
import { startServer, type FixtureServer } from './support/server.ts';
import { runCli, tempDir, type CliResult } from './support/cli.ts';

const NOT_MODIFIED = 'http://netpreserve.org/warc/1.1/revisit/server-not-modified';
const IDENTICAL = 'http://netpreserve.org/warc/1.1/revisit/identical-payload-digest';

describe('update with --warc: revisits for what did not change', () => {
  let server: FixtureServer;
  let output: string;
  let update: CliResult;
  let firstFiles: string[];
  let first: ReadRecord[];
  let second: ReadRecord[];
  let version = 1;

  before(async () => {
    server = await startServer({ root: 'warc' });
    // index.html answers conditional requests (304); style.css and logo.png carry no validators, so they come again
    // whole with the same bytes; about.html changes between the runs.
    server.route('/index.html', (req, res) => {
      if (req.headers['if-none-match'] === '"home-1"') {
        res.writeHead(304, { etag: '"home-1"', 'x-fixture': 'not-modified' });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', etag: '"home-1"' });
      res.end(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'warc', 'index.html')));
    });
    server.route('/about.html', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>About</title><p>version ${version}</p><a href="index.html">Home</a>`);
    });
    output = await tempDir();
    const crawl = await runCli(['crawl', `${server.origin}/index.html`, '--output', output, '--retries', '0', '--wacz', '--quiet'], { timeoutMs: 30_000 });
    assert.ok(crawl.code === 1, crawl.stderr); // old.html, missing.html and packed.txt are 404 here
    ({ files: firstFiles, records: first } = await readMirrorWarcs(output));
    version = 2;
    update = await runCli(['update', output, '--quiet'], { timeoutMs: 30_000 });
    const all = await readMirrorWarcs(output);
    second = all.records.filter((record) => !firstFiles.includes(record.file));
  });
  after(() => server.close());

  it('writes the update\'s records to a new WARC file, leaving the crawl\'s as it was', async () => {
    assert.ok(update.code === 1, update.stderr);
    const { files } = await readMirrorWarcs(output);
    assert.equal(files.length, firstFiles.length + 1);
    assert.equal(second[0]?.type, 'warcinfo');
    assert.match(second[0]!.payload.toString('utf8'), /^operation: update$/m);
  });

  it('records a 304 as a server-not-modified revisit that refers to the first capture', () => {
    const url = `${server.origin}/index.html`;
    const original = responsesFor(first, url);
    assert.equal(original.length, 1);
    assert.equal(responsesFor(second, url).length, 0, 'no second response for an unchanged page');
    const [revisit] = responsesFor(second, url, 'revisit');
    assert.ok(revisit, 'no revisit record');
    assert.equal(revisit.raw.warcHeader('WARC-Profile'), NOT_MODIFIED);
    assert.equal(revisit.raw.warcHeader('WARC-Refers-To'), original[0]!.id);
    assert.equal(revisit.raw.warcHeader('WARC-Refers-To-Target-URI'), url);
    assert.equal(revisit.raw.warcHeader('WARC-Refers-To-Date'), original[0]!.date);
    assert.equal(revisit.payloadDigest, original[0]!.payloadDigest);
    assert.equal(revisit.status, 304);
    assert.equal(revisit.headers.get('x-fixture'), 'not-modified');
    assert.equal(revisit.payload.length, 0);
  });

  it('records a resource fetched again with the same bytes as an identical-payload-digest revisit', () => {
    for (const path of ['/style.css', '/logo.png']) {
      const url = `${server.origin}${path}`;
      const original = responsesFor(first, url)[0]!;
      assert.equal(responsesFor(second, url).length, 0, `${path}: a second copy of the body`);
      const revisits = responsesFor(second, url, 'revisit');
      assert.equal(revisits.length, 1, path);
      assert.equal(revisits[0]!.raw.warcHeader('WARC-Profile'), IDENTICAL, path);
      assert.equal(revisits[0]!.raw.warcHeader('WARC-Refers-To'), original.id, path);
      assert.equal(revisits[0]!.payloadDigest, original.payloadDigest, path);
      assert.equal(revisits[0]!.status, 200, path);
      assert.equal(revisits[0]!.payload.length, 0, path);
    }
  });

  it('records a changed resource as a new response with the new bytes', () => {
    const url = `${server.origin}/about.html`;
    const [changed] = responsesFor(second, url);
    assert.ok(changed, 'no new response');
    assert.match(changed.payload.toString('utf8'), /version 2/);
    assert.equal(responsesFor(second, url, 'revisit').length, 0);
  });

  it('repackages the WACZ with both runs\' WARCs, the revisits indexed, and verify passes', async () => {
    const entries = await readZip(join(output, '.sitemirror', 'archive.wacz'));
    assert.equal(entries.filter((entry) => entry.name.startsWith('archive/')).length, firstFiles.length + 1);
    const index = entries.find((entry) => entry.name === 'indexes/index.cdxj')!.bytes.toString('utf8');
    const revisitLines = index.split('\n').filter((line) => line.includes('"mime":"warc/revisit"'));
    assert.equal(revisitLines.length, 3, index);
    const verify = await runCli(['verify', output]);
    assert.equal(verify.code, 0, verify.stdout);
  });
});
