// SCENARIOS section 6 (T-01, T-03, T-04): conditional requests on re-crawls, links of unchanged pages, removals.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startServer, type RouteHandler } from './support/server.ts';
import { runCli, tempDir } from './support/cli.ts';

type Changes = { added: { url: string }[]; changed: { url: string }[]; removed: { url: string }[]; unchanged: number };

function changesOf(stdout: string): { changes: Changes; failed: { url: string; code: string }[] } {
  const summary = stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string }).find((event) => event.event === 'summary');
  return summary as unknown as { changes: Changes; failed: { url: string; code: string }[] };
}

/** A file with a fixed Last-Modified that answers 304 when If-Modified-Since is not older. */
function dated(body: string, lastModified: string, modifiedAt: number, type = 'text/plain'): RouteHandler {
  return (req: IncomingMessage, res: ServerResponse) => {
    const since = req.headers['if-modified-since'];
    if (since !== undefined && Date.parse(since) >= modifiedAt) {
      res.writeHead(304).end();
      return;
    }
    res.writeHead(200, { 'content-type': type, 'last-modified': lastModified }).end(body);
  };
}

describe('T-01 conditional GET on a re-crawl', () => {
  it('sends If-Modified-Since in RFC 1123 form whatever date format the server used, and keeps 304 files', async () => {
    const jan1 = Date.UTC(1995, 0, 1);
    const routes: Record<string, RouteHandler> = {
      '/': dated('<a href="File1.txt">1</a><a href="File2.txt">2</a><a href="File3.txt">3</a><a href="File4.txt">4</a>', 'Sun, 01 Jan 1995 00:00:00 GMT', jan1, 'text/html'),
      '/File1.txt': dated('THIS IS 1 FILE', 'Sun, 01 Jan 1995 00:00:00 GMT', jan1),
      '/File2.txt': dated('THIS IS 2 FILE', 'Sunday, 01-Jan-95 00:00:00 GMT', jan1),
      '/File3.txt': dated('THIS IS 3 FILE', 'Sun Jan  1 00:00:00 1995', jan1),
      '/File4.txt': dated('THIS IS OLD 4', 'Mon, 01 Jan 1990 00:00:00 GMT', Date.UTC(1990, 0, 1)),
    };
    const server = await startServer({ routes });
    const output = await tempDir();
    assert.equal((await runCli(['crawl', `${server.origin}/`, '-o', output, '--quiet'])).code, 0);
    const file = (name: string) => join(output, server.hostFolder, name);
    const mtime1 = statSync(file('File1.txt')).mtimeMs;
    // The origin's copy of File4 is now from 2015.
    server.route('/File4.txt', dated('THIS IS 4 FILE', 'Thu, 01 Jan 2015 00:00:00 GMT', Date.UTC(2015, 0, 1)));
    const before = server.requests.length;
    const result = await runCli(['update', output, '--json']);
    await server.close();
    assert.equal(result.code, 0, result.stderr);
    const sent = new Map(server.requests.slice(before).map((request) => [request.url, request.headers['if-modified-since']]));
    assert.equal(sent.get('/File1.txt'), 'Sun, 01 Jan 1995 00:00:00 GMT');
    assert.equal(sent.get('/File2.txt'), 'Sun, 01 Jan 1995 00:00:00 GMT');
    assert.equal(sent.get('/File3.txt'), 'Sun, 01 Jan 1995 00:00:00 GMT');
    assert.equal(sent.get('/File4.txt'), 'Mon, 01 Jan 1990 00:00:00 GMT');
    assert.equal(statSync(file('File1.txt')).mtimeMs, mtime1, 'a 304 leaves the file untouched');
    assert.equal(readFileSync(file('File4.txt'), 'utf8'), 'THIS IS 4 FILE');
    const { changes } = changesOf(result.stdout);
    assert.deepEqual(changes.changed.map((entry) => entry.url), [`${server.origin}/File4.txt`]);
  });

  it('sends If-None-Match when the first response had an ETag', async () => {
    const server = await startServer({
      routes: {
        '/': (req, res) => {
          if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"' }).end();
          res.writeHead(200, { 'content-type': 'text/html', etag: '"v1"' }).end('<p>hello</p>');
        },
      },
    });
    const output = await tempDir();
    await runCli(['crawl', `${server.origin}/`, '-o', output, '--quiet']);
    const result = await runCli(['update', output, '--json']);
    await server.close();
    assert.equal(result.code, 0);
    assert.equal(server.requests.filter((request) => request.url === '/').at(-1)!.headers['if-none-match'], '"v1"');
    assert.equal(changesOf(result.stdout).changes.unchanged, 1);
  });
});

describe('T-03 unchanged pages still have their links checked', () => {
  it('re-checks what an unchanged page links to and picks up its change', async () => {
    let dummy = 'first dummy';
    const server = await startServer({
      routes: {
        '/index.html': (req, res) => {
          if (req.headers['if-none-match'] === '"i"') return void res.writeHead(304).end();
          res.writeHead(200, { 'content-type': 'text/html', etag: '"i"' }).end('<a href="dummy.txt">dummy</a>');
        },
        '/dummy.txt': (_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end(dummy),
      },
    });
    const output = await tempDir();
    await runCli(['crawl', `${server.origin}/index.html`, '-o', output, '--quiet']);
    dummy = 'second dummy';
    const result = await runCli(['update', output, '--json']);
    await server.close();
    assert.equal(result.code, 0);
    assert.equal(readFileSync(join(output, server.hostFolder, 'dummy.txt'), 'utf8'), 'second dummy');
    assert.deepEqual(changesOf(result.stdout).changes.changed.map((entry) => entry.url), [`${server.origin}/dummy.txt`]);
  });
});

describe('T-04 disappearing pages and failures', () => {
  it('counts an error as a failure, not a removal, and keeps the old copy', async () => {
    let broken = false;
    const server = await startServer({
      routes: {
        '/': (_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<a href="a.html">a</a><a href="b.html">b</a>'),
        '/a.html': (_req, res) => void (broken ? res.writeHead(500).end('oops') : res.writeHead(200, { 'content-type': 'text/html' }).end('<p>A</p>')),
        '/b.html': (_req, res) => void (broken ? res.writeHead(404).end('gone') : res.writeHead(200, { 'content-type': 'text/html' }).end('<p>B</p>')),
      },
    });
    const output = await tempDir();
    await runCli(['crawl', `${server.origin}/`, '-o', output, '--quiet']);
    broken = true;
    const result = await runCli(['update', output, '--json']);
    await server.close();
    assert.equal(result.code, 1, 'a failure during an update exits 1');
    const { changes, failed } = changesOf(result.stdout);
    assert.deepEqual(changes.removed.map((entry) => entry.url), [`${server.origin}/b.html`]);
    assert.deepEqual(failed.map((failure) => failure.url), [`${server.origin}/a.html`]);
    assert.ok(existsSync(join(output, server.hostFolder, 'a.html')), 'the failed page keeps its old copy');
    assert.ok(!existsSync(join(output, server.hostFolder, 'b.html')));
    assert.match(readFileSync(join(output, server.hostFolder, 'index.html'), 'utf8'), /href="a\.html"/);
    assert.equal((await runCli(['verify', output])).code, 0);
  });
});
