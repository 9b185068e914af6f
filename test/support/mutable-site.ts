// A fixture site whose pages a test can change, add and delete between crawls; it answers conditional requests.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startServer, type FixtureServer } from './server.ts';

export interface MutableSite {
  server: FixtureServer;
  set(path: string, body: string, type?: string): void;
  remove(path: string): void;
  /** Delay every answer by this many milliseconds. */
  latencyMs: number;
  /** Send ETag and Last-Modified (true) or no validators at all (false). */
  validators: boolean;
}

export async function startMutableSite(pages: Record<string, string>): Promise<MutableSite> {
  const files = new Map<string, { body: string; type: string; modified: Date }>();
  let clock = Date.UTC(2020, 0, 1);
  const site: MutableSite = {
    server: undefined as unknown as FixtureServer,
    set(path, body, type = 'text/html; charset=utf-8') {
      clock += 60_000;
      files.set(path, { body, type, modified: new Date(clock) });
    },
    remove(path) {
      files.delete(path);
    },
    latencyMs: 0,
    validators: true,
  };
  for (const [path, body] of Object.entries(pages)) site.set(path, body, path.endsWith('.css') ? 'text/css' : undefined);

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    if (site.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, site.latencyMs));
    const file = files.get(req.url ?? '/');
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('gone');
      return;
    }
    const etag = `"${createHash('sha1').update(file.body).digest('hex').slice(0, 16)}"`;
    const headers: Record<string, string> = { 'content-type': file.type };
    if (site.validators) Object.assign(headers, { etag, 'last-modified': file.modified.toUTCString() });
    const since = req.headers['if-modified-since'];
    const notModified =
      site.validators &&
      (req.headers['if-none-match'] === etag || (req.headers['if-none-match'] === undefined && since !== undefined && Date.parse(since) >= file.modified.getTime()));
    if (notModified) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, headers).end(file.body);
  };
  site.server = await startServer({ fallback: handler });
  return site;
}
