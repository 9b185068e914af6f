// update: conditional re-crawls that rewrite only what changed, a change report, removal, a lock, a consistent copy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, runCli, tempDir, cliEnv } from './support/cli.ts';
import { listFiles } from './support/linkcheck.ts';
import { startMutableSite, type MutableSite } from './support/mutable-site.ts';
import { redisUrl } from './support/redis.ts';

const PAGES = 20;
const page = (i: number, extra = '') =>
  `<!doctype html><html><head><title>Page ${i}</title><link rel="stylesheet" href="/style.css"></head><body><h1>Page ${i}</h1>${extra}<a href="/p${(i + 1) % PAGES}.html">next</a> <a href="/">home</a></body></html>`;

async function site(): Promise<MutableSite> {
  const pages: Record<string, string> = {
    '/': `<!doctype html><title>Home</title>${Array.from({ length: PAGES }, (_, i) => `<a href="/p${i}.html">${i}</a>`).join(' ')}`,
    '/style.css': 'body { color: #333 }',
  };
  for (let i = 0; i < PAGES; i++) pages[`/p${i}.html`] = page(i);
  return startMutableSite(pages);
}

function mtimes(root: string): Map<string, number> {
  return new Map(listFiles(root).map((file) => [file, statSync(join(root, file)).mtimeMs]));
}

function reportOf(stdout: string): { added: { url: string }[]; changed: { url: string }[]; removed: { url: string }[]; unchanged: number; requests: number; notModified: number } {
  const summary = stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; changes?: unknown }).find((event) => event.event === 'summary');
  assert.ok(summary?.changes, `no change report in ${stdout}`);
  return summary.changes as ReturnType<typeof reportOf>;
}

// The same scenarios on both state backends: update and verify find a Redis state through the mirror folder.
const BACKENDS: [string, () => Promise<string[]>][] = [
  ['SQLite', async () => []],
  ['Redis', async () => ['--state', await redisUrl()]],
];

for (const [backend, stateArgs] of BACKENDS) describe(`update (state on ${backend})`, () => {
  it('re-checks an unchanged site with conditional requests and rewrites nothing', async () => {
    const origin = await site();
    const output = await tempDir();
    assert.equal((await runCli(['crawl', `${origin.server.origin}/`, '-o', output, '--quiet', ...(await stateArgs())])).code, 0);
    assert.equal(existsSync(join(output, '.sitemirror', 'state.db')), backend === 'SQLite', `the state is kept on ${backend}`);
    const before = mtimes(output);
    const requestsBefore = origin.server.requests.length;

    const result = await runCli(['update', output, '--json']);
    await origin.server.close();
    assert.equal(result.code, 0, result.stderr);
    const report = reportOf(result.stdout);
    assert.deepEqual([report.added, report.changed, report.removed], [[], [], []]);
    assert.equal(report.unchanged, PAGES + 2);
    const updateRequests = origin.server.requests.slice(requestsBefore).filter((request) => request.url !== '/robots.txt');
    assert.equal(updateRequests.length, PAGES + 2);
    for (const request of updateRequests) assert.ok(request.headers['if-none-match'] && request.headers['if-modified-since'], `${request.url} was not conditional`);
    assert.equal(report.notModified, PAGES + 2);
    assert.deepEqual(mtimes(output), before, 'no file was rewritten');
    assert.equal((await runCli(['verify', output])).code, 0);
  });

  it('reports exactly the pages that changed, appeared and disappeared, and takes the removed page out', async () => {
    const origin = await site();
    origin.validators = false; // the changes are found by content hash, as with an origin that sends no validators
    const output = await tempDir();
    assert.equal((await runCli(['crawl', `${origin.server.origin}/`, '-o', output, '--quiet', ...(await stateArgs())])).code, 0);
    assert.equal((await runCli(['verify', output])).code, 0);
    const host = origin.server.hostFolder;
    const before = mtimes(output);

    origin.set('/p1.html', page(1, '<p>changed</p>'));
    origin.set('/p2.html', page(2, '<p>changed</p><a href="/new.html">new</a>'));
    origin.set('/p3.html', page(3, '<p>changed</p>'));
    origin.set('/new.html', '<!doctype html><title>New</title><h1>A new page</h1>');
    origin.remove('/p4.html');

    const result = await runCli(['update', output, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = reportOf(result.stdout);
    const urls = (entries: { url: string }[]) => entries.map((entry) => entry.url.replace(origin.server.origin, ''));
    assert.deepEqual(urls(report.added), ['/new.html']);
    assert.deepEqual(urls(report.changed), ['/p1.html', '/p2.html', '/p3.html']);
    assert.deepEqual(urls(report.removed), ['/p4.html']);

    assert.ok(!existsSync(join(output, host, 'p4.html')), 'the removed page is gone from the mirror');
    assert.match(readFileSync(join(output, host, 'p3.html'), 'utf8'), new RegExp(`href="${origin.server.origin}/p4.html"`), 'links to it point at the origin');
    assert.match(readFileSync(join(output, host, 'p1.html'), 'utf8'), /changed/);
    assert.ok(existsSync(join(output, host, 'new.html')));
    const after = mtimes(output);
    assert.equal(after.get(`${host}/p10.html`), before.get(`${host}/p10.html`), 'an unchanged page keeps its modification time');
    assert.equal(after.get(`${host}/style.css`), before.get(`${host}/style.css`));
    assert.equal((await runCli(['verify', output])).code, 0);
    // Against the same origin, still up: once closed, its port may be another test's server by then.
    const printed = await runCli(['update', output]);
    await origin.server.close();
    assert.match(printed.stderr, /Changes: 0 added, 0 changed, 0 removed, \d+ unchanged/);
  });

  it('keeps removed pages with --keep-removed, and still reports them', async () => {
    const origin = await site();
    const output = await tempDir();
    await runCli(['crawl', `${origin.server.origin}/`, '-o', output, '--quiet', ...(await stateArgs())]);
    origin.remove('/p5.html');
    const result = await runCli(['update', output, '--keep-removed', '--json']);
    await origin.server.close();
    assert.deepEqual(reportOf(result.stdout).removed.map((entry) => entry.url), [`${origin.server.origin}/p5.html`]);
    assert.ok(existsSync(join(output, origin.server.hostFolder, 'p5.html')));
    assert.match(readFileSync(join(output, origin.server.hostFolder, 'p4.html'), 'utf8'), /href="p5\.html"/);
    assert.equal((await runCli(['verify', output])).code, 0);
  });

  it('refuses a second update of the same mirror while one runs, and the reader never sees a mix', async () => {
    const origin = await site();
    const output = await tempDir();
    await runCli(['crawl', `${origin.server.origin}/`, '-o', output, '--quiet', ...(await stateArgs())]);
    const host = origin.server.hostFolder;
    const oldP1 = readFileSync(join(output, host, 'p1.html'), 'utf8');
    origin.set('/p1.html', page(1, '<p>changed</p>'));
    origin.set('/p9.html', page(9, '<p>changed</p>'));
    // Slow enough that the first update still runs while a second process starts on a loaded machine.
    origin.latencyMs = 400;

    const first = spawn(process.execPath, [BIN, 'update', output, '--quiet'], { env: cliEnv(), stdio: 'ignore' });
    const firstDone = new Promise<number | null>((done) => first.on('exit', done));
    // Wait until the first update is fetching, then try a second one and read the mirror.
    const requests = origin.server.requests.length;
    while (origin.server.requests.length < requests + 3) await new Promise((resolve) => setTimeout(resolve, 20));
    try {
      const second = await runCli(['update', output]);
      assert.equal(second.code, 1, second.stderr);
      assert.match(second.stderr, backend === 'SQLite' ? /another sitemirror update \(pid \d+/ : /another sitemirror update is using the crawl state at redis:/);
      assert.equal(readFileSync(join(output, host, 'p1.html'), 'utf8'), oldP1, 'mid-update, the mirror still shows the old page');
    } catch (error) {
      first.kill(); // a failed check must not leave the first update (and the test run) hanging
      await origin.server.close();
      throw error;
    }

    assert.equal(await firstDone, 0);
    await origin.server.close();
    assert.match(readFileSync(join(output, host, 'p1.html'), 'utf8'), /changed/);
    assert.match(readFileSync(join(output, host, 'p9.html'), 'utf8'), /changed/);
  });

  it('leaves the previous mirror intact when an update is killed', async () => {
    const origin = await site();
    const output = await tempDir();
    await runCli(['crawl', `${origin.server.origin}/`, '-o', output, '--quiet', ...(await stateArgs())]);
    const host = origin.server.hostFolder;
    const snapshot = new Map(listFiles(output).map((file) => [file, readFileSync(join(output, file), 'utf8')]));
    for (let i = 0; i < PAGES; i++) origin.set(`/p${i}.html`, page(i, '<p>changed</p>'));
    origin.latencyMs = 100;
    const child = spawn(process.execPath, [BIN, 'update', output, '--quiet'], { env: cliEnv(), stdio: 'ignore' });
    const requests = origin.server.requests.length;
    while (origin.server.requests.length < requests + 8) await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    assert.deepEqual(new Map(listFiles(output).map((file) => [file, readFileSync(join(output, file), 'utf8')])), snapshot);
    assert.equal((await runCli(['verify', output])).code, 0, 'the state still matches the old mirror');
    origin.latencyMs = 0;
    const again = await runCli(['update', output, '--json']);
    await origin.server.close();
    assert.equal(again.code, 0, again.stderr);
    assert.equal(reportOf(again.stdout).changed.length, PAGES);
    assert.match(readFileSync(join(output, host, 'p0.html'), 'utf8'), /changed/);
  });

  it('repeats on a schedule with --every until interrupted', async () => {
    const origin = await site();
    const output = await tempDir();
    await runCli(['crawl', `${origin.server.origin}/`, '-o', output, '--quiet', ...(await stateArgs())]);
    const child = spawn(process.execPath, [BIN, 'update', output, '--every', '1s'], { env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    await new Promise<void>((done) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if ((stderr.match(/Changes:/g) ?? []).length >= 2) done();
      });
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    await origin.server.close();
    assert.equal(code, 0);
    assert.match(stderr, /next update every 1s at/);
  });
});
