// What a crawl asks for before the rest of its code has loaded: the seed's robots.txt, the first request of every run.
import { resolve } from 'node:path';
import type { CrawlOptions } from './config.js';
import { HttpFetcher, type FetcherOptions } from './fetch.js';
import { createMirrorFolder } from './store.js';
import type { PageSource } from './types.js';

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
  };
}

/**
 * The crawl's fetcher with the seed's robots.txt already on the way. The crawler's code (parsers, state, store)
 * takes ~0.1 s to load; started first, robots.txt arrives while it loads instead of after, and the seed goes out
 * that much sooner. The crawl's robots cache takes the response once, as if it had fetched it (retries fetch anew).
 * Only where nothing checked later can refuse the run before its first request: not with a shared state (the
 * options must agree with the crawl it joins), an explicit --browser or --render always (the browser must be there).
 */
export class HeadStart {
  readonly fetcher: HttpFetcher;
  #robotsUrl: string | undefined;
  #robots: Promise<PageSource> | undefined;

  private constructor(options: CrawlOptions) {
    this.fetcher = new HttpFetcher(fetcherOptionsOf(options));
    let origin: string;
    try {
      origin = new URL(options.seed).origin;
    } catch {
      return; // the crawl itself reports a bad seed
    }
    this.#robotsUrl = `${origin}/robots.txt`;
    this.#robots = this.fetcher.fetch(this.#robotsUrl);
    // Its failure is the robots cache's to read when it takes the response; until then it is not unhandled.
    this.#robots.catch(() => undefined);
  }

  static start(options: CrawlOptions): HeadStart | undefined {
    if (options.ignoreRobots || options.stateUrl !== undefined || options.browserPath !== undefined || options.render === 'always') return undefined;
    createMirrorFolder(resolve(options.outputDir)); // its failure is the run's first error, before any request
    return new HeadStart(options);
  }

  /** The response asked for ahead, if it is this URL's and not taken yet. */
  take(url: string): Promise<PageSource> | undefined {
    if (url !== this.#robotsUrl || this.#robots === undefined) return undefined;
    const robots = this.#robots;
    this.#robots = undefined;
    return robots;
  }
}
