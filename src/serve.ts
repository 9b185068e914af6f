// Serves a mirror on 127.0.0.1 for a look in a browser: content types from mime-types, index pages, nothing outside.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { contentType } from 'mime-types';
import { STATE_DIR } from './store.js';

export interface MirrorServer {
  url: string;
  close(): Promise<void>;
}

export async function serveMirror(outputDir: string, port = 0): Promise<MirrorServer> {
  const root = resolve(outputDir);
  const hosts = (await readdir(root, { withFileTypes: true })).filter((entry) => entry.isDirectory() && entry.name !== STATE_DIR);

  const server: Server = createServer((req, res) => {
    void (async () => {
      const pathname = decodePath(new URL(req.url ?? '/', 'http://localhost').pathname);
      // With one host in the mirror, the root leads straight into it; with several, it lists them.
      if (pathname === '/' && hosts.length === 1) {
        res.writeHead(302, { location: `/${encodeURIComponent(hosts[0]!.name)}/` }).end();
        return;
      }
      if (pathname === '/' && hosts.length > 1) {
        const body = Buffer.from(hostList(hosts.map((host) => host.name)), 'utf8');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length }).end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      let file = pathname === undefined ? undefined : resolve(root, `.${pathname}`);
      if (file === undefined || (file !== root && !file.startsWith(root + sep)) || file.split(sep).includes(STATE_DIR)) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
        return;
      }
      let info = await stat(file).catch(() => undefined);
      if (info?.isDirectory()) {
        if (!pathname!.endsWith('/')) {
          res.writeHead(301, { location: `${req.url?.split('?')[0]}/` }).end();
          return;
        }
        file = join(file, 'index.html');
        info = await stat(file).catch(() => undefined);
      }
      if (!info?.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
        return;
      }
      const type = contentType(extname(file)) || 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, 'content-length': info.size });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(file).pipe(res);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => done());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** The root page of a mirror of several hosts (a seed that redirected elsewhere, or several seeds in one folder). */
function hostList(names: string[]): string {
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  const items = [...names].sort().map((name) => `<li><a href="/${encodeURIComponent(name)}/">${escape(name)}</a></li>`);
  return `<!doctype html>\n<meta charset="utf-8">\n<title>Mirrored hosts</title>\n<h1>This mirror holds ${names.length} hosts</h1>\n<ul>\n${items.join('\n')}\n</ul>\n`;
}

function decodePath(pathname: string): string | undefined {
  try {
    const decoded = decodeURIComponent(pathname);
    return decoded.includes('\0') ? undefined : decoded;
  } catch {
    return undefined;
  }
}
