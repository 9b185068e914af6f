// An HTTPS site whose certificate the system does not trust (self-signed, as an intranet's or a staging host's often
// is): refused with a line saying how to go on, mirrored with --no-check-certificate (rendered pages too), or with
// NODE_EXTRA_CA_CERTS naming its certificate. A real TLS server on 127.0.0.1 with fixtures/tls/'s certificate.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FIXTURES } from './support/server.ts';
import { runCli, tempDir } from './support/cli.ts';

const CERT = join(FIXTURES, 'tls', 'cert.pem');
const PAGES: Record<string, [string, string]> = {
  '/': ['text/html; charset=utf-8', '<!doctype html><title>Intranet</title><a href="/b.html">b</a><a href="/app.html">app</a>'],
  '/b.html': ['text/html; charset=utf-8', '<!doctype html><title>B</title><p>Page b over TLS.</p>'],
  '/app.html': [
    'text/html; charset=utf-8',
    `<!doctype html><title>App</title><p id="out">pending</p>
<script>fetch('/data.json').then((r) => r.json()).then((d) => { document.getElementById('out').textContent = d.message; });</script>`,
  ],
  '/data.json': ['application/json', '{"message": "Loaded over TLS"}'],
};

describe('an HTTPS site with a self-signed certificate', () => {
  let server: Server;
  let origin: string;
  let hostFolder: string;

  before(async () => {
    server = createServer({ key: readFileSync(join(FIXTURES, 'tls', 'key.pem')), cert: readFileSync(CERT) }, (req, res) => {
      const page = PAGES[req.url ?? '/'];
      if (page === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': page[0] }).end(page[1]);
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    const { port } = server.address() as AddressInfo;
    origin = `https://127.0.0.1:${port}`;
    hostFolder = `127.0.0.1_${port}`;
  });
  after(() => new Promise<void>((closed) => server.close(() => closed())));

  it('is refused, with the way to go on in the warning, and nothing written but the state', async () => {
    const output = await tempDir('sitemirror-tls-');
    const run = await runCli(['crawl', `${origin}/`, '-o', output, '--retries', '0']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\); NODE_EXTRA_CA_CERTS=ca\.pem trusts its issuer, --no-check-certificate accepts any/);
    assert.ok(!existsSync(join(output, hostFolder)));
  });

  it('is mirrored with --no-check-certificate, rendered pages included, with a warning', async () => {
    const output = await tempDir('sitemirror-tls-');
    const run = await runCli(['crawl', `${origin}/`, '-o', output, '--retries', '0', '--no-check-certificate', '--render', 'always']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /warning: --no-check-certificate: TLS certificates are not checked/);
    assert.match(readFileSync(join(output, hostFolder, 'b.html'), 'utf8'), /Page b over TLS/);
    assert.match(readFileSync(join(output, hostFolder, 'app.html'), 'utf8'), /<p id="out">Loaded over TLS<\/p>/);
    assert.deepEqual(JSON.parse(readFileSync(join(output, hostFolder, 'data.json'), 'utf8')), { message: 'Loaded over TLS' });
  });

  it('is mirrored without the option when NODE_EXTRA_CA_CERTS trusts its certificate', async () => {
    const output = await tempDir('sitemirror-tls-');
    const run = await runCli(['crawl', `${origin}/`, '-o', output, '--retries', '0'], { env: { NODE_EXTRA_CA_CERTS: CERT } });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /no-check-certificate/);
    assert.match(readFileSync(join(output, hostFolder, 'b.html'), 'utf8'), /Page b over TLS/);
  });
});
