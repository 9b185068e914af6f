// Issue 7, item 1: --warc archives every response (pages, requisites, redirects, errors) as WARC 1.1 request/response
// pairs under <output>/.sitemirror/warc/, gzip per record, rolling over at --warc-max-size. Read back with warcio.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { redirect, serve, startServer, type FixtureServer } from './support/server.ts';
import { originBytes, readWarcBytes, responsesFor, type ReadRecord } from './support/archive.ts';
import { BIN, runCli, tempDir, type CliResult, cliEnv } from './support/cli.ts';

interface Archived {
  server: FixtureServer;
  result: CliResult;
  dir: string;
  /** Requests the server saw during the crawl (the test's own fetches come later). */
  crawlRequests: number;
  files: string[];
  records: ReadRecord[];
}

const PACKED_TEXT = 'packed text, sent gzip-encoded; the archive holds it as sent\n'.repeat(20);
const PACKED_GZIP = gzipSync(PACKED_TEXT);
const servers: FixtureServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

async function archive(args: string[] = []): Promise<Archived> {
  const server = await startServer({ root: 'warc' });
  servers.push(server);
  server.route('/index.html', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-fixture': 'yes' });
    res.end(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'warc', 'index.html')));
  });
  server.route('/old.html', redirect('/about.html', 301));
  server.route('/missing.html', serve('<p>no such page</p>', 'text/html; charset=utf-8', 404));
  server.route('/packed.txt', serve(PACKED_GZIP, 'text/plain; charset=utf-8', 200, { 'content-encoding': 'gzip' }));
  const output = await tempDir();
  const result = await runCli(['crawl', `${server.origin}/index.html`, '--output', output, '--quiet', '--retries', '0', '--render', 'never', '--warc', ...args], { timeoutMs: 30_000 });
  const dir = join(output, '.sitemirror', 'warc');
  const files = readdirSync(dir).sort();
  const records: ReadRecord[] = [];
  for (const file of files) records.push(...(await readWarc(join(dir, file), file)));
  return { server, result, dir, crawlRequests: server.requests.length, files, records };
}

/** The records of one WARC file, read back with warcio's parser. */
function readWarc(path: string, file: string): Promise<ReadRecord[]> {
  return readWarcBytes(readFileSync(path), file);
}

describe('--warc: every response archived as WARC 1.1', () => {
  let a: Archived;
  before(async () => {
    a = await archive();
  });

  it('the crawl succeeds but for the 404, and writes one gzip file per run under .sitemirror/warc/', () => {
    assert.equal(a.result.code, 1, a.result.stderr); // missing.html is an error of the crawl
    assert.equal(a.files.length, 1);
    assert.match(a.files[0]!, /^sitemirror-\d+-00001\.warc\.gz$/);
  });

  it('starts with one warcinfo record naming sitemirror, its version and the options', () => {
    const infos = a.records.filter((record) => record.type === 'warcinfo');
    assert.equal(infos.length, 1);
    assert.equal(a.records[0]!.type, 'warcinfo');
    const text = infos[0]!.payload.toString('utf8');
    assert.match(text, /^software: sitemirror\/\d+\.\d+\.\d+/m);
    assert.match(text, /^options: \{.*"warc":true.*\}/m);
    assert.match(text, /"render":"never"/);
  });

  it('holds exactly one response per page and requisite whose payload is the bytes the origin serves', async () => {
    for (const path of ['/index.html', '/about.html', '/style.css', '/logo.png', '/packed.txt']) {
      const url = `${a.server.origin}${path}`;
      const found = responsesFor(a.records, url);
      assert.equal(found.length, 1, `${path}: ${found.length} responses`);
      const origin = await originBytes(url);
      assert.ok(found[0]!.payload.equals(origin), `${path}: payload differs from the origin's bytes`);
      assert.equal(found[0]!.status, 200);
    }
  });

  it('keeps the HTTP headers as received, a custom one included', () => {
    const index = responsesFor(a.records, `${a.server.origin}/index.html`)[0]!;
    assert.equal(index.headers.get('x-fixture'), 'yes');
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.raw.httpHeaders?.statusline, 'HTTP/1.1 200 OK');
  });

  it('keeps a gzip-encoded body as it arrived, Content-Encoding and Content-Length as received', () => {
    const packed = responsesFor(a.records, `${a.server.origin}/packed.txt`)[0]!;
    assert.ok(packed.payload.equals(PACKED_GZIP), 'the payload is not the gzip bytes the origin sent');
    assert.equal(gunzipSync(packed.payload).toString('utf8'), PACKED_TEXT);
    assert.equal(packed.headers.get('content-encoding'), 'gzip');
    assert.equal(packed.headers.get('x-archive-orig-content-encoding'), undefined);
    // Node's server sent it chunked: the framing is gone from the payload, so the header is kept aside.
    assert.equal(packed.headers.get('x-archive-orig-transfer-encoding'), 'chunked');
    assert.equal(packed.headers.get('content-length'), String(PACKED_GZIP.length));
    assert.equal(packed.payloadDigest, `sha256:${createHash('sha256').update(PACKED_GZIP).digest('hex')}`);
  });

  it('records a redirect as its 3xx response with the Location', () => {
    const old = responsesFor(a.records, `${a.server.origin}/old.html`);
    assert.equal(old.length, 1);
    assert.equal(old[0]!.status, 301);
    assert.equal(old[0]!.headers.get('location'), '/about.html');
  });

  it('records an error answer with its status and body', () => {
    const missing = responsesFor(a.records, `${a.server.origin}/missing.html`);
    assert.equal(missing.length, 1);
    assert.equal(missing[0]!.status, 404);
    assert.equal(missing[0]!.payload.toString('utf8'), '<p>no such page</p>');
    // robots.txt (404 here) is a fetched response too.
    assert.equal(responsesFor(a.records, `${a.server.origin}/robots.txt`)[0]?.status, 404);
  });

  it('pairs each response with a request record pointing at it through WARC-Concurrent-To', () => {
    const responses = a.records.filter((record) => record.type === 'response');
    const requests = a.records.filter((record) => record.type === 'request');
    assert.equal(requests.length, responses.length);
    for (const response of responses) {
      const paired = requests.filter((request) => request.concurrentTo === response.id);
      assert.equal(paired.length, 1, `request for ${response.uri}`);
      assert.equal(paired[0]!.uri, response.uri);
      assert.equal(paired[0]!.file, response.file);
      assert.match(paired[0]!.raw.httpHeaders?.statusline ?? '', /^GET \/\S* HTTP\/1\.1$/);
      assert.match(paired[0]!.headers.get('user-agent') ?? '', /^sitemirror\//);
      assert.equal(paired[0]!.headers.get('host'), new URL(a.server.origin).host);
    }
    // The server's log and the archive agree on what was asked.
    assert.equal(requests.length, a.crawlRequests);
  });

  it('gives every record a WARC-Date and every response a sha256 payload digest that matches its payload', () => {
    for (const record of a.records) {
      assert.match(record.date ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.match(record.id, /^<urn:uuid:[0-9a-f-]{36}>$/);
    }
    for (const response of a.records.filter((record) => record.type === 'response')) {
      // warcio writes the sha-256 digest in hex under the sha256: prefix, as we ask it to.
      const expected = `sha256:${createHash('sha256').update(response.payload).digest('hex')}`;
      assert.equal(response.payloadDigest, expected, response.uri);
    }
  });

  it('compresses each record as a gzip member of its own, back to back', () => {
    const file = readFileSync(join(a.dir, a.files[0]!));
    let end = 0;
    for (const record of a.records) {
      assert.equal(record.offset, end, `${record.type} ${record.uri} starts where the previous member ended`);
      // One member alone decompresses to exactly one record: a reader can seek to any record.
      const alone = gunzipSync(file.subarray(record.offset, record.offset + record.length)).toString('latin1');
      assert.equal(alone.match(/^WARC\/1\.1\r$/gm)?.length, 1);
      assert.match(alone, new RegExp(`^WARC-Type: ${record.type}\r$`, 'm'));
      end = record.offset + record.length;
    }
    assert.equal(end, file.length);
  });
});

describe('--warc-max-size: rollover', () => {
  let a: Archived;
  before(async () => {
    a = await archive(['--warc-max-size', '1k']);
  });

  it('starts new files past the limit, each one parseable, opened by a warcinfo, and with request and response together', () => {
    assert.ok(a.files.length >= 3, `only ${a.files.length} files`);
    a.files.forEach((file, index) => assert.match(file, new RegExp(`^sitemirror-\\d+-${String(index + 1).padStart(5, '0')}\\.warc\\.gz$`)));
    for (const file of a.files) {
      const inFile = a.records.filter((record) => record.file === file);
      assert.equal(inFile[0]?.type, 'warcinfo', file);
      assert.equal(inFile.filter((record) => record.type === 'request').length, inFile.filter((record) => record.type === 'response').length, file);
    }
    for (const path of ['/index.html', '/about.html', '/style.css', '/logo.png', '/old.html', '/missing.html']) {
      assert.equal(responsesFor(a.records, `${a.server.origin}${path}`).length, 1, path);
    }
  });
});

describe('--warc over a resumed crawl', () => {
  it('continues in a new file named after the new run, leaving the earlier file byte for byte as it was', async () => {
    const server = await startServer({ root: 'warc' });
    servers.push(server);
    const output = await tempDir();
    const crawl = (extra: string[]) => runCli(['crawl', `${server.origin}/index.html`, '--output', output, '--quiet', '--retries', '0', '--render', 'never', '--warc', ...extra], { timeoutMs: 30_000 });
    await crawl(['--max-total-size', '100']); // stops after the first download, the rest stays queued
    const dir = join(output, '.sitemirror', 'warc');
    const first = readdirSync(dir);
    assert.equal(first.length, 1);
    const firstBytes = readFileSync(join(dir, first[0]!));
    await crawl([]);
    const files = readdirSync(dir).sort();
    assert.equal(files.length, 2);
    const runIds = files.map((file) => /^sitemirror-(\d+)-00001\.warc\.gz$/.exec(file)?.[1]);
    assert.ok(runIds[0] && runIds[1] && runIds[0] !== runIds[1], files.join(', '));
    assert.ok(readFileSync(join(dir, first[0]!)).equals(firstBytes), 'the first run\'s file changed');
    const second = await readWarc(join(dir, files.find((file) => file !== first[0])!), 'second');
    assert.equal(second[0]?.type, 'warcinfo');
    const uris = second.filter((record) => record.type === 'response').map((record) => record.uri);
    assert.ok(uris.includes(`${server.origin}/about.html`), uris.join(', '));
  });
});

describe('--warc after a crash', () => {
  it('leaves every completed record readable when the crawl is killed, and the resume continues in a new file', async () => {
    const server = await startServer({ root: 'warc' });
    servers.push(server);
    let hanging = true;
    let reached: () => void = () => undefined;
    const aboutAsked = new Promise<void>((done) => (reached = done));
    server.route('/about.html', (_req, res) => {
      reached();
      if (hanging) return; // never answers: the crawl is killed while it waits
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'warc', 'about.html')));
    });
    const output = await tempDir();
    const args = ['crawl', `${server.origin}/index.html`, '--output', output, '--quiet', '--retries', '0', '--render', 'never', '--warc', '--concurrency', '1'];
    const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(), stdio: 'ignore' });
    const exited = new Promise((done) => child.on('exit', done));
    // One request at a time, each archived before the next is sent: when about.html is asked for, all before it is written.
    await aboutAsked;
    child.kill('SIGKILL');
    await exited;
    const dir = join(output, '.sitemirror', 'warc');
    const [killedFile] = readdirSync(dir);
    const killedBytes = readFileSync(join(dir, killedFile!));
    const killed = await readWarc(join(dir, killedFile!), killedFile!);
    const last = killed.at(-1)!;
    assert.equal(last.offset + last.length, killedBytes.length, 'the file ends at a record boundary');
    assert.equal(responsesFor(killed, `${server.origin}/index.html`).length, 1);
    assert.equal(responsesFor(killed, `${server.origin}/about.html`).length, 0);

    hanging = false;
    const resumed = await runCli(args, { timeoutMs: 30_000 });
    assert.notEqual(resumed.code, null, resumed.stderr);
    const files = readdirSync(dir).sort();
    assert.equal(files.length, 2, files.join(', '));
    assert.ok(readFileSync(join(dir, killedFile!)).equals(killedBytes), 'the killed run\'s file changed');
    const next = await readWarc(join(dir, files.find((file) => file !== killedFile)!), 'next');
    assert.equal(responsesFor(next, `${server.origin}/about.html`).length, 1);
  });

  it('trims a record cut off mid-write back to the last whole record before the resume writes on', async () => {
    const server = await startServer({ root: 'warc' });
    servers.push(server);
    const output = await tempDir();
    const crawl = (extra: string[]) => runCli(['crawl', `${server.origin}/index.html`, '--output', output, '--retries', '0', '--render', 'never', '--warc', ...extra], { timeoutMs: 30_000 });
    await crawl(['--max-total-size', '100', '--quiet']); // stops after the first download, the rest stays queued
    const dir = join(output, '.sitemirror', 'warc');
    const [file] = readdirSync(dir);
    const whole = readFileSync(join(dir, file!));
    const records = await readWarc(join(dir, file!), file!);
    // What a kill -9 in the middle of a write leaves: the first part of one more gzip member.
    const last = records.at(-1)!;
    const cut = whole.subarray(last.offset, last.offset + Math.floor(last.length / 2));
    appendFileSync(join(dir, file!), cut);
    const resumed = await crawl([]);
    assert.match(resumed.stderr, new RegExp(`${file!.replace(/\./g, '\\.')} ended in a record cut off by an interrupted run: trimmed ${cut.length} bytes back to its last whole record`));
    assert.ok(readFileSync(join(dir, file!)).equals(whole), 'the file is back at its last whole record');
    const files = readdirSync(dir);
    assert.equal(files.length, 2);
    for (const name of files) {
      const read = await readWarc(join(dir, name), name);
      const end = read.at(-1)!;
      assert.equal(end.offset + end.length, readFileSync(join(dir, name)).length, `${name} ends at a record boundary`);
    }
  });
});
