// verify proves a mirror whole (and catches tampering and broken links); serve shows it with the right content types.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { redirect, startServer, type FixtureServer } from './support/server.ts';
import { BIN, runCli, tempDir, cliEnv } from './support/cli.ts';

describe('verify and serve', () => {
  let server: FixtureServer;
  let output: string;

  before(async () => {
    server = await startServer({ root: 'site', routes: { '/moved': redirect('/docs/new.html', 301) } });
    output = await tempDir();
    await runCli(['crawl', `${server.origin}/`, '--output', output, '--quiet']);
  });
  after(() => server.close());

  async function copyOfMirror(): Promise<string> {
    const copy = await tempDir();
    await cp(output, copy, { recursive: true });
    return copy;
  }

  it('passes a freshly made mirror', async () => {
    const result = await runCli(['verify', output]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^OK: \d+ files and \d+ local links checked, 0 problems$/m);
  });

  it('catches a tampered file', async () => {
    const copy = await copyOfMirror();
    await writeFile(join(copy, server.hostFolder, 'docs/guide.html'), '<p>defaced</p>');
    const result = await runCli(['verify', copy]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, new RegExp(`hash-mismatch: ${server.hostFolder}/docs/guide\\.html`));
  });

  it('catches a broken local link', async () => {
    const copy = await copyOfMirror();
    await rm(join(copy, server.hostFolder, 'img/bg.png'));
    const result = await runCli(['verify', '--json', copy]);
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout) as { problems: { kind: string; path: string; detail: string }[] };
    const broken = report.problems.filter((problem) => problem.kind === 'broken-link').map((problem) => problem.path);
    assert.ok(broken.includes(`${server.hostFolder}/assets/site.css`), JSON.stringify(report.problems));
    assert.ok(broken.includes(`${server.hostFolder}/docs/guide.html`), JSON.stringify(report.problems));
    assert.ok(report.problems.some((problem) => problem.kind === 'missing-file' && problem.path === `${server.hostFolder}/img/bg.png`));
  });

  it('reports a link through a file (ENOTDIR) as broken rather than stopping', async () => {
    const copy = await copyOfMirror();
    // index.html is a file, so nothing can be found under index.html/.
    await writeFile(join(copy, server.hostFolder, 'docs/guide.html'), '<img src="../index.html/x.png">');
    const result = await runCli(['verify', '--json', copy]);
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout) as { problems: { kind: string; path: string; detail: string }[] };
    const broken = report.problems.filter((problem) => problem.kind === 'broken-link');
    assert.deepEqual(broken.map((problem) => [problem.path, problem.detail]), [
      [`${server.hostFolder}/docs/guide.html`, `${server.hostFolder}/index.html/x.png does not open a file in the mirror`],
    ]);
  });

  it('refuses a folder that is not a mirror', async () => {
    const result = await runCli(['verify', await tempDir()]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /not a mirror/);
  });

  it('serves mirrored pages with their content types, index pages and redirect files', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', output, '--port', '0'], { env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      const url = await new Promise<string>((done, fail) => {
        let text = '';
        child.stderr.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          const match = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(text);
          if (match) done(match[1]!);
        });
        child.on('exit', () => fail(new Error(`serve exited: ${text}`)));
      });
      const base = `${url}${server.hostFolder}/`;
      const index = await fetch(base);
      assert.equal(index.status, 200);
      assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.match(await index.text(), /Fixture site/);
      const css = await fetch(`${base}assets/site.css`);
      assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
      const png = await fetch(`${base}img/logo.png`);
      assert.equal(png.headers.get('content-type'), 'image/png');
      assert.match(await (await fetch(`${base}moved.html`)).text(), /url=docs\/new\.html/);
      assert.equal((await fetch(`${base}about/`)).status, 200);
      assert.equal((await fetch(`${url}.sitemirror/state.db`)).status, 404);
      assert.equal((await fetch(`${base}..%2F..%2F..%2Fetc%2Fpasswd`)).status, 404);
    } finally {
      child.kill('SIGINT');
    }
  });
});
