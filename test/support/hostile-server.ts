// A server on 127.0.0.1 that misbehaves on purpose (resets, short bodies, silence, trickles, streaks of errors,
// endless bodies, outages), and a harness that crawls it with the real CLI and checks the mirror with `verify`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { runCli, tempDir, type CliResult } from './cli.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HostileServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  port: number;
  /** The mirror's folder name for this host, e.g. 127.0.0.1_PORT */
  hostFolder: string;
  /** Request targets in the order they arrived. */
  paths(): string[];
  /** How many times a request target was asked for. */
  count(target: string): number;
  /** Adds or replaces a route for an exact request target (path plus query). */
  route(target: string, handler: RouteHandler): void;
  /** Stops listening and drops every open connection: connections are refused until comeBack(). */
  goAway(): Promise<void>;
  /** Listens again on the same port. */
  comeBack(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a server answering `routes` (exact request targets), then `fallback`, else 404. Every request is logged;
 * a handler may hold a request forever (the server drops it on close).
 */
export async function startHostileServer(routes: Record<string, RouteHandler>, fallback?: RouteHandler): Promise<HostileServer> {
  const table = new Map(Object.entries(routes));
  const log: string[] = [];
  const sockets = new Set<Socket>();
  let server: Server = listenable();
  let port = 0;

  function listenable(): Server {
    const created = createServer((req, res) => {
      log.push(req.url ?? '/');
      const handler = table.get(req.url ?? '/') ?? fallback ?? notFound;
      void Promise.resolve(handler(req, res)).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
    });
    created.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return created;
  }

  const listen = () => new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
  const stop = () => new Promise<void>((done) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => done());
  });

  await listen();
  port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    hostFolder: `127.0.0.1_${port}`,
    paths: () => [...log],
    count: (target) => log.filter((one) => one === target).length,
    route: (target, handler) => void table.set(target, handler),
    goAway: stop,
    comeBack: async () => {
      server = listenable();
      await listen();
    },
    close: async () => {
      if (server.listening) await stop();
    },
  };
}

export function notFound(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found');
}

export const html = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;

export const links = (paths: string[]) => paths.map((path) => `<a href="${path}">${path}</a>`).join('\n');

/** A route that answers with a fixed body. */
export function page(body: string | Buffer, contentType = 'text/html; charset=utf-8', status = 200, headers: Record<string, string> = {}): RouteHandler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
}

/** Sends the headers and the first `sentBytes` of a body, then resets the connection (TCP RST). */
export function resetMidBody(body: string, sentBytes: number): RouteHandler {
  return (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.write(body.slice(0, sentBytes), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
  };
}

/** Declares a Content-Length larger than the body it sends, then closes the connection. */
export function shortBody(body: string, missingBytes: number): RouteHandler {
  return (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) + missingBytes });
    res.write(body, () => req.socket.end());
  };
}

/** Accepts the request and never answers. */
export function neverAnswer(): RouteHandler {
  return () => undefined;
}

/** Sends headers, then one byte every `intervalMs` for as long as the client listens. */
export function trickle(intervalMs: number): RouteHandler {
  return (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.flushHeaders();
    const timer = setInterval(() => res.write('.'), intervalMs);
    req.socket.on('close', () => clearInterval(timer));
  };
}

/** Answers `statuses` one after the other (one per request), then hands over to `then`. */
export function streak(statuses: number[], then: RouteHandler, headers: Record<string, string> = {}): RouteHandler {
  let asked = 0;
  return (req, res) => {
    const status = statuses[asked++];
    if (status === undefined) return then(req, res);
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(`error ${status}`);
  };
}

/** An endless body in 64 KiB chunks, without Content-Length; `sent.bytes` counts what went out before the client hung up. */
export function endless(contentType: string, sent: { bytes: number }): RouteHandler {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  return (req, res) => {
    res.writeHead(200, { 'content-type': contentType });
    let open = true;
    req.socket.on('close', () => (open = false));
    const pump = () => {
      while (open && sent.bytes < 1024 ** 3) {
        sent.bytes += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
    };
    pump();
  };
}

/** Streams `total` bytes made by `piece(i)` without holding them all at once (a huge page or stylesheet). */
export function generated(contentType: string, head: string, piece: (i: number) => string, count: number, tail: string): RouteHandler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': contentType });
    let i = 0;
    const pump = () => {
      let ok = i > 0 || res.write(head);
      while (ok && i < count) {
        let batch = '';
        for (let end = Math.min(count, i + 2000); i < end; i++) batch += piece(i);
        ok = res.write(batch);
      }
      if (i < count) return void res.once('drain', pump);
      res.end(tail);
    };
    pump();
  };
}

export interface CrawlEvent {
  event: string;
  url?: string;
  path?: string;
  code?: string;
  message?: string;
  reason?: string;
  detail?: string;
  [key: string]: unknown;
}

export interface CrawlSummary {
  pages: number;
  files: number;
  failed: { url: string; code: string; message: string }[];
  skipped: Record<string, number>;
  stoppedBecause?: string;
  [key: string]: unknown;
}

export interface HostileCrawl {
  result: CliResult;
  output: string;
  /** The host folder of the seed inside output. */
  site: string;
  events: CrawlEvent[];
  summary: CrawlSummary;
  failed: CrawlEvent[];
  skipped: CrawlEvent[];
  warnings: string[];
  /** `sitemirror verify <output>`. */
  verify: CliResult;
  /** Peak resident memory of the crawl process in MiB (VmHWM), when /proc tells it. */
  peakRssMiB: number | undefined;
  durationMs: number;
}

/** Flags every fault test uses: short timeouts and one retry, so a fault costs about a second, not minutes. */
export const FAST = ['--timeout', '1s', '--connect-timeout', '1s', '--retries', '1'];

/** Writes the process's peak resident memory (VmHWM, KiB) to $SITEMIRROR_PEAK_RSS_FILE on exit. */
const PEAK_RSS_PRELOAD =
  'data:text/javascript,' +
  encodeURIComponent(
    `import { readFileSync, writeFileSync } from 'node:fs';
     process.on('exit', () => {
       try {
         const kib = /VmHWM:\\s*(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
         if (kib) writeFileSync(process.env.SITEMIRROR_PEAK_RSS_FILE, kib);
       } catch {}
     });`,
  );

/**
 * Crawls `seedPath` of the server with the real CLI (--json plus FAST and `args`), fails when it runs longer than
 * `timeoutMs` (a hang), then runs `sitemirror verify` on the output.
 */
export async function crawlHostile(
  server: Pick<HostileServer, 'origin' | 'hostFolder'>,
  seedPath: string,
  args: string[] = [],
  options: { timeoutMs?: number; output?: string } = {},
): Promise<HostileCrawl> {
  const output = options.output ?? (await tempDir('sitemirror-fault-'));
  const rssFile = join(tmpdir(), `sitemirror-rss-${randomBytes(6).toString('hex')}`);
  const started = Date.now();
  const result = await runCli(['crawl', `${server.origin}${seedPath}`, '--output', output, '--json', ...FAST, ...args], {
    timeoutMs: options.timeoutMs ?? 20_000,
    nodeOptions: ['--import', PEAK_RSS_PRELOAD],
    env: { SITEMIRROR_PEAK_RSS_FILE: rssFile },
  });
  const durationMs = Date.now() - started;
  let peakRssMiB: number | undefined;
  try {
    peakRssMiB = Math.round(Number(readFileSync(rssFile, 'utf8')) / 1024);
    rmSync(rssFile, { force: true });
  } catch {
    peakRssMiB = undefined;
  }
  const events = parseEvents(result.stdout);
  const summary = (events.find((event) => event.event === 'summary') ?? { pages: 0, files: 0, failed: [], skipped: {} }) as unknown as CrawlSummary;
  const verify = await runCli(['verify', output], { timeoutMs: 20_000 });
  return {
    result,
    output,
    site: join(output, server.hostFolder),
    events,
    summary,
    failed: events.filter((event) => event.event === 'failed'),
    skipped: events.filter((event) => event.event === 'skipped'),
    warnings: events.filter((event) => event.event === 'warning').map((event) => event.message ?? ''),
    verify,
    peakRssMiB,
    durationMs,
  };
}

export function parseEvents(stdout: string): CrawlEvent[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as CrawlEvent);
}
