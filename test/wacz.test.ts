// Issue 7, items 4 and 5: --wacz packages the crawl's WARCs as a WACZ 1.1.1 file, and `verify` checks it: every
// digest in datapackage.json, and every CDXJ line against the record it points at. Read back with yauzl and warcio.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import yazl from 'yazl';
import { readWarcBytes, readZip, type ReadRecord, type ZipEntry } from './support/archive.ts';
import { redirect, serve, startServer, type FixtureServer } from './support/server.ts';
import { runCli, tempDir, type CliResult } from './support/cli.ts';

const servers: FixtureServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

interface Packaged {
  server: FixtureServer;
  output: string;
  crawl: CliResult;
  wacz: string;
  entries: ZipEntry[];
  /** The records of the WARCs inside the WACZ. */
  records: ReadRecord[];
}

async function packaged(): Promise<Packaged> {
  const server = await startServer({ root: 'warc' });
  servers.push(server);
  server.route('/old.html', redirect('/about.html', 301));
  server.route('/missing.html', serve('<p>no such page</p>', 'text/html; charset=utf-8', 404));
  server.route('/packed.txt', serve(gzipSync('packed\n'.repeat(50)), 'text/plain', 200, { 'content-encoding': 'gzip' }));
  const output = await tempDir();
  const crawl = await runCli(['crawl', `${server.origin}/index.html`, '--output', output, '--retries', '0', '--wacz'], { timeoutMs: 30_000 });
  const wacz = join(output, '.sitemirror', 'archive.wacz');
  const entries = await readZip(wacz);
  const records: ReadRecord[] = [];
  for (const entry of entries.filter((one) => one.name.startsWith('archive/'))) records.push(...(await readWarcBytes(entry.bytes, entry.name.slice('archive/'.length))));
  return { server, output, crawl, wacz, entries, records };
}

function entry(p: Packaged, name: string): ZipEntry {
  const found = p.entries.find((one) => one.name === name);
  assert.ok(found, `${name} is not in the WACZ`);
  return found;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface CdxjLine {
  surt: string;
  timestamp: string;
  fields: { url: string; mime: string; status: string; digest: string; offset: string; length: string; filename: string };
}

function indexOf(p: Packaged): CdxjLine[] {
  const text = entry(p, 'indexes/index.cdxj').bytes.toString('utf8');
  assert.ok(text.endsWith('\n') && !text.includes('\n\n'), 'one line per entry');
  return text.trimEnd().split('\n').map((line) => {
    const [surt, timestamp, ...json] = line.split(' ');
    return { surt: surt!, timestamp: timestamp!, fields: JSON.parse(json.join(' ')) as CdxjLine['fields'] };
  });
}

describe('--wacz: the WARCs packaged as WACZ 1.1.1', () => {
  let p: Packaged;
  before(async () => {
    p = await packaged();
  });

  it('writes .sitemirror/archive.wacz beside the state, outside the browsable tree, and verify passes', async () => {
    assert.equal(p.crawl.code, 1, p.crawl.stderr); // missing.html is an error of the crawl
    assert.match(p.crawl.stderr, /WACZ: .*archive\.wacz \(1 WARC file, \d+ index lines, 2 pages\)/);
    assert.ok(existsSync(join(p.output, p.server.hostFolder, 'index.html')));
    const verify = await runCli(['verify', p.output]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /^OK: .* and \.sitemirror\/archive\.wacz \(3 files, \d+ index lines\), 0 problems$/m);
  });

  it('holds the WARCs stored uncompressed under archive/, the index, the pages and the datapackage with its digest', () => {
    const names = p.entries.map((one) => one.name);
    assert.deepEqual(names.filter((name) => !name.startsWith('archive/')), ['indexes/index.cdxj', 'pages/pages.jsonl', 'datapackage.json', 'datapackage-digest.json']);
    const warcs = p.entries.filter((one) => one.name.startsWith('archive/'));
    assert.equal(warcs.length, 1);
    assert.match(warcs[0]!.name, /^archive\/sitemirror-\d+-00001\.warc\.gz$/);
    assert.equal(warcs[0]!.compressionMethod, 0, 'a WARC is stored, not deflated');
    // The packaged WARC is the one on disk, byte for byte.
    assert.ok(warcs[0]!.bytes.equals(readFileSync(join(p.output, '.sitemirror', 'warc', warcs[0]!.name.slice('archive/'.length)))));
  });

  it('gives every file its sha256 and size in datapackage.json, and datapackage.json its digest', () => {
    const datapackage = JSON.parse(entry(p, 'datapackage.json').bytes.toString('utf8')) as { wacz_version: string; profile: string; mainPageUrl: string; resources: { path: string; hash: string; bytes: number }[] };
    assert.equal(datapackage.wacz_version, '1.1.1');
    assert.equal(datapackage.profile, 'data-package');
    assert.equal(datapackage.mainPageUrl, `${p.server.origin}/index.html`);
    assert.deepEqual(datapackage.resources.map((resource) => resource.path).sort(), p.entries.map((one) => one.name).filter((name) => !name.startsWith('datapackage')).sort());
    for (const resource of datapackage.resources) {
      const bytes = entry(p, resource.path).bytes;
      assert.equal(resource.hash, sha256(bytes), resource.path);
      assert.equal(resource.bytes, bytes.length, resource.path);
    }
    const digest = JSON.parse(entry(p, 'datapackage-digest.json').bytes.toString('utf8')) as { path: string; hash: string };
    assert.deepEqual(digest, { path: 'datapackage.json', hash: sha256(entry(p, 'datapackage.json').bytes) });
  });

  it('indexes every response once, sorted, each line pointing at a record of its URL whose payload has its digest', () => {
    const lines = indexOf(p);
    const raw = lines.map((line) => `${line.surt} ${line.timestamp}`);
    assert.deepEqual(raw, [...raw].sort());
    const responses = p.records.filter((record) => record.type === 'response');
    assert.equal(lines.length, responses.length);
    const warc = p.entries.find((one) => one.name.startsWith('archive/'))!;
    for (const { fields, timestamp } of lines) {
      assert.equal(`archive/${fields.filename}`, warc.name);
      // One gzip member at offset/length, read without the index's help: the record of the line's URL.
      const member = gunzipSync(warc.bytes.subarray(Number(fields.offset), Number(fields.offset) + Number(fields.length))).toString('latin1');
      assert.match(member, new RegExp(`^WARC-Target-URI: ${fields.url.replace(/[.?]/g, '\\$&')}\r$`, 'm'));
      const record = responses.find((one) => one.offset === Number(fields.offset))!;
      assert.equal(record.uri, fields.url);
      assert.equal(`sha256:${fields.digest}`, sha256(record.payload));
      assert.equal(String(record.status), fields.status);
      assert.equal(timestamp, record.date!.replace(/\D/g, ''));
    }
  });

  it('finds every page and requisite of the mirror in the index, the redirect and the error too', () => {
    const byUrl = new Map(indexOf(p).map((line) => [line.fields.url, line.fields]));
    for (const [path, status, mime] of [
      ['/index.html', '200', 'text/html'],
      ['/about.html', '200', 'text/html'],
      ['/style.css', '200', 'text/css'],
      ['/logo.png', '200', 'image/png'],
      ['/packed.txt', '200', 'text/plain'],
      ['/old.html', '301', undefined],
      ['/missing.html', '404', 'text/html'],
    ] as const) {
      const line = byUrl.get(`${p.server.origin}${path}`);
      assert.ok(line, `${path} is not in the index`);
      assert.equal(line.status, status, path);
      if (mime) assert.equal(line.mime, mime, path);
    }
  });

  it('lists each mirrored page once in pages.jsonl with its title and capture time', () => {
    const [header, ...pages] = entry(p, 'pages/pages.jsonl').bytes.toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    assert.deepEqual(header, { format: 'json-pages-1.0', id: 'pages', title: 'All Pages' });
    assert.deepEqual(pages.map((page) => [page.url, page.title]).sort(), [
      [`${p.server.origin}/about.html`, 'About'],
      [`${p.server.origin}/index.html`, 'WARC home'],
    ]);
    const index = indexOf(p);
    for (const page of pages) {
      assert.match(page.ts!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const line = index.find((one) => one.fields.url === page.url)!;
      assert.equal(page.ts!.replace(/\D/g, ''), line.timestamp);
    }
  });
});

describe('verify: a tampered WACZ fails', () => {
  let p: Packaged;
  before(async () => {
    p = await packaged();
  });

  it('fails when a byte of a packaged WARC changed (its sha256 no longer matches datapackage.json)', async () => {
    const output = await tempDir();
    await runCli(['crawl', `${p.server.origin}/about.html`, '--output', output, '--wacz', '--quiet']);
    const wacz = join(output, '.sitemirror', 'archive.wacz');
    const bytes = readFileSync(wacz);
    const [warcFile] = readdirSync(join(output, '.sitemirror', 'warc'));
    // The WARC is stored as is: its bytes can be found in the ZIP file and one of them changed in place.
    const at = bytes.indexOf(readFileSync(join(output, '.sitemirror', 'warc', warcFile!)));
    assert.ok(at > 0, 'the stored WARC lies byte for byte inside the ZIP');
    const middle = at + 700;
    bytes[middle] = bytes[middle]! ^ 0xff;
    writeFileSync(wacz, bytes);
    const verify = await runCli(['verify', output]);
    assert.equal(verify.code, 1, verify.stdout);
    assert.match(verify.stdout, /^archive: \.sitemirror\/archive\.wacz:archive\/sitemirror-\d+-00001\.warc\.gz: sha256 .* differs from datapackage\.json's/m);
    assert.match(verify.stdout, /^FAILED: /m);
  });

  it('fails when a record\'s payload was changed and every hash in the package recomputed to match', async () => {
    // A consistent-looking package: only the CDXJ check against the record itself can tell.
    const warc = p.entries.find((one) => one.name.startsWith('archive/'))!;
    const style = p.records.find((record) => record.type === 'response' && record.uri === `${p.server.origin}/style.css`)!;
    const member = gunzipSync(warc.bytes.subarray(style.offset, style.offset + style.length));
    const text = member.toString('latin1');
    const changed = Buffer.from(text.replace(/color/, 'colur'), 'latin1'); // same length, other bytes
    assert.notEqual(changed.toString('latin1'), text);
    const tamperedWarc = Buffer.concat([warc.bytes.subarray(0, style.offset), gzipSync(changed), warc.bytes.subarray(style.offset + style.length)]);
    const index = entry(p, 'indexes/index.cdxj').bytes;
    const shift = gzipSync(changed).length - style.length;
    // Offsets after the changed member move with it, and its own length changes with its gzip size (which depends on
    // the bytes, the server's port among them), so only the tampered record's digest is wrong.
    const shiftedIndex = Buffer.from(
      index
        .toString('utf8')
        .split('\n')
        .map((line) => {
          const json = line.indexOf('{');
          if (json === -1) return line;
          const fields = JSON.parse(line.slice(json)) as { offset: string; length: string };
          const offset = Number(fields.offset);
          if (offset > style.offset) fields.offset = String(offset + shift);
          if (offset === style.offset) fields.length = String(Number(fields.length) + shift);
          return line.slice(0, json) + JSON.stringify(fields);
        })
        .join('\n'),
    );
    const files = new Map<string, Buffer>([[warc.name, tamperedWarc], ['indexes/index.cdxj', shiftedIndex], ['pages/pages.jsonl', entry(p, 'pages/pages.jsonl').bytes]]);
    const datapackage = JSON.parse(entry(p, 'datapackage.json').bytes.toString('utf8')) as { resources: { path: string; hash: string; bytes: number }[] };
    for (const resource of datapackage.resources) {
      resource.hash = sha256(files.get(resource.path)!);
      resource.bytes = files.get(resource.path)!.length;
    }
    const datapackageBytes = Buffer.from(JSON.stringify(datapackage));
    const zip = new yazl.ZipFile();
    for (const [name, bytes] of files) zip.addBuffer(bytes, name, { compress: !name.startsWith('archive/') });
    zip.addBuffer(datapackageBytes, 'datapackage.json');
    zip.addBuffer(Buffer.from(JSON.stringify({ path: 'datapackage.json', hash: sha256(datapackageBytes) })), 'datapackage-digest.json');
    zip.end();
    await pipeline(zip.outputStream, createWriteStream(p.wacz));

    const verify = await runCli(['verify', p.output]);
    assert.equal(verify.code, 1, verify.stdout);
    const problems = verify.stdout.split('\n').filter((line) => line.startsWith('archive: '));
    assert.equal(problems.length, 1, verify.stdout);
    assert.match(problems[0]!, /indexes\/index\.cdxj line \d+: the payload of http:\/\/127\.0\.0\.1:\d+\/style\.css at offset \d+ does not match its digest sha256:[0-9a-f]{64}$/);
  });

  it('fails when the WACZ of a --wacz mirror is not a ZIP file, or gone', async () => {
    const output = await tempDir();
    await runCli(['crawl', `${p.server.origin}/about.html`, '--output', output, '--wacz', '--quiet']);
    const wacz = join(output, '.sitemirror', 'archive.wacz');
    writeFileSync(wacz, 'not a zip');
    const garbled = await runCli(['verify', output]);
    assert.equal(garbled.code, 1);
    assert.match(garbled.stdout, /^archive: \.sitemirror\/archive\.wacz: not a readable ZIP file/m);
    rmSync(wacz);
    const gone = await runCli(['verify', output]);
    assert.equal(gone.code, 1);
    assert.match(gone.stdout, /^missing-file: \.sitemirror\/archive\.wacz: the mirror was made with --wacz but holds no WACZ$/m);
  });
});
