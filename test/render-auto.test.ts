// --render auto (the default; the test helper's own default is never, so it is passed) sends to the browser only the pages that run scripts: fixtures/render-auto/ mixes pages
// built by a <script> or an onload handler with pages that have none, or only data blocks (JSON-LD, a template, a
// script inside <noscript>). The script-free ones must come out byte for byte as a --render never crawl writes them,
// while --render always still renders them (the browser adds the <tbody> the fixture's tables leave out).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crawlInto } from './support/scenario.ts';
import { startServer, type FixtureServer } from './support/server.ts';
import { tempDir } from './support/cli.ts';

type Run = Awaited<ReturnType<typeof crawlInto>>;

describe('--render auto renders only the pages that run scripts', () => {
  let server: FixtureServer;
  let auto: Run;
  let never: Run;
  let always: Run;
  const saved = (run: Run, path: string) => readFileSync(join(run.site, path), 'utf8');

  before(async () => {
    server = await startServer({ root: 'render-auto' });
    const crawl = async (args: string[]) => crawlInto(server, await tempDir('sitemirror-render-auto-'), '/', ['--retries', '0', ...args]);
    [auto, never, always] = await Promise.all([crawl(['--render', 'auto']), crawl(['--render', 'never']), crawl(['--render', 'always'])]);
  });
  after(() => server?.close());

  it('all three crawls finish and mirror the same five files', () => {
    for (const run of [auto, never, always]) {
      assert.equal(run.result.code, 0, run.result.stderr);
      for (const path of ['index.html', 'scripted.html', 'handler.html', 'data-only.html', 'site.css', 'pixel.png']) {
        assert.ok(saved(run, path).length > 0, `${path} missing`);
      }
    }
    assert.ok(auto.events.some((event) => event.event === 'info' && /^rendering pages with/.test(event.message ?? '')), 'auto found and named a browser');
  });

  it('renders a page built by a script and one built by an onload handler, as always does', () => {
    for (const run of [auto, always]) {
      assert.match(saved(run, 'scripted.html'), /<p id="built">Built by a script<\/p>/);
      assert.match(saved(run, 'handler.html'), /<p id="built">Built by onload<\/p>/);
    }
    // A plain crawl keeps the empty <main> the script fills in.
    assert.match(saved(never, 'scripted.html'), /<main id="app"><\/main>/);
    assert.doesNotMatch(saved(auto, 'scripted.html'), /<main id="app"><\/main>/);
  });

  it('keeps the pages without scripts exactly as a plain crawl writes them', () => {
    for (const path of ['index.html', 'data-only.html']) assert.equal(saved(auto, path), saved(never, path), `${path} differs from --render never`);
    assert.match(saved(auto, 'index.html'), /<table class=links><tr><td><a href="scripted.html">/);
    assert.match(saved(auto, 'data-only.html'), /<script type="application\/ld\+json">/);
    assert.match(saved(auto, 'data-only.html'), /<table><tr><td>A table/);
  });

  it('starts no browser for a crawl that meets no page with scripts', async () => {
    const staticOnly = await crawlInto(server, await tempDir('sitemirror-render-auto-'), '/data-only.html', ['--render', 'auto', '--depth', '0']);
    assert.equal(staticOnly.result.code, 0, staticOnly.result.stderr);
    assert.ok(!staticOnly.events.some((event) => /rendering pages with/.test(event.message ?? '')), 'no browser was started');
    assert.equal(saved(staticOnly, 'data-only.html'), saved(never, 'data-only.html'));
  });

  it('--render always still renders every page', () => {
    assert.match(saved(always, 'index.html'), /<tbody><tr><td><a href="scripted.html">/);
    assert.match(saved(always, 'data-only.html'), /<tbody><tr><td>A table/);
  });
});
