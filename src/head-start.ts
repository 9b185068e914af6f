// What a crawl asks for before the rest of its code has loaded: the seed's robots.txt, the first request of every
// run, and on a new mirror the seed itself as soon as that robots.txt allows it.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CrawlOptions } from './config.js';
import { HttpFetcher, type FetcherOptions } from './fetch.js';
import { RobotsCache } from './robots.js';
import { Scope, seedSiteHostnames } from './scope.js';
import { STATE_DIR, createMirrorFolder } from './store.js';
import type { PageSource } from './types.js';
import { normalizeUrl } from './url.js';

/** The crawl's HTTP client settings, from its options: one place, so the head start and the crawl use the same. */
export function fetcherOptionsOf(options: CrawlOptions): FetcherOptions {
  return {
    userAgent: options.userAgent,
    headers: options.headers,
    cookie: options.cookie,
    connectTimeoutMs: options.connectTimeoutMs,
    readTimeoutMs: options.readTimeoutMs,
    maxRedirects: options.maxRedirects,
    maxBytes: options.maxFileBytes,
    totalTimeoutMs: options.maxFetchMs,
    connectionsPerOrigin: options.perHost,
    keepWireBody: options.warc,
    checkCertificates: options.checkCertificates,
    credentialsFor: seedSiteHostnames(options.seed),
  };
}

/**
 * The crawl's fetcher with the seed's robots.txt already on the way. The crawler's code (parsers, state, store)
 * takes 0.1–0.15 s to load; started first, robots.txt arrives while it loads instead of after. The crawl's robots
 * cache takes the response once, as if it had fetched it (retries fetch anew).
 * On a new mirror (an empty or missing state folder: nothing done or queued, no conditional request due, no state
 * kept elsewhere that a pointer there names) the seed is asked for the moment robots.txt allows it, read with the
 * crawl's own rules (RobotsCache, Scope, normalizeUrl), so its answer too arrives while the code loads; the crawler
 * takes it when it visits the seed.
 * Only where nothing checked later can refuse the run before its first request: not with a shared state (the
 * options must agree with the crawl it joins), an explicit --browser or --render always (the browser must be there).
 */
export class HeadStart {
  readonly fetcher: HttpFetcher;
  #robotsUrl: string | undefined;
  #robots: Promise<PageSource> | undefined;
  #seedUrl: string | undefined;
  /** The seed's response, or undefined when robots.txt did not allow it here (the crawl then decides alone). */
  #seed: Promise<PageSource | undefined> | undefined;
  /** Cancels the seed request when the crawl stops: before it took the answer, or while it waits for it. */
  readonly #abandon = new AbortController();

  private constructor(options: CrawlOptions, newMirror: boolean) {
    this.fetcher = new HttpFetcher(fetcherOptionsOf(options));
    let origin: string;
    try {
      origin = new URL(options.seed).origin;
    } catch {
      return; // the crawl itself reports a bad seed
    }
    this.#robotsUrl = `${origin}/robots.txt`;
    const robots = this.fetcher.fetch(this.#robotsUrl);
    this.#robots = robots;
    // Its failure is the robots cache's to read when it takes the response; until then it is not unhandled.
    robots.catch(() => undefined);
    if (newMirror) this.#askForSeed(options, robots);
  }

  static start(options: CrawlOptions): HeadStart | undefined {
    if (options.ignoreRobots || options.stateUrl !== undefined || options.browserPath !== undefined || options.render === 'always') return undefined;
    const root = resolve(options.outputDir);
    const newMirror = isNewMirror(root);
    createMirrorFolder(root); // its failure is the run's first error, before any request
    return new HeadStart(options, newMirror);
  }

  #askForSeed(options: CrawlOptions, robots: Promise<PageSource>): void {
    // The URL as the frontier will name it; a seed out of scope is refused by the crawl, never requested.
    const seedUrl = normalizeUrl(options.seed, options.query);
    if (new Scope(options.seed, options.scope).pageSkipReason(seedUrl) !== null) return;
    // The same answer read by the crawl's rules: no request and no warning of its own; a 5xx is "not now" here.
    const preview = new RobotsCache({ userAgent: options.userAgent, get: () => robots, retries: 0, retryDelayMs: 0 });
    const signal = this.#abandon.signal;
    this.#seedUrl = seedUrl;
    this.#seed = preview.policyFor(seedUrl).then((policy) =>
      policy.isAllowed(seedUrl) && !signal.aborted ? this.fetcher.fetch(seedUrl, { followRedirects: false, signal }) : undefined,
    );
    this.#seed.catch(() => undefined); // the crawler reads a failure when it takes the response
  }

  /** The response asked for ahead, if it is this URL's and not taken yet. */
  take(url: string): Promise<PageSource> | undefined {
    if (url !== this.#robotsUrl || this.#robots === undefined) return undefined;
    const robots = this.#robots;
    this.#robots = undefined;
    return robots;
  }

  /**
   * The seed's response asked for ahead, if url is the seed, it was not taken yet and the crawl would send no header
   * of its own (a referer, a validator) with it; then fetchAnew's answer if robots.txt had not allowed it here.
   */
  takeSeed(url: string, headers: Record<string, string>, fetchAnew: () => Promise<PageSource>): Promise<PageSource> | undefined {
    if (url !== this.#seedUrl || this.#seed === undefined || Object.keys(headers).length > 0) return undefined;
    const seed = this.#seed;
    this.#seed = undefined;
    return seed.then((source) => source ?? fetchAnew());
  }

  /** The crawl stopped or ended: a seed request still under way stops (one already answered is not touched). */
  abandon(): void {
    this.#abandon.abort();
    this.#seed = undefined;
  }
}

/** No state of any kind in the folder yet: not SQLite's database, not the pointer to a Redis state. */
function isNewMirror(root: string): boolean {
  try {
    return readdirSync(join(root, STATE_DIR)).length === 0;
  } catch {
    return true; // no state folder (or none readable: createMirrorFolder then reports why)
  }
}
