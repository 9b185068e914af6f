// One SCENARIOS.md scenario end to end: serve a fixture, run the real CLI with --json, keep what it reported.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load, type CheerioAPI } from 'cheerio';
import { runCli, tempDir, type CliResult } from './cli.ts';
import { startServer, type FixtureServer, type RouteHandler } from './server.ts';

export interface CrawlEvent {
  event: string;
  url?: string;
  path?: string;
  page?: boolean;
  code?: string;
  message?: string;
  reason?: string;
  [key: string]: unknown;
}

export interface MirrorRun {
  server: FixtureServer;
  output: string;
  /** The host folder of the seed inside output (`S/` in SCENARIOS.md). */
  site: string;
  result: CliResult;
  /** The --json events, in order. */
  events: CrawlEvent[];
}

/** Starts a fixture server, crawls `seedPath` on it into a fresh folder with --json and `args`, and returns it all. Close run.server in after(). */
export async function mirrorFixture(options: {
  root?: string;
  routes?: Record<string, RouteHandler>;
  seedPath?: string;
  args?: string[];
  server?: FixtureServer;
}): Promise<MirrorRun> {
  const server = options.server ?? (await startServer({ root: options.root, routes: options.routes }));
  const output = await tempDir('sitemirror-scenario-');
  return { server, ...(await crawlInto(server, output, options.seedPath ?? '/', options.args ?? [])) };
}

/** Crawls again (same server) into `output`; for a second run or a second folder. */
export async function crawlInto(server: FixtureServer, output: string, seedPath: string, args: string[]): Promise<Omit<MirrorRun, 'server'>> {
  const result = await runCli(['crawl', `${server.origin}${seedPath}`, '--output', output, '--json', ...args], { timeoutMs: 30_000 });
  const events = result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as CrawlEvent);
  return { output, site: join(output, server.hostFolder), result, events };
}

/** URL → mirror path (relative to output) of every saved HTML page. */
export function savedPages(run: Pick<MirrorRun, 'events'>): Map<string, string> {
  return new Map(run.events.filter((e) => e.event === 'saved' && e.page).map((e) => [e.url!, e.path!]));
}

/** The saved file (a path relative to the site folder) parsed as HTML. */
export function loadSaved(run: Pick<MirrorRun, 'site'>, path: string): CheerioAPI {
  return load(readFileSync(join(run.site, path), 'utf8'));
}

/**
 * SCENARIOS.md conventions: every saved page has exactly one <link rel="canonical"> whose value is its origin URL
 * after redirects, fragment removed. Returns one line per page that breaks this.
 */
export function canonicalProblems(run: Pick<MirrorRun, 'events' | 'output'>): string[] {
  const problems: string[] = [];
  for (const [url, path] of savedPages(run)) {
    const $ = load(readFileSync(join(run.output, path), 'utf8'));
    const canonicals = $('link[rel~=canonical]').map((_, link) => $(link).attr('href')).get();
    const expected = url.replace(/#.*$/, '');
    if (canonicals.length !== 1 || canonicals[0] !== expected) problems.push(`${path}: ${JSON.stringify(canonicals)}, expected ${expected}`);
  }
  return problems;
}

/** One quiet crawl of a fixture server into a fresh folder, with the requests this run made. */
export interface Mirror {
  result: CliResult;
  output: string;
  site: string;
  /** Request targets the server saw during this run only. */
  requested: string[];
}

export async function mirror(server: FixtureServer, seedPath: string, args: string[] = []): Promise<Mirror> {
  const output = await tempDir();
  const before = server.requests.length;
  const result = await runCli(['crawl', `${server.origin}${seedPath}`, '--output', output, '--quiet', '--retries', '0', ...args]);
  return { result, output, site: join(output, server.hostFolder), requested: server.paths().slice(before) };
}
