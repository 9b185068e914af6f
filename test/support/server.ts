// A real HTTP server on 127.0.0.1 for tests: serves a fixture folder, lets a test add routes, logs every request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface LoggedRequest {
  method: string;
  /** The request target exactly as sent (path and query). */
  url: string;
  headers: IncomingMessage['headers'];
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface FixtureServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  port: number;
  /** The mirror's folder name for this host, e.g. 127.0.0.1_PORT */
  hostFolder: string;
  requests: LoggedRequest[];
  /** Request targets in the order they arrived. */
  paths(): string[];
  /** Adds or replaces a route for an exact request target (path plus query). */
  route(target: string, handler: RouteHandler): void;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.xml': 'application/xml',
  '.json': 'application/json',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.vtt': 'text/vtt',
};

export const FIXTURES = resolve(import.meta.dirname, '..', '..', 'fixtures');

/**
 * Starts a server. With `root` (a folder under fixtures/), files are served by path: `/x/` serves `x/index.html`
 * when present; `routes` take precedence over files; anything else is 404.
 * Origin placeholders `{{ORIGIN}}` (http://127.0.0.1:PORT) and `{{HOST}}` (127.0.0.1:PORT) in served text files are replaced.
 */
export async function startServer(options: { root?: string; routes?: Record<string, RouteHandler>; fallback?: RouteHandler } = {}): Promise<FixtureServer> {
  const routes = new Map<string, RouteHandler>(Object.entries(options.routes ?? {}));
  const requests: LoggedRequest[] = [];
  const root = options.root === undefined ? undefined : resolve(FIXTURES, options.root);
  let origin = '';

  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers });
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    const route = routes.get(target);
    if (route) return route(req, res);
    if (options.fallback) return options.fallback(req, res);
    if (root === undefined) return notFound(res);
    const pathname = decodeURIComponent(target.split('?')[0] ?? '/');
    let file = normalize(join(root, pathname));
    if (!file.startsWith(root)) return notFound(res);
    const info = await stat(file).catch(() => undefined);
    if (info?.isDirectory()) file = join(file, 'index.html');
    const body = await readFile(file).catch(() => undefined);
    if (body === undefined) return notFound(res);
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    const text = type.startsWith('text/') || type.includes('xml') || type.includes('json');
    const payload = text ? Buffer.from(body.toString('latin1').replaceAll('{{ORIGIN}}', origin).replaceAll('{{HOST}}', origin.slice('http://'.length)), 'latin1') : body;
    res.writeHead(200, { 'content-type': type, 'content-length': payload.length });
    res.end(req.method === 'HEAD' ? undefined : payload);
  }

  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    port,
    hostFolder: `127.0.0.1_${port}`,
    requests,
    paths: () => requests.map((request) => request.url),
    route: (target, handler) => void routes.set(target, handler),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

export function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found');
}

/** A route that answers with a fixed body and content type. */
export function serve(body: string | Buffer, contentType = 'text/html; charset=utf-8', status = 200, headers: Record<string, string> = {}): RouteHandler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': contentType, ...headers });
    res.end(body);
  };
}

/** A route that redirects. */
export function redirect(location: string, status = 301): RouteHandler {
  return (_req, res) => {
    res.writeHead(status, { location });
    res.end();
  };
}

/**
 * A route that serves a fixture file (a path under fixtures/) byte for byte, whatever its charset, with the given
 * Content-Type (undefined: no Content-Type header at all). `{{ORIGIN}}` and `{{HOST}}` (host:port) in it are
 * replaced with this server's, so an odd URL (`/a:b`, `/p1_fran%C3%A7ais.html`) can serve a plainly named file.
 */
export function serveFixture(path: string, contentType: string | undefined, headers: Record<string, string> = {}, status = 200): RouteHandler {
  return async (req, res) => {
    const host = req.headers.host ?? '';
    const body = (await readFile(join(FIXTURES, path))).toString('latin1').replaceAll('{{ORIGIN}}', `http://${host}`).replaceAll('{{HOST}}', host);
    res.writeHead(status, { ...(contentType === undefined ? {} : { 'content-type': contentType }), ...headers });
    res.end(req.method === 'HEAD' ? undefined : Buffer.from(body, 'latin1'));
  };
}
