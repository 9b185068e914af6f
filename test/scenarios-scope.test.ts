// SCENARIOS.md §1, scope: R-02 (no-parent), R-05 (which <link rel> values are requisites; requisites ignore
// no-parent), R-08 (file vs folder name clash, same result in either crawl order). Real server, real CLI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'cheerio';
import { startServer, serve, type FixtureServer } from './support/server.ts';
import { runCli } from './support/cli.ts';
import { mirror, type Mirror } from './support/scenario.ts';
import { brokenLinks, listFiles } from './support/linkcheck.ts';


const read = (site: string, path: string) => readFileSync(join(site, path), 'utf8');

function attrs(site: string, path: string, selector: string, name: string): string[] {
  const $ = load(read(site, path));
  return $(selector).map((_, element) => $(element).attr(name)).get();
}

describe('R-02 --no-parent never goes above the seed folder', () => {
  let server: FixtureServer;
  let run: Mirror;

  before(async () => {
    server = await startServer({ root: 'scenarios/recursion/r02' });
    run = await mirror(server, '/firstlevel/', ['--no-parent']);
  });
  after(() => server.close());

  it('exits 0 and saves the three pages below the seed folder only', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(listFiles(run.site), ['firstlevel/index.html', 'firstlevel/lowerlevel/thirdpage.html', 'firstlevel/secondpage.html']);
  });

  it('never requests a page above the seed folder, nor one reachable only through such a page', () => {
    assert.deepEqual([...run.requested].sort(), [
      '/firstlevel/',
      '/firstlevel/lowerlevel/thirdpage.html',
      '/firstlevel/secondpage.html',
      '/robots.txt',
    ]);
  });

  it('writes the links to out-of-scope pages as absolute origin URLs', () => {
    assert.deepEqual(attrs(run.site, 'firstlevel/lowerlevel/thirdpage.html', 'a', 'href'), [
      `${server.origin}/higherlevelpage.html`,
      `${server.origin}/index.html`,
      `${server.origin}/`,
    ]);
    assert.deepEqual(brokenLinks(run.site), []);
  });

  it('ignores the file: link without fetching it, and rewrites in-scope links', () => {
    assert.deepEqual(attrs(run.site, 'firstlevel/index.html', 'a', 'href'), [
      'secondpage.html',
      `${server.origin}/index.html`,
      'file://path/file_to_be_ignored.txt',
    ]);
    assert.deepEqual(attrs(run.site, 'firstlevel/secondpage.html', 'a', 'href'), ['lowerlevel/thirdpage.html']);
  });

  it('gives the seed folder page its folder URL as canonical', () => {
    assert.deepEqual(attrs(run.site, 'firstlevel/index.html', 'link[rel=canonical]', 'href'), [`${server.origin}/firstlevel/`]);
  });
});

describe('R-05 page requisites: which <link rel> values count', () => {
  const REQUISITES = [
    'background.jpg',
    'icon.ico',
    'icon2.ico',
    'icon3.ico',
    'icon4.ico',
    'import1.css',
    'import2.css',
    'logo.svg',
    'myfavicon.ico',
    'picture.png',
    'picture1.png',
    'picture2.png',
    'picture3.png',
    'preload.css',
    'test1.css',
    'test2.css',
  ];
  let server: FixtureServer;
  let run: Mirror;

  before(async () => {
    server = await startServer({ root: 'scenarios/recursion/r05' });
    // --depth 0: the page and its requisites, no recursion (wget2's --page-requisites without -r).
    run = await mirror(server, '/index.html', ['--depth', '0']);
  });
  after(() => server.close());

  it('saves the page and every requisite, and nothing whose rel is not a requisite', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(listFiles(run.site), [...REQUISITES, 'index.html'].sort());
    for (const path of ['/secondpage.html', '/wontdownload.txt', '/not.txt']) {
      assert.ok(!run.requested.includes(path), `${path} was requested`);
    }
  });

  it('keeps the bytes of binary requisites', () => {
    assert.equal(read(run.site, 'picture2.png'), 'not really a PNG: picture2\n');
    assert.equal(read(run.site, 'icon4.ico'), 'not really an icon: icon4\n');
  });

  it('rewrites every requisite in the page, and the other links to the origin', () => {
    assert.deepEqual(attrs(run.site, 'index.html', 'link:not([rel=canonical])', 'href'), [
      'test1.css',
      'test2.css',
      'myfavicon.ico',
      'icon.ico',
      'icon2.ico',
      'icon3.ico',
      'icon4.ico',
      `${server.origin}/wontdownload.txt`,
      `${server.origin}/not.txt`,
      'preload.css',
    ]);
    assert.deepEqual(attrs(run.site, 'index.html', 'source', 'srcset'), ['logo.svg']);
    assert.deepEqual(attrs(run.site, 'index.html', 'img', 'src'), ['picture.png']);
    // Only the URLs are replaced; the author's separators stay as written.
    assert.deepEqual(attrs(run.site, 'index.html', 'img', 'srcset'), ['picture1.png, picture2.png 150w,picture3.png 100x']);
    assert.deepEqual(attrs(run.site, 'index.html', 'a', 'href'), [`${server.origin}/secondpage.html`]);
  });

  it('rewrites the imports and the background inside the preloaded stylesheet', () => {
    const css = read(run.site, 'preload.css');
    assert.match(css, /@import url\("import1\.css"\);/);
    assert.match(css, /@import "import2\.css" screen;/);
    assert.match(css, /background:\s*url\(background\.jpg\)/);
    assert.deepEqual(brokenLinks(run.site), []);
  });
});

describe('R-05 variant: requisites ignore --no-parent', () => {
  let server: FixtureServer;
  let run: Mirror;

  before(async () => {
    server = await startServer({ root: 'scenarios/recursion/r05' });
    run = await mirror(server, '/firstlevel/index.html', ['--no-parent']);
  });
  after(() => server.close());

  it('saves the requisites above the seed folder at the root of the host folder', () => {
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual(listFiles(run.site), [
      'background.jpg',
      'firstlevel/index.html',
      'import1.css',
      'import2.css',
      'myfavicon.ico',
      'picture.png',
      'picture1.png',
      'picture2.png',
      'picture3.png',
      'preload.css',
      'test1.css',
      'test2.css',
    ]);
  });

  it('does not follow the page link above the seed folder', () => {
    assert.ok(!run.requested.includes('/secondpage.html'), run.requested.join(' '));
    assert.deepEqual(attrs(run.site, 'firstlevel/index.html', 'a', 'href'), [`${server.origin}/secondpage.html`]);
  });

  it('rewrites each requisite relative to the page, keeping the srcset descriptors', () => {
    const page = 'firstlevel/index.html';
    assert.deepEqual(attrs(run.site, page, 'link:not([rel=canonical])', 'href'), ['../test1.css', '../test2.css', '../myfavicon.ico', '../preload.css']);
    assert.deepEqual(attrs(run.site, page, 'img', 'src'), ['../picture.png']);
    assert.deepEqual(attrs(run.site, page, 'img', 'srcset'), ['../picture1.png, ../picture2.png 150w, ../picture3.png 100x']);
    assert.deepEqual(brokenLinks(run.site), []);
  });
});

describe('R-08 /subdir and /subdir/index.html: a file and a folder of the same name', () => {
  const HELLO_1 = '<html><head><title>Hello 1</title></head><body><p>Hello 1</p></body></html>';
  let server: FixtureServer;
  // Seeded from index.html (file link first) and from index2.html (folder links first); one request at a time so
  // the order in which the links are met is the order in the page.
  let fileFirst: Mirror;
  let folderFirst: Mirror;
  // All at once: /subdir/ and /subdir/index.html are processed side by side.
  let concurrent: Mirror;

  before(async () => {
    server = await startServer({ root: 'scenarios/recursion/r08', routes: { '/subdir': serve(HELLO_1) } });
    fileFirst = await mirror(server, '/index.html', ['--concurrency', '1']);
    folderFirst = await mirror(server, '/index2.html', ['--concurrency', '1']);
    concurrent = await mirror(server, '/index.html', ['--concurrency', '8']);
  });
  after(() => server.close());

  // Our naming rule (README "Output layout"): /subdir as HTML is subdir.html, so it never competes with the folder.
  it('saves both bodies, in either crawl order', () => {
    for (const [run, seed] of [[fileFirst, 'index.html'], [folderFirst, 'index2.html'], [concurrent, 'index.html']] as const) {
      assert.equal(run.result.code, 0, run.result.stderr);
      assert.deepEqual(listFiles(run.site), [seed, 'subdir.html', 'subdir/index.html'].sort());
      assert.match(read(run.site, 'subdir.html'), /Hello 1/);
      assert.match(read(run.site, 'subdir/index.html'), /Hello 2/);
    }
  });

  it('links /subdir to the file and /subdir/ and /subdir/index.html to the folder index', () => {
    assert.deepEqual(attrs(fileFirst.site, 'index.html', 'a', 'href'), ['subdir.html', 'subdir/index.html', 'subdir/index.html']);
    assert.deepEqual(attrs(folderFirst.site, 'index2.html', 'a', 'href'), ['subdir/index.html', 'subdir/index.html', 'subdir.html']);
    assert.deepEqual(brokenLinks(fileFirst.site), []);
    assert.deepEqual(brokenLinks(folderFirst.site), []);
  });

  it('writes the same subdir files whichever link was seen first', () => {
    for (const path of ['subdir.html', 'subdir/index.html']) {
      assert.equal(read(fileFirst.site, path), read(folderFirst.site, path), path);
      assert.equal(read(fileFirst.site, path), read(concurrent.site, path), path);
    }
  });

  it('fetches /subdir/ and /subdir/index.html once each, then lets them share one file', () => {
    for (const run of [fileFirst, folderFirst, concurrent]) {
      assert.deepEqual([...run.requested].filter((path) => path.startsWith('/subdir')).sort(), ['/subdir', '/subdir/', '/subdir/index.html']);
    }
  });

  it('leaves state and files consistent after the shared file changed hands (verify passes)', async () => {
    for (const run of [fileFirst, folderFirst, concurrent]) {
      const verify = await runCli(['verify', run.output]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    }
  });

  // Aliases with identical bytes share a file named after the shortest URL (paths.ts preferredAlias), in any order.
  it('gives each file one canonical link: /subdir for the file, /subdir/ for the folder index', () => {
    for (const run of [fileFirst, folderFirst, concurrent]) {
      assert.deepEqual(attrs(run.site, 'subdir.html', 'link[rel=canonical]', 'href'), [`${server.origin}/subdir`]);
      assert.deepEqual(attrs(run.site, 'subdir/index.html', 'link[rel=canonical]', 'href'), [`${server.origin}/subdir/`]);
    }
  });
});
