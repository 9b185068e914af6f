// SCENARIOS.md B-01: robots.txt user-agent groups and the `*` group, a stale local robots.txt, an explicit seed that
// robots.txt disallows (ours: refused, robots wins), and robots off. Real server, real CLI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'cheerio';
import { startServer, type FixtureServer } from './support/server.ts';
import { runCli, tempDir, type CliResult } from './support/cli.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';

interface Mirror {
  result: CliResult;
  output: string;
  site: string;
  /** Request targets the server saw during this run only. */
  requested: string[];
}

async function mirror(server: FixtureServer, seedPath: string, args: string[] = [], output?: string): Promise<Mirror> {
  const folder = output ?? (await tempDir());
  const before = server.requests.length;
  const result = await runCli(['crawl', `${server.origin}${seedPath}`, '--output', folder, '--quiet', '--retries', '0', ...args]);
  return { result, output: folder, site: join(folder, server.hostFolder), requested: server.paths().slice(before) };
}

function attrs(site: string, path: string, selector: string, name: string): string[] {
  const $ = load(readFileSync(join(site, path), 'utf8'));
  return $(selector).map((_, element) => $(element).attr(name)).get();
}

const SUBPAGE1_FILE = 'subdir1/subpage1.html@query&param.html';
const ALLOWED_FILES = ['index.html', 'secondpage.html', SUBPAGE1_FILE, 'subdir1/subpage2.html'];

describe('B-01 robots.txt user-agent groups', () => {
  let server: FixtureServer;

  before(async () => {
    server = await startServer({ root: 'scenarios/recursion/b01' });
  });
  after(() => server.close());

  describe('robots on', () => {
    let run: Mirror;

    before(async () => {
      run = await mirror(server, '/index.html');
    });

    it('saves the allowed pages, the query page under our query naming', () => {
      assert.equal(run.result.code, 0, run.result.stderr);
      assert.deepEqual(listFiles(run.site), [...ALLOWED_FILES].sort());
      assert.ok(run.requested.includes('/subdir1/subpage1.html?query&param'), run.requested.join(' '));
    });

    // The Badboy group disallows everything, but it is not ours: the `*` group (only /subdir2/) applies.
    it('requests nothing under /subdir2/ and reads robots.txt once', () => {
      assert.deepEqual(run.requested.filter((path) => path.startsWith('/subdir2/')), []);
      assert.equal(run.requested.filter((path) => path === '/robots.txt').length, 1);
    });

    it('writes the disallowed links through <base> as absolute origin URLs, and removes <base>', () => {
      assert.deepEqual(attrs(run.site, 'secondpage.html', 'a', 'href'), [
        'secondpage.html',
        `${server.origin}/subdir2/subpage1.html?query&param#frag`,
        `${server.origin}/subdir2/subpage2.html`,
        `${server.origin}/subdir2/audio.mp3`,
      ]);
      assert.deepEqual(attrs(run.site, 'secondpage.html', 'base', 'href'), []);
      assert.deepEqual(brokenLinks(run.site), []);
    });

    it('links the allowed pages relatively, keeping the fragment', () => {
      assert.deepEqual(attrs(run.site, 'index.html', 'a', 'href'), [
        'secondpage.html',
        'subdir1/subpage1.html@query%26param.html#frag',
        'subdir1/subpage2.html',
      ]);
      assert.deepEqual(attrs(run.site, SUBPAGE1_FILE, 'link[rel=canonical]', 'href'), [`${server.origin}/subdir1/subpage1.html?query&param`]);
    });
  });

  it('(a) does not trust a robots.txt left in the output folder: the live one is read and wins', async () => {
    const output = await tempDir();
    mkdirSync(join(output, server.hostFolder), { recursive: true });
    writeFileSync(join(output, server.hostFolder, 'robots.txt'), 'User-agent: *\nAllow: /\n');
    const run = await mirror(server, '/index.html', [], output);
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.equal(run.requested[0], '/robots.txt');
    assert.deepEqual(run.requested.filter((path) => path.startsWith('/subdir2/')), []);
    assert.ok(!existsSync(join(run.site, 'subdir2')));
  });

  // Ours differs from wget2 on purpose (README "Politeness"): robots wins over an explicit seed. The crawl is
  // refused with one clear line and exit 1, after reading robots.txt and nothing else.
  it('(b) refuses a seed that robots.txt disallows, with one line and exit 1', async () => {
    const run = await mirror(server, '/subdir2/subpage2.html');
    assert.equal(run.result.code, 1, run.result.stderr);
    const lines = run.result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.result.stderr);
    assert.match(lines[0]!, new RegExp(`^sitemirror: the seed ${server.origin}/subdir2/subpage2\\.html is disallowed by robots\\.txt`));
    assert.match(lines[0]!, /--ignore-robots/);
    assert.deepEqual(run.requested, ['/robots.txt']);
    assert.ok(!existsSync(join(run.site, 'subdir2')));
  });

  it('(b) refuses it the same way with --json, as an error on stderr', async () => {
    const run = await mirror(server, '/subdir2/subpage2.html', ['--json']);
    assert.equal(run.result.code, 1, run.result.stderr);
    assert.match(run.result.stderr, /^sitemirror: the seed \S+ is disallowed by robots\.txt/);
    assert.deepEqual(run.requested, ['/robots.txt']);
  });

  it('(b) fetches the same seed with --ignore-robots', async () => {
    const run = await mirror(server, '/subdir2/subpage2.html', ['--ignore-robots', '--depth', '0']);
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(listFiles(run.site), ['subdir2/subpage2.html']);
  });

  it('(c) robots off: all seven pages and files, audio.mp3 included, with a warning', async () => {
    const run = await mirror(server, '/index.html', ['--ignore-robots']);
    assert.equal(run.result.code, 0, run.result.stderr);
    // wget2 counts 8 because it saves robots.txt; we never fetch it with robots off, nor save it when we do.
    assert.deepEqual(listFiles(run.site), [
      ...ALLOWED_FILES,
      'subdir2/audio.mp3',
      'subdir2/subpage1.html@query&param.html',
      'subdir2/subpage2.html',
    ].sort());
    assert.ok(!run.requested.includes('/robots.txt'));
    assert.match(run.result.stderr, /warning: --ignore-robots/);
    assert.deepEqual(attrs(run.site, 'secondpage.html', 'a', 'href'), [
      'secondpage.html',
      'subdir2/subpage1.html@query%26param.html#frag',
      'subdir2/subpage2.html',
      'subdir2/audio.mp3',
    ]);
    assert.deepEqual(brokenLinks(run.site), []);
  });
});
