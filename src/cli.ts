// The command line: parses arguments, runs a command, returns the exit code. The only place that knows process.
import { parseCrawlArgs, parseStoredOptions, VERSION, type CrawlOptions } from './config.js';
import { SitemirrorError, UsageError, messageOf } from './errors.js';
import { HeadStart } from './head-start.js';
import { Reporter } from './report.js';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Writable } from 'node:stream';

type Io = { out: Writable & { isTTY?: boolean }; err: Writable & { isTTY?: boolean } };

function parseCommandArgs(command: string, args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    if (parsed.positionals.length !== 1) throw new UsageError(`${command} takes one folder: sitemirror ${command} <dir>`);
    return { dir: parsed.positionals[0]!, values: parsed.values };
  } catch (error) {
    throw error instanceof UsageError ? error : new UsageError((error as Error).message);
  }
}

async function updateCommand(args: string[], io: Io): Promise<number> {
  const { dir, values } = parseCommandArgs('update', args, {
    'keep-removed': { type: 'boolean' },
    every: { type: 'string' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    state: { type: 'string' },
  });
  // croner is loaded only for a scheduled update.
  const schedule = typeof values.every === 'string' ? (await import('./schedule.js')).parseSchedule(values.every) : undefined;
  const stateUrl = stateUrlOf(values.state);
  const { readStoredOptionsJson } = await import('./state.js');
  const stored = parseStoredOptions(await readStoredOptionsJson(dir, stateUrl));
  const options: CrawlOptions = { ...stored, outputDir: dir, json: values.json === true, quiet: values.quiet === true, stateUrl };
  const reporter = new Reporter({ json: options.json, quiet: options.quiet, out: io.out, err: io.err });
  let headStart: HeadStart | undefined = HeadStart.start(options);
  const { crawl } = await import('./crawler.js');
  return untilInterrupted(async (signal) => {
    for (;;) {
      const summary = await crawl({ options, reporter, signal, update: { keepRemoved: values['keep-removed'] === true }, headStart });
      headStart = undefined; // taken by the first run; a scheduled one makes its own fetcher
      reporter.finish(summary);
      const code = exitCodeOf(summary);
      if (!schedule || signal.aborted) return code;
      const next = schedule.next(Date.now());
      reporter.info(`next update ${schedule.describe()} at ${new Date(next).toISOString()}`);
      if (!(await sleepUntil(next, signal))) return code;
    }
  });
}

/** --state, else SITEMIRROR_STATE, else the state the mirror folder records (read later). */
function stateUrlOf(flag: unknown): string | undefined {
  return typeof flag === 'string' ? flag : process.env.SITEMIRROR_STATE || undefined;
}

function exitCodeOf(summary: { failed: unknown[]; stoppedBecause?: string }): number {
  return summary.failed.length > 0 || summary.stoppedBecause ? EXIT_ERRORS : EXIT_OK;
}

/** Runs a command with Ctrl-C and SIGTERM turned into a graceful stop (an aborted signal) instead of an exit. */
async function untilInterrupted<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

/** Waits until the time comes (true) or the signal fires (false). */
function sleepUntil(at: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((done) => {
    const timer = setTimeout(() => done(true), Math.max(0, at - Date.now()));
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      done(false);
    }, { once: true });
  });
}

async function verifyCommand(args: string[], io: Io): Promise<number> {
  const { dir, values } = parseCommandArgs('verify', args, { json: { type: 'boolean' }, state: { type: 'string' } });
  const { verifyMirror } = await import('./verify.js');
  const result = await verifyMirror(dir, stateUrlOf(values.state));
  if (values.json) {
    io.out.write(`${JSON.stringify(result)}\n`);
  } else {
    for (const problem of result.problems) io.out.write(`${problem.kind}: ${problem.path}: ${problem.detail}\n`);
    const archive = result.archive ? `, and ${result.archive.path} (${result.archive.filesChecked} files, ${result.archive.indexLinesChecked} index lines)` : '';
    io.out.write(
      `${result.problems.length === 0 ? 'OK' : 'FAILED'}: ${result.filesChecked} files and ${result.linksChecked} local links checked${archive}, ${result.problems.length} problems\n`,
    );
  }
  return result.problems.length === 0 ? EXIT_OK : EXIT_ERRORS;
}

async function serveCommand(args: string[], io: Io): Promise<number> {
  const { dir, values } = parseCommandArgs('serve', args, { port: { type: 'string', short: 'p' } });
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, not ${String(values.port)}`);
  const { serveMirror } = await import('./serve.js');
  const server = await serveMirror(dir, port);
  io.err.write(`sitemirror: serving ${dir} at ${server.url} (Ctrl-C to stop)\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await server.close();
  return EXIT_OK;
}

export const EXIT_OK = 0;
export const EXIT_ERRORS = 1;
export const EXIT_USAGE = 2;

const HELP = `sitemirror ${VERSION}: mirror a website into a browsable offline copy

Usage:
  sitemirror crawl <url> [options]    mirror a site into --output (default ./output); resumes an interrupted crawl
  sitemirror update <dir> [options]   re-crawl a mirror with the options it was made with; only changes are rewritten
      --keep-removed       keep the files of pages that now answer 404/410 (default: take them out)
      --every SCHEDULE     repeat in the foreground: an interval (6h, 30m, 1d) or a cron expression ("0 */6 * * *")
      --json, --quiet      as for crawl
      --state URL          as for crawl (default: the state the mirror was made with)
  sitemirror verify <dir> [--json] [--state URL]
                                      prove the mirror is whole: every file matches its recorded hash, every local link resolves,
                                      and its WACZ (--wacz) matches its digests and index
  sitemirror serve <dir> [--port N]   serve the mirror on 127.0.0.1 for a look in a browser

Scope:
  -d, --depth N            link hops from the seed (default: unlimited; requisites do not count)
      --max-pages N        follow at most N page links, the seed included
      --subdomains         also crawl subdomains of the seed's host
      --no-parent          stay below the seed's folder
      --path-prefix P      only crawl pages whose path starts with P
      --allow-host HOST    also fetch requisites (CSS, images, fonts) from HOST; repeatable
      --include REGEX      only crawl pages whose URL matches; repeatable
      --exclude REGEX      never fetch URLs that match; repeatable
      --sitemaps           add the URLs of the site's sitemaps (robots.txt Sitemap: lines, else /sitemap.xml)
      --ignore-robots      do not consult robots.txt (only with the site owner's consent)

Limits and crawler traps (a URL refused as a trap is counted as skipped "trap" and named in the report):
      --max-path-segments N   refuse URLs with more than N path segments (default 32)
      --max-segment-repeats N refuse URLs whose path holds one segment more than N times, a/b/a/b/… (default 3)
      --max-query-variants N  follow at most N page URLs per path that differ only in their query (default 1000)
      --sort-query            sort query parameters, so ?b=1&a=2 and ?a=2&b=1 are one page (fetched sorted)
      --strip-params LIST     query parameters to drop, comma-separated, * for a prefix
                              (default jsessionid,phpsessid,sid,sessionid,utm_*; '' keeps all)
      --max-time DURATION     stop the run after DURATION, downloads in flight included; run again to go on
      --max-total-size SIZE   stop the run once SIZE bytes were downloaded; run again to go on

Fetching:
  -c, --concurrency N      requests in flight at once (default 8)
      --per-host N         requests in flight per host (default 8, at most --concurrency)
      --delay DURATION     minimum gap between requests to one host, e.g. 500ms (a larger robots.txt crawl-delay wins)
      --timeout DURATION   read timeout: wait for headers and between body chunks (default 30s)
      --connect-timeout D  connect timeout (default 10s)
      --retries N          retries after a network error, 429 or 5xx (default 2; Retry-After honoured)
      --max-redirects N    redirects followed per URL (default 10)
      --max-file-size SIZE skip responses larger than SIZE, e.g. 20M (default 100M)
      --max-fetch-time D   one download at most, redirects included (default 10 × --timeout, so 5m)
      --max-parse-size SIZE save larger pages and stylesheets as sent, links not rewritten (default 16M)
      --user-agent TEXT    User-Agent header and robots.txt product token (default sitemirror/${VERSION})
      --header "N: V"      extra request header; repeatable
      --cookie TEXT        Cookie header, sent to the seed's site only (so is an Authorization --header)
      --user NAME          HTTP Basic authentication for the seed's site (also user:password@ in the URL)
      --password TEXT      its password (or SITEMIRROR_PASSWORD, which keeps it out of the shell's history)
      --no-check-certificate  accept any TLS certificate (self-signed, internal CA); NODE_EXTRA_CA_CERTS=ca.pem
                           trusts one CA instead

Rendering (pages that scripts build):
      --render MODE        auto (default): render the pages that run scripts in Chromium when one is found, else
                           fetch them plainly; always: every page, in a browser or an error; never: plain HTTP only
      --browser PATH       the Chromium or Chrome to use (default: Playwright's Chromium, then /usr/bin/chromium, …)
      --render-timeout D   one page in the browser at most, e.g. 10s (default 30s); then it is saved as it stands
      --scroll-steps N     scroll each page at most N viewports to load lazy content (default 20; 0: no scrolling)
      --keep-scripts       keep the scripts of rendered pages (default: drop them, the DOM is already built)

Many workers (README: "Many workers: state on Redis"):
      --state URL          keep the crawl state in Redis (redis://host:port/db, or SITEMIRROR_STATE) instead of
                           SQLite in the mirror: every worker started with the same seed, --output and --state
                           shares one frontier; all must use the same options
      --lease DURATION     a dead worker's URLs return to the frontier after DURATION (default 30s)

Output:
  -o, --output DIR         the mirror folder (default ./output)
      --no-canonical       do not add <link rel="canonical"> to mirrored pages
      --keep-error-pages   save the bodies of 4xx/5xx answers and link to them (they still count as errors)
      --warc               also archive every response (requests, redirects, errors) as WARC 1.1 files in
                           DIR/.sitemirror/warc/, gzip-compressed per record
      --warc-max-size SIZE start a new WARC file past SIZE (default 1G)
      --wacz               also package the WARCs as DIR/.sitemirror/archive.wacz (WACZ 1.1.1, for
                           ReplayWeb.page and pywb) at the end of each run; implies --warc
      --json               machine-readable events on stdout, one JSON object per line
  -q, --quiet              no progress or summary unless something failed
  -h, --help               this help

Exit codes: 0 success, 1 the crawl finished with errors (listed in the summary and the report), 2 bad usage.
`;

export async function main(argv: string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    io.out.write(HELP);
    return command === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (command === '--version' || command === '-V') {
    io.out.write(`${VERSION}\n`);
    return EXIT_OK;
  }
  try {
    if (command === 'crawl') {
      if (rest.includes('-h') || rest.includes('--help')) {
        io.out.write(HELP);
        return EXIT_OK;
      }
      const options = parseCrawlArgs(rest, { SITEMIRROR_STATE: process.env.SITEMIRROR_STATE, SITEMIRROR_PASSWORD: process.env.SITEMIRROR_PASSWORD });
      const reporter = new Reporter({ json: options.json, quiet: options.quiet, out: io.out, err: io.err });
      // The crawler's code loads while the seed's robots.txt is on the way (see HeadStart).
      const headStart = HeadStart.start(options);
      const { crawl } = await import('./crawler.js');
      return await untilInterrupted(async (signal) => {
        const summary = await crawl({ options, reporter, signal, headStart });
        reporter.finish(summary);
        return exitCodeOf(summary);
      });
    }
    if (command === 'update') return await updateCommand(rest, io);
    if (command === 'verify') return await verifyCommand(rest, io);
    if (command === 'serve') return await serveCommand(rest, io);
    throw new UsageError(`unknown command: ${command} (try sitemirror --help)`);
  } catch (error) {
    io.err.write(`sitemirror: ${messageOf(error)}\n`);
    if (error instanceof UsageError) return EXIT_USAGE;
    if (error instanceof SitemirrorError && error.code === 'USAGE') return EXIT_USAGE;
    return EXIT_ERRORS;
  }
}
