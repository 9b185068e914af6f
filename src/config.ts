// Options: one typed object, parsed and validated once here, defaults in one place. Pure (no I/O).
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';
import { DEFAULT_TRAP_LIMITS, type TrapLimits } from './traps.js';
import { DEFAULT_STRIP_PARAMS, isHttpUrl, normalizeUrl, type QueryRules } from './url.js';

export const VERSION = '0.1.0';
export const DEFAULT_USER_AGENT = `sitemirror/${VERSION} (+https://github.com/sitemirror/sitemirror)`;

export type RenderMode = 'auto' | 'always' | 'never';

export interface ScopeOptions {
  /** Also crawl pages on subdomains of the seed's host. */
  subdomains: boolean;
  /** Pages must have a path starting with this (e.g. '/docs/'); requisites are exempt. */
  pathPrefix: string | undefined;
  /** Extra hosts whose files may be fetched as requisites (a CDN), never crawled as pages. */
  allowedHosts: string[];
  /** Regular expressions; when any is given, a page URL must match one. */
  include: string[];
  /** Regular expressions; a URL that matches one is never fetched. */
  exclude: string[];
}

export interface CrawlOptions {
  seed: string;
  outputDir: string;
  /** Link hops from the seed; Infinity for no limit. Requisites do not count as hops. */
  depth: number;
  /** HTML pages to fetch at most; Infinity for no limit. */
  maxPages: number;
  scope: ScopeOptions;
  concurrency: number;
  perHost: number;
  /** Minimum gap between two requests to one host; a larger robots.txt crawl-delay wins. */
  delayMs: number;
  /** Upper bound for a robots.txt crawl-delay, so a hostile value cannot stall the crawl for hours. */
  maxCrawlDelayMs: number;
  /** auto: render pages in a browser when one is found, else fetch them plainly; always: a browser or an error. */
  render: RenderMode;
  /** --browser: the Chromium or Chrome executable to render with. */
  browserPath: string | undefined;
  /** Keep the scripts of rendered pages (by default a snapshot drops them: its DOM is already built). */
  keepScripts: boolean;
  /** One page in the browser, from navigation to snapshot; a page still loading then is saved as it stands. @default 30000 */
  renderTimeoutMs: number;
  /** Scrolls of one viewport height (720 px) per rendered page at most, to trigger lazy content (bounds infinite scroll). @default 20 */
  scrollSteps: number;
  userAgent: string;
  headers: Record<string, string>;
  cookie: string | undefined;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  retries: number;
  retryBaseDelayMs: number;
  maxRetryAfterMs: number;
  maxRedirects: number;
  /** Bytes; Infinity for no limit. */
  maxFileBytes: number;
  /** A larger page or stylesheet is saved as sent, unparsed (a DOM takes ~50 bytes of memory per byte of HTML). @default 16 MiB */
  maxParseBytes: number;
  /** One download at most, redirects included, so a body that trickles forever still ends. @default 10 × readTimeoutMs */
  maxFetchMs: number;
  /** One run at most; then downloads in flight are cut off and the crawl stops (a later run goes on). Infinity: none. */
  maxRunMs: number;
  /** Bytes received in one run at most; then no new download starts (those in flight finish). Infinity: none. */
  maxTotalBytes: number;
  /** Crawler-trap limits: path depth, repeated segments, query variants of one path (src/traps.ts). */
  traps: TrapLimits;
  /** Query normalisation before dedupe: session ids and trackers dropped, parameters sorted with --sort-query. */
  query: QueryRules;
  canonical: boolean;
  ignoreRobots: boolean;
  /** TLS certificates are verified (false: --no-check-certificate, for a self-signed or internal certificate). */
  checkCertificates: boolean;
  sitemaps: boolean;
  keepErrorPages: boolean;
  /** Archive every response as WARC 1.1 under .sitemirror/warc/ (src/warc.ts). */
  warc: boolean;
  /** A WARC file that would grow past this starts the next one. @default 1 GiB */
  warcMaxBytes: number;
  /** Package the WARCs as .sitemirror/archive.wacz at the end of each run (src/wacz.ts); implies warc. */
  wacz: boolean;
  json: boolean;
  quiet: boolean;
  /** --state or SITEMIRROR_STATE: redis://host:port/db to share the crawl with other workers; SQLite in the mirror when absent. */
  stateUrl: string | undefined;
  /** How long a URL stays leased to a worker that stopped renewing it (a dead worker), on a shared state. @default 30000 */
  leaseMs: number;
}

/** Options a worker may set for itself; every other option shapes the mirror and must match across workers. */
const PER_WORKER_OPTIONS = new Set<string>(['outputDir', 'concurrency', 'json', 'quiet', 'stateUrl', 'leaseMs', 'maxRunMs', 'maxTotalBytes', 'browserPath', 'render']);

/** The first option (by name) that shapes the mirror and differs between two workers, with both values; undefined when they agree. */
export function optionDifference(stored: CrawlOptions, mine: CrawlOptions): string | undefined {
  for (const key of Object.keys({ ...DEFAULTS, ...stored, ...mine }) as (keyof CrawlOptions)[]) {
    if (PER_WORKER_OPTIONS.has(key)) continue;
    const [a, b] = [JSON.stringify(stored[key]), JSON.stringify(mine[key])];
    if (a !== b) return `${key} (${b ?? 'unset'}; the crawl has ${a ?? 'unset'})`;
  }
  return undefined;
}

export const DEFAULTS: Omit<CrawlOptions, 'seed'> = {
  outputDir: 'output',
  depth: Infinity,
  maxPages: Infinity,
  scope: { subdomains: false, pathPrefix: undefined, allowedHosts: [], include: [], exclude: [] },
  concurrency: 8,
  perHost: 8,
  delayMs: 0,
  maxCrawlDelayMs: 30_000,
  render: 'auto',
  browserPath: undefined,
  keepScripts: false,
  renderTimeoutMs: 30_000,
  scrollSteps: 20,
  userAgent: DEFAULT_USER_AGENT,
  headers: {},
  cookie: undefined,
  connectTimeoutMs: 10_000,
  readTimeoutMs: 30_000,
  retries: 2,
  retryBaseDelayMs: 500,
  maxRetryAfterMs: 60_000,
  maxRedirects: 10,
  maxFileBytes: 100 * 1024 * 1024,
  maxParseBytes: 16 * 1024 * 1024,
  maxFetchMs: 300_000,
  maxRunMs: Infinity,
  maxTotalBytes: Infinity,
  traps: DEFAULT_TRAP_LIMITS,
  // Not sorted by default: a server may answer another order differently (an exact route, `&amp;` inside CSS), and
  // the per-path query limit already ends a family of orders.
  query: { sortParams: false, stripParams: DEFAULT_STRIP_PARAMS },
  canonical: true,
  ignoreRobots: false,
  checkCertificates: true,
  sitemaps: false,
  keepErrorPages: false,
  warc: false,
  warcMaxBytes: 1024 ** 3,
  wacz: false,
  json: false,
  quiet: false,
  stateUrl: undefined,
  leaseMs: 30_000,
};

/** `10M`, `500k`, `1G`, `2048` ⇒ bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(text.trim());
  if (!match) throw new UsageError(`not a size: ${text} (use e.g. 500k, 10M, 1G)`);
  const units: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Math.round(Number(match[1]) * (units[match[2]!.toLowerCase()] ?? 1));
}

/** `30s`, `500ms`, `2m`, `1.5` (seconds) ⇒ milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`not a duration: ${text} (use e.g. 500ms, 30s, 2m)`);
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return Math.round(Number(match[1]) * units[(match[2] ?? 's').toLowerCase()]!);
}

function parseCount(name: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  if (/^(inf|infinite|unlimited)$/i.test(text)) return Infinity;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, not ${text}`);
  return value;
}

function positiveDuration(name: string, text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0) throw new UsageError(`--${name} must be longer than 0, not ${text}`);
  return ms;
}

/** `jsessionid,utm_*` ⇒ ['jsessionid', 'utm_*']; '' ⇒ [] (keep every parameter). */
function parseParamList(text: string): string[] {
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const bad = names.find((name) => /[=&?#\s]/.test(name) || name === '*');
  if (bad !== undefined) throw new UsageError(`--strip-params takes parameter names separated by commas (a trailing * matches a prefix), not ${bad}`);
  return names;
}

function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new UsageError(`--header must look like "Name: value", not ${text}`);
  return [text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim()];
}

/** A user name or password as the URL spells it, percent-escapes decoded (a malformed escape is kept as written). */
function decodeUserInfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function checkPattern(pattern: string): string {
  try {
    new RegExp(pattern);
  } catch (error) {
    throw new UsageError(`not a valid pattern: ${pattern} (${(error as Error).message})`);
  }
  return pattern;
}

export const CRAWL_FLAGS = {
  output: { type: 'string', short: 'o' },
  depth: { type: 'string', short: 'd' },
  'max-pages': { type: 'string' },
  subdomains: { type: 'boolean' },
  'no-parent': { type: 'boolean' },
  'path-prefix': { type: 'string' },
  'allow-host': { type: 'string', multiple: true },
  include: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  concurrency: { type: 'string', short: 'c' },
  'per-host': { type: 'string' },
  delay: { type: 'string' },
  render: { type: 'string' },
  browser: { type: 'string' },
  'keep-scripts': { type: 'boolean' },
  'render-timeout': { type: 'string' },
  'scroll-steps': { type: 'string' },
  'user-agent': { type: 'string' },
  header: { type: 'string', multiple: true },
  cookie: { type: 'string' },
  timeout: { type: 'string' },
  'connect-timeout': { type: 'string' },
  retries: { type: 'string' },
  'max-redirects': { type: 'string' },
  'max-file-size': { type: 'string' },
  'max-fetch-time': { type: 'string' },
  'max-parse-size': { type: 'string' },
  'max-time': { type: 'string' },
  'max-total-size': { type: 'string' },
  'max-path-segments': { type: 'string' },
  'max-segment-repeats': { type: 'string' },
  'max-query-variants': { type: 'string' },
  'sort-query': { type: 'boolean' },
  'strip-params': { type: 'string' },
  'no-canonical': { type: 'boolean' },
  'ignore-robots': { type: 'boolean' },
  user: { type: 'string' },
  password: { type: 'string' },
  'no-check-certificate': { type: 'boolean' },
  sitemaps: { type: 'boolean' },
  'keep-error-pages': { type: 'boolean' },
  warc: { type: 'boolean' },
  'warc-max-size': { type: 'string' },
  wacz: { type: 'boolean' },
  state: { type: 'string' },
  lease: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses `crawl` arguments (after the command word) into validated options. Throws UsageError. */
export function parseCrawlArgs(args: string[], environment: { SITEMIRROR_STATE?: string; SITEMIRROR_PASSWORD?: string } = {}): CrawlOptions {
  let parsed;
  try {
    parsed = parseArgs({ args, options: CRAWL_FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('crawl takes exactly one URL: sitemirror crawl <url> [options]');
  const seedText = positionals[0]!;
  if (!isHttpUrl(seedText)) throw new UsageError(`not an http(s) URL: ${seedText}`);
  const query: QueryRules = {
    sortParams: values['sort-query'] ?? DEFAULTS.query.sortParams,
    stripParams: values['strip-params'] === undefined ? DEFAULTS.query.stripParams : parseParamList(values['strip-params']),
  };
  // A user name and password in the seed become --user and --password: the URL the mirror records has none.
  const seedUrl = new URL(seedText);
  const urlUser = decodeUserInfo(seedUrl.username);
  const urlPassword = decodeUserInfo(seedUrl.password);
  seedUrl.username = '';
  seedUrl.password = '';
  const seed = normalizeUrl(seedUrl.href, query);
  const headers = Object.fromEntries((values.header ?? []).map(parseHeader));
  const user = values.user ?? (urlUser || undefined);
  const password = values.password ?? environment.SITEMIRROR_PASSWORD ?? urlPassword;
  if (values.password !== undefined && user === undefined) throw new UsageError('--password needs --user');
  if (user !== undefined) {
    if (headers.authorization !== undefined) throw new UsageError('--user and an Authorization --header cannot both be given');
    // HTTP Basic (RFC 7617), sent only to the seed's site, as a cookie for it would be (seedSiteHostnames).
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  }

  const render = values.render ?? DEFAULTS.render;
  if (render !== 'auto' && render !== 'always' && render !== 'never') {
    throw new UsageError(`--render must be auto, always or never, not ${render}`);
  }
  let pathPrefix = values['path-prefix'];
  if (pathPrefix !== undefined && !pathPrefix.startsWith('/')) pathPrefix = `/${pathPrefix}`;
  if (values['no-parent']) {
    const path = new URL(seed).pathname;
    pathPrefix = path.slice(0, path.lastIndexOf('/') + 1);
  }
  const readTimeoutMs = values.timeout === undefined ? DEFAULTS.readTimeoutMs : parseDuration(values.timeout);
  const concurrency = parseCount('concurrency', values.concurrency, DEFAULTS.concurrency, 1);
  return {
    seed,
    outputDir: values.output ?? DEFAULTS.outputDir,
    depth: parseCount('depth', values.depth, DEFAULTS.depth),
    maxPages: parseCount('max-pages', values['max-pages'], DEFAULTS.maxPages, 1),
    scope: {
      subdomains: values.subdomains ?? false,
      pathPrefix,
      allowedHosts: (values['allow-host'] ?? []).map((host) => host.toLowerCase()),
      include: (values.include ?? []).map(checkPattern),
      exclude: (values.exclude ?? []).map(checkPattern),
    },
    concurrency,
    perHost: parseCount('per-host', values['per-host'], Math.min(DEFAULTS.perHost, concurrency), 1),
    delayMs: values.delay === undefined ? DEFAULTS.delayMs : parseDuration(values.delay),
    maxCrawlDelayMs: DEFAULTS.maxCrawlDelayMs,
    render,
    browserPath: values.browser,
    keepScripts: values['keep-scripts'] ?? false,
    renderTimeoutMs: values['render-timeout'] === undefined ? DEFAULTS.renderTimeoutMs : positiveDuration('render-timeout', values['render-timeout']),
    scrollSteps: parseCount('scroll-steps', values['scroll-steps'], DEFAULTS.scrollSteps),
    userAgent: values['user-agent'] ?? DEFAULTS.userAgent,
    headers,
    cookie: values.cookie,
    connectTimeoutMs: values['connect-timeout'] === undefined ? Math.min(DEFAULTS.connectTimeoutMs, readTimeoutMs) : parseDuration(values['connect-timeout']),
    readTimeoutMs,
    retries: parseCount('retries', values.retries, DEFAULTS.retries),
    retryBaseDelayMs: DEFAULTS.retryBaseDelayMs,
    maxRetryAfterMs: DEFAULTS.maxRetryAfterMs,
    maxRedirects: parseCount('max-redirects', values['max-redirects'], DEFAULTS.maxRedirects),
    maxFileBytes: values['max-file-size'] === undefined ? DEFAULTS.maxFileBytes : parseSize(values['max-file-size']),
    maxParseBytes: values['max-parse-size'] === undefined ? DEFAULTS.maxParseBytes : parseSize(values['max-parse-size']),
    maxFetchMs: values['max-fetch-time'] === undefined ? 10 * readTimeoutMs : positiveDuration('max-fetch-time', values['max-fetch-time']),
    maxRunMs: values['max-time'] === undefined ? DEFAULTS.maxRunMs : positiveDuration('max-time', values['max-time']),
    maxTotalBytes: values['max-total-size'] === undefined ? DEFAULTS.maxTotalBytes : parseSize(values['max-total-size']),
    traps: {
      maxPathSegments: parseCount('max-path-segments', values['max-path-segments'], DEFAULTS.traps.maxPathSegments, 1),
      maxSegmentRepeats: parseCount('max-segment-repeats', values['max-segment-repeats'], DEFAULTS.traps.maxSegmentRepeats, 1),
      maxQueryVariants: parseCount('max-query-variants', values['max-query-variants'], DEFAULTS.traps.maxQueryVariants, 1),
    },
    query,
    canonical: !values['no-canonical'],
    ignoreRobots: values['ignore-robots'] ?? false,
    checkCertificates: !values['no-check-certificate'],
    sitemaps: values.sitemaps ?? false,
    keepErrorPages: values['keep-error-pages'] ?? false,
    // A WACZ packages WARCs: asking for one asks for them.
    warc: (values.warc ?? false) || (values.wacz ?? false),
    warcMaxBytes: values['warc-max-size'] === undefined ? DEFAULTS.warcMaxBytes : parseSize(values['warc-max-size']),
    wacz: values.wacz ?? false,
    json: values.json ?? false,
    quiet: values.quiet ?? false,
    stateUrl: values.state ?? (environment.SITEMIRROR_STATE || undefined),
    leaseMs: values.lease === undefined ? DEFAULTS.leaseMs : positiveDuration('lease', values.lease),
  };
}

/** The options a mirror was made with, as the state keeps them (JSON writes Infinity as null). */
export function parseStoredOptions(json: string): CrawlOptions {
  const stored = JSON.parse(json) as CrawlOptions;
  const unlimited = (value: number | null) => (value === null ? Infinity : value);
  return {
    ...DEFAULTS,
    ...stored,
    depth: unlimited(stored.depth),
    maxPages: unlimited(stored.maxPages),
    maxFileBytes: unlimited(stored.maxFileBytes),
    maxParseBytes: stored.maxParseBytes === undefined ? DEFAULTS.maxParseBytes : unlimited(stored.maxParseBytes),
    maxRunMs: stored.maxRunMs === undefined ? DEFAULTS.maxRunMs : unlimited(stored.maxRunMs),
    maxTotalBytes: stored.maxTotalBytes === undefined ? DEFAULTS.maxTotalBytes : unlimited(stored.maxTotalBytes),
    traps: stored.traps === undefined ? DEFAULTS.traps : {
      maxPathSegments: unlimited(stored.traps.maxPathSegments),
      maxSegmentRepeats: unlimited(stored.traps.maxSegmentRepeats),
      maxQueryVariants: unlimited(stored.traps.maxQueryVariants),
    },
    query: { ...DEFAULTS.query, ...stored.query },
    scrollSteps: stored.scrollSteps === undefined ? DEFAULTS.scrollSteps : unlimited(stored.scrollSteps),
    scope: { ...DEFAULTS.scope, ...stored.scope },
  };
}

