// Bad input end to end: invalid seeds and other schemes, an output folder that cannot be written or fills up, and
// URLs whose paths try to leave the output folder or to overwrite another URL's file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openState } from '../src/state.ts';
import { runCli, tempDir } from './support/cli.ts';
import { crawlHostile, html, links, page, startHostileServer, type HostileCrawl, type HostileServer, type RouteHandler } from './support/hostile-server.ts';

const servers: HostileServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

/** Mounting needs root (CI runs as root); elsewhere the two mount-based cases say why they did not run. */
function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const MOUNT = canMount() ? false : 'needs root and mount(8) to make a read-only or a full file system';

function everyFile(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((path) => statSync(join(root, path)).isFile());
}

describe('invalid seeds', () => {
  const seeds = ['not a url', 'ftp://127.0.0.1/', 'file:///etc/passwd', 'javascript:alert(1)', 'mailto:a@b.c', 'http://', 'http://[::1', 'data:text/html,<a href=x>'];
  for (const seed of seeds) {
    it(`refuses ${JSON.stringify(seed)} with exit 2 and one line, writing nothing`, async () => {
      const cwd = await tempDir();
      const result = await runCli(['crawl', seed, '--output', 'out'], { cwd, timeoutMs: 10_000 });
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, /^sitemirror: not an http\(s\) URL: /);
      assert.deepEqual(readdirSync(cwd), []);
    });
  }
});

describe('an output folder that cannot be written', () => {
  const site = () => startHostileServer({ '/': page(html('Home', '<p>home</p>')) }).then((server) => (servers.push(server), server));

  it('says so in one line and exits 1 when the output folder lies under a file', async () => {
    const server = await site();
    const root = await tempDir();
    writeFileSync(join(root, 'file'), 'a file, not a folder');
    const result = await runCli(['crawl', `${server.origin}/`, '--output', join(root, 'file', 'out')], { timeoutMs: 10_000 });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /^sitemirror: cannot create the mirror folder .*file\/out: a file is in the way \(ENOTDIR\)/);
    assert.deepEqual(server.paths(), [], 'nothing is fetched');
  });

  // Node's recursive mkdir spins for ever at full CPU on both (mkdir answers ENOENT again once the parent exists).
  it('says so in one line and exits 1, at once, when the output folder lies under /proc', async () => {
    const server = await site();
    const result = await runCli(['crawl', `${server.origin}/`, '--output', '/proc/sitemirror-out/mirror'], { timeoutMs: 10_000 });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr.trim(), 'sitemirror: cannot create the mirror folder /proc/sitemirror-out/mirror: /proc cannot hold new folders (ENOENT)');
    assert.deepEqual(server.paths(), [], 'nothing is fetched');
  });

  it('says so in one line and exits 1, at once, when the output folder lies under a dangling symbolic link', async () => {
    const server = await site();
    const root = await tempDir();
    symlinkSync(join(root, 'unmounted'), join(root, 'disk'));
    const result = await runCli(['crawl', `${server.origin}/`, '--output', join(root, 'disk', 'out')], { timeoutMs: 10_000 });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stderr.trim(),
      `sitemirror: cannot create the mirror folder ${join(root, 'disk', 'out')}: ${join(root, 'disk')} is a symbolic link to ${join(root, 'unmounted')}, which does not exist`,
    );
    assert.deepEqual(server.paths(), [], 'nothing is fetched');
  });

  it('says so in one line and exits 1 when the output folder is read-only', { skip: MOUNT }, async () => {
    const server = await site();
    const root = await tempDir();
    execFileSync('mount', ['--bind', root, root]);
    try {
      execFileSync('mount', ['-o', 'remount,ro,bind', root]);
      const result = await runCli(['crawl', `${server.origin}/`, '--output', join(root, 'out')], { timeoutMs: 10_000 });
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, /^sitemirror: cannot create the mirror folder .*\/out: the file system is read-only \(EROFS\)/);
    } finally {
      execFileSync('umount', [root]);
    }
  });
});

describe('an output folder that becomes full', { skip: MOUNT }, () => {
  const FILES = 12;
  const body = (i: number) => Buffer.alloc(300 * 1024, 97 + i);
  let server: HostileServer;
  let disk: string;
  let first: HostileCrawl;
  let second: HostileCrawl;
  /** The records of the files as the first, stopped run left them. */
  let afterFirst: { url: string; state: string; own_path: string | null; file: Buffer | undefined }[];

  before(async () => {
    const routes: Record<string, RouteHandler> = { '/': page(html('Home', links(Array.from({ length: FILES }, (_, i) => `/f${i}.bin`)))) };
    for (let i = 0; i < FILES; i++) routes[`/f${i}.bin`] = page(body(i), 'application/octet-stream');
    server = await startHostileServer(routes);
    servers.push(server);
    disk = await tempDir();
    // 2 MiB holds the state and a few of the twelve 300 KiB files.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk]);
    first = await crawlHostile(server, '/', ['--concurrency', '2'], { output: join(disk, 'out') });
    const db = new Database(join(disk, 'out', '.sitemirror', 'state.db'), { readonly: true });
    try {
      const rows = db.prepare(`SELECT url, state, own_path FROM urls WHERE url LIKE '%.bin' ORDER BY id`).all() as { url: string; state: string; own_path: string | null }[];
      // A queued URL may hold its path already (claimed before the write that failed); only done ones have files.
      afterFirst = rows.map((row) => ({ ...row, file: row.state === 'done' ? readFileSync(join(disk, 'out', row.own_path!)) : undefined }));
    } finally {
      db.close();
    }
    execFileSync('mount', ['-o', 'remount,size=64m', disk]);
    second = await crawlHostile(server, '/', [], { output: join(disk, 'out') });
  });
  after(() => execFileSync('umount', [disk]));

  it('stops with one line that says the disk is full, and exits 1', () => {
    assert.equal(first.result.code, 1, first.result.stderr);
    assert.equal(first.warnings.length, 1, first.warnings.join('\n'));
    assert.match(first.warnings[0]!, /cannot write .*: the disk is full/);
    assert.match(first.summary.stoppedBecause!, /the disk is full/);
    assert.deepEqual(first.failed, [], 'a full disk is not the fault of any URL');
  });

  it('leaves the state consistent: each file it records is whole, the rest is still queued', () => {
    assert.equal(afterFirst.length, FILES);
    assert.ok(afterFirst.some((row) => row.state === 'queued'), 'some files wait for the next run');
    assert.ok(afterFirst.some((row) => row.state === 'done'), 'the files written before the disk filled up are kept');
    for (const row of afterFirst.filter((one) => one.state === 'done')) {
      assert.deepEqual(row.file, body(Number(/f(\d+)\.bin/.exec(row.url)![1])), row.url);
    }
    assert.deepEqual(afterFirst.filter((row) => row.state !== 'done' && row.state !== 'queued'), []);
  });

  it('resumes once there is room, fetches only what was missing, and finishes with verify passing', () => {
    assert.equal(second.result.code, 0, second.result.stderr);
    for (let i = 0; i < FILES; i++) {
      assert.deepEqual(readFileSync(join(second.site, `f${i}.bin`)), body(i));
      assert.equal(server.count(`/f${i}.bin`) <= 2, true);
    }
    assert.equal(server.count('/'), 1);
    assert.equal(second.verify.code, 0, second.verify.stdout);
  });
});

describe('a large download that fills the disk', { skip: MOUNT }, () => {
  const MiB = 1024 ** 2;
  const video = (i: number) => Buffer.alloc(8 * MiB, 65 + i);
  it('stops with one line, leaves a browsable mirror and no partial file, and a rerun with room finishes', async () => {
    const routes: Record<string, RouteHandler> = {
      '/': page(html('Videos', Array.from({ length: 4 }, (_, i) => `<video src="/v${i}.mp4"></video>`).join(''))),
    };
    for (let i = 0; i < 4; i++) routes[`/v${i}.mp4`] = page(video(i), 'video/mp4');
    const server = await startHostileServer(routes);
    servers.push(server);
    const disk = await tempDir();
    // 20 MiB: the state and two of the four 8 MiB videos; the third, read straight to a file, meets the full disk.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', disk]);
    try {
      const output = join(disk, 'out');
      const first = await crawlHostile(server, '/', ['-c', '4', '--per-host', '4'], { output });
      assert.equal(first.result.code, 1, first.result.stderr);
      assert.equal(first.warnings.length, 1, first.warnings.join('\n'));
      assert.match(first.warnings[0]!, /cannot write .*: the disk is full \(ENOSPC\)/);
      assert.deepEqual(readdirSync(join(output, '.sitemirror', 'tmp')), [], 'the partial download is gone');
      const kept = readdirSync(first.site).filter((name) => name.endsWith('.mp4'));
      assert.ok(kept.length < 4, `only part of the videos fit: ${kept.join(', ')}`);
      for (const name of kept) assert.deepEqual(readFileSync(join(first.site, name)), video(Number(name[1])), name);
      // The space the partial file took was enough to settle the links: the missing videos point at the origin.
      const home = readFileSync(join(first.site, 'index.html'), 'utf8');
      for (let i = 0; i < 4; i++) {
        assert.ok(home.includes(kept.includes(`v${i}.mp4`) ? `src="v${i}.mp4"` : `src="${server.origin}/v${i}.mp4"`), `v${i}.mp4: ${home}`);
      }
      assert.equal(first.verify.code, 0, first.verify.stdout);

      execFileSync('mount', ['-o', 'remount,size=64m', disk]);
      const second = await crawlHostile(server, '/', ['-c', '4', '--per-host', '4'], { output });
      assert.equal(second.result.code, 0, second.result.stderr);
      for (let i = 0; i < 4; i++) assert.deepEqual(readFileSync(join(second.site, `v${i}.mp4`)), video(i));
      assert.equal(second.verify.code, 0, second.verify.stdout);
    } finally {
      execFileSync('umount', [disk]);
    }
  });
});

describe('the crawl state on a disk that fills up between two of its commits', { skip: MOUNT }, () => {
  it('still commits the records it holds when it closes: the files they describe were written before the disk filled', async () => {
    const disk = await tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk]);
    try {
      const state = await openState({ outputDir: disk, purpose: 'crawl', seed: 'http://h.test/' });
      // Recorded in one batch (nothing waits on a timer here, so the batch is not committed yet).
      for (let i = 0; i < 40; i++) {
        const url = `http://h.test/file-${i}.bin`;
        const id = (await state.enqueue({ url, kind: 'requisite', expected: 'any', depth: 0, foundFrom: null, expectedPath: `h.test/file-${i}.bin` }, Infinity)) as number;
        await state.update(id, { state: 'done', local_path: `h.test/file-${i}.bin`, own_path: `h.test/file-${i}.bin`, sha256: 'a'.repeat(64), file_sha256: 'b'.repeat(64) });
      }
      // Another writer takes every byte that is left.
      const filler = openSync(join(disk, 'filler'), 'w');
      try {
        for (;;) writeSync(filler, Buffer.alloc(16 * 1024));
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        closeSync(filler);
      }
      await state.close();
      const db = new Database(join(disk, '.sitemirror', 'state.db'), { readonly: true });
      try {
        assert.equal((db.prepare(`SELECT count(*) AS n FROM urls WHERE state = 'done'`).get() as { n: number }).n, 40);
      } finally {
        db.close();
      }
    } finally {
      execFileSync('umount', [disk]);
    }
  });
});

describe('URL paths that try to leave the output folder or take another URL\'s file', () => {
  // Raw request targets as a hostile page would link them; the server answers each with a body naming its target.
  const targets = [
    '/../../../../escape1.html',
    '/a/%2e%2e/%2e%2e/%2e%2e/escape2.html',
    '/a/%2e%2e%2f%2e%2e%2fescape3.html',
    '/a/..%2f..%2f..%2fescape4.html',
    '/a\\..\\..\\..\\escape5.html',
    '/a/%5c..%5c..%5cescape6.html',
    '/nul%00byte.html',
    `/${'x'.repeat(10_000)}.html`,
    `/long/${'y'.repeat(10_000)}/z.html`,
    '/CON',
    '/aux.html',
    '/com1.txt',
    '/Page.html',
    '/page.html',
    '/PAGE.html',
    '/.sitemirror/state.db',
    '/%2esitemirror/state.db',
  ];
  let server: HostileServer;
  let sandbox: string;
  let crawl: HostileCrawl;

  before(async () => {
    server = await startHostileServer({ '/': page(html('Home', links(targets))) }, (req, res) =>
      page(html('Target', `<p id="target">${encodeURIComponent(req.url!).slice(0, 200)}</p>`))(req, res),
    );
    servers.push(server);
    sandbox = await tempDir();
    mkdirSync(join(sandbox, 'deep', 'er'), { recursive: true });
    crawl = await crawlHostile(server, '/', [], { output: join(sandbox, 'deep', 'er', 'out') });
  });

  it('crawls every link and passes verify', () => {
    assert.equal(crawl.result.code, 0, crawl.result.stderr);
    assert.equal(crawl.verify.code, 0, crawl.verify.stdout);
  });

  it('writes nothing outside the output folder, and nothing into its state folder', () => {
    const outside = everyFile(sandbox).filter((path) => !path.startsWith(join('deep', 'er', 'out') + '/'));
    assert.deepEqual(outside, []);
    const stateFiles = everyFile(join(crawl.output, '.sitemirror')).filter((path) => !/^(state\.db(-wal|-shm)?|lock|reports\/.*|raw\/.*)$/.test(path));
    assert.deepEqual(stateFiles, []);
  });

  it('gives every saved URL its own file, holding its own body, with no part of its path over 255 bytes', () => {
    const saved = crawl.events.filter((event) => event.event === 'saved' && event.url !== `${server.origin}/`);
    const paths = saved.map((event) => event.path!);
    assert.equal(new Set(paths.map((path) => path.toLowerCase())).size, paths.length, paths.join('\n'));
    for (const event of saved) {
      const text = readFileSync(join(crawl.output, event.path!), 'utf8');
      const target = decodeURIComponent(/<p id="target">([^<]*)<\/p>/.exec(text)![1]!);
      const url = new URL(event.url!);
      assert.equal(target, `${url.pathname}${url.search}`.slice(0, target.length), `${event.path} holds the body of ${target}, not of ${event.url}`);
      for (const part of event.path!.split('/')) assert.ok(Buffer.byteLength(part) <= 255, part.slice(0, 40));
    }
    // The three spellings of page.html are three files (a case-insensitive disk could not hold them apart otherwise).
    assert.equal(saved.filter((event) => /\/page\.html$/i.test(event.url!)).length, 3);
  });

  it('never names a file after a Windows device', () => {
    for (const path of everyFile(crawl.site)) {
      for (const part of path.split('/')) assert.doesNotMatch(part, /^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i, path);
    }
  });
});
