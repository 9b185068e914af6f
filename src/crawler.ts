// The crawl: take a URL from the frontier, check robots, fetch, extract, rewrite, store, record. Orchestration only.
import { setMaxListeners } from 'node:events';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { optionDifference, parseStoredOptions, type CrawlOptions } from './config.js';
import { preloadCssParser } from './css.js';
import { isHtmlType, openDocument } from './documents.js';
import { HttpStatusError, SitemirrorError, errorCodeOf, messageOf } from './errors.js';
import { HttpFetcher, HttpResponseError, withRetries } from './fetch.js';
import { fetcherOptionsOf, type HeadStart } from './head-start.js';
import { Frontier, type FrontierItem } from './frontier.js';
import { effectiveMediaType } from './mediatype.js';
import type { HostGate } from './politeness.js';
import type { CrawlSummary, FailedUrl, Reporter } from './report.js';
import { RobotsCache, type RobotsPolicy } from './robots.js';
import { Scope, isCredentialHeader, seedSiteHostnames } from './scope.js';
import { openState, type CrawlState, type UrlRecord } from './state.js';
import { MirrorStore, STATE_DIR, WACZ_FILE, WARC_DIR, createMirrorFolder, sha256 } from './store.js';
import type { SpoolOptions } from './spool.js';
import { bodySize, type PageSource, type ReferenceKind, type SkipReason } from './types.js';
import { hostKey } from './url.js';
import { MirrorUpdate, conditionalHeaders } from './update.js';
import { LinkSettler } from './links.js';
import { ProcessingTurns } from './turns.js';
import type { ArchivedExchange, CapturedResponse } from './render.js';
import { PageRendering } from './rendered.js';
import { VERSION } from './config.js';
// WARC, WACZ and sitemap code (warcio, yazl, fast-xml-parser) is loaded only by the runs that use it: ~0.15 s of CPU
// at every start otherwise.
import type { WarcWriter } from './warc.js';
import type { WaczPage } from './wacz.js';

const SITEMAP_NESTING_LIMIT = 3;
const SITEMAP_URL_LIMIT = 50_000;

export interface CrawlRun {
  options: CrawlOptions;
  reporter: Reporter;
  signal?: AbortSignal;
  /** Re-check every URL the mirror knows with conditional requests, build the next mirror aside, publish it at the end. */
  update?: { keepRemoved: boolean };
  /** The fetcher, with the seed's robots.txt asked for while this module loaded (see cli.ts); else one is made here. */
  headStart?: HeadStart;
}

export async function crawl({ options, reporter, signal, update, headStart }: CrawlRun): Promise<CrawlSummary> {
  let state: CrawlState;
  try {
    if (!headStart) createMirrorFolder(resolve(options.outputDir)); // a head start made it before its request
    state = await openState({ outputDir: options.outputDir, stateUrl: options.stateUrl, purpose: update ? 'update' : 'crawl', seed: options.seed, leaseMs: options.leaseMs });
  } catch (error) {
    headStart?.abandon();
    await headStart?.fetcher.close();
    throw error;
  }
  const crawler = new Crawler(options, reporter, update, state, headStart);
  try {
    return await crawler.run(signal);
  } finally {
    await crawler.close();
  }
}

/**
 * Workers per request slot: while one worker parses and writes what it fetched, another's request is on the wire
 * or waits in the connection pool for the next free connection (HostLimiter's aheadPerHost), so a latency-bound crawl keeps
 * all --concurrency connections busy, and the next request on each is made before it frees. (Three a slot measured
 * no better at 5 connections and 50 ms, and held more pages in memory.)
 */
const WORKERS_PER_REQUEST = 2;

/** State meta key: the hosts the seed redirected to, as a JSON array. */
const SEED_HOSTS_META = 'seed-hosts';

class Crawler {
  private readonly store: MirrorStore;
  private readonly scope: Scope;
  private readonly frontier: Frontier;
  private readonly fetcher: HttpFetcher;
  private readonly limiter: HostGate;
  /** Page processing, one chunk per turn of the event loop. */
  private readonly turns = new ProcessingTurns();
  private readonly robots: RobotsCache;
  private readonly links: LinkSettler;
  private readonly failed: FailedUrl[] = [];
  private readonly startedAt = Date.now();
  private stoppedBecause: string | undefined;
  /** Aborted when the crawl stops: downloads in flight and retry waits end at once, their URLs stay queued. */
  private readonly halt = haltController();
  private interrupted = false;
  /** 'disk': the run stopped because the mirror's files or state could not be written. */
  private stoppedBy: 'disk' | undefined;
  /** Redirects followed to reach a URL and the URL the chain started at, so an endless chain of fresh URLs still ends. */
  private readonly redirectHops = new Map<number, { hops: number; from: string }>();
  private update: MirrorUpdate | undefined;
  private readonly traffic = { requests: 0, notModified: 0, bytesReceived: 0 };
  /** Large bodies are read to files beside the mirror, not into memory (spool.ts). */
  private readonly spool: SpoolOptions;
  /** Set when pages are rendered in a browser (--render auto with a browser found, or always). */
  private rendering: PageRendering | undefined;
  /** --warc: the archive every response is written to as it arrives. */
  private warc: WarcWriter | undefined;

  constructor(
    private readonly options: CrawlOptions,
    private readonly reporter: Reporter,
    private readonly updating: { keepRemoved: boolean } | undefined,
    private readonly state: CrawlState,
    private readonly headStart: HeadStart | undefined,
  ) {
    this.store = new MirrorStore(options.outputDir);
    this.scope = new Scope(options.seed, options.scope);
    this.links = new LinkSettler(this.state, this.store, options.canonical, options.query);
    this.frontier = new Frontier(this.state, this.scope, {
      depth: options.depth,
      maxPages: options.maxPages,
      traps: options.traps,
      query: options.query,
      onTrap: (url, trap) => reporter.skipped(url, 'trap', trap.reason),
    });
    this.fetcher = headStart?.fetcher ?? new HttpFetcher(fetcherOptionsOf(options));
    // A page or stylesheet is parsed in memory up to --max-parse-size; any other body is only ever written out.
    this.spool = {
      newPath: () => this.store.temporaryPath(),
      aboveBytes: (contentType) => (mayBeDocument(contentType) ? options.maxParseBytes : SPOOL_ABOVE_BYTES),
    };
    if (headStart) this.halt.signal.addEventListener('abort', () => headStart.abandon(), { once: true });
    // On a shared state the per-host limit and delay hold across every worker.
    // The fetcher's agent holds at most perHost connections to a host (fetcherOptionsOf), which aheadPerHost needs.
    this.limiter = this.state.hostGate({ perHost: options.perHost, delayMs: options.delayMs, total: options.concurrency, aheadPerHost: options.perHost });
    this.robots = new RobotsCache({
      userAgent: options.userAgent,
      get: (url) => {
        this.traffic.requests++;
        return this.archived(url, {}, headStart?.take(url) ?? this.fetcher.fetch(url));
      },
      retries: options.retries,
      retryDelayMs: options.retryBaseDelayMs,
      ignore: options.ignoreRobots,
      warn: (message) => reporter.warn(message),
    });
  }

  async run(signal?: AbortSignal): Promise<CrawlSummary> {
    await this.store.open(this.state.shared);
    // The state keeps the options for `update`, a cookie or password among them, and the WARCs keep the requests.
    if (carriesCredentials(this.options)) {
      // A disk without Unix modes (a FAT stick, some network shares) cannot do it: said, not fatal.
      await this.store.keepStatePrivate().catch((error: unknown) => this.reporter.warn(`the state folder holds the crawl's credentials and could not be made private: ${messageOf(error)}`));
    }
    await MirrorUpdate.finishInterruptedPublish(this.state, this.store);
    if (!this.updating) await this.recordOptions();
    const runId = await this.state.startRun(this.updating ? 'update' : 'crawl');
    if (this.options.warc) {
      const info = { software: `sitemirror/${VERSION}`, format: 'WARC File Format 1.1', operation: this.updating ? 'update' : 'crawl', options: JSON.stringify({ ...this.options, json: undefined, quiet: undefined }) };
      const onTrim = (file: string, bytes: number) => this.reporter.warn(`${file} ended in a record cut off by an interrupted run: trimmed ${bytes} bytes back to its last whole record`);
      const { WarcWriter } = await import('./warc.js');
      this.warc = WarcWriter.open(join(this.store.root, STATE_DIR, WARC_DIR), { runId, maxBytes: this.options.warcMaxBytes, info, onTrim });
    }
    // Before the requeues below, which keep to the crawl's scope: the hosts the seed led to are in it.
    await this.adoptSeedHosts();
    if (this.updating) {
      this.update = new MirrorUpdate(this.state, this.store);
      await this.update.begin();
      await this.frontier.reload();
    }
    else await this.retryTransientFailures();
    if (this.options.ignoreRobots) this.reporter.warn('--ignore-robots: robots.txt is not consulted; be sure the site owner agrees');
    if (!this.options.checkCertificates) this.reporter.warn('--no-check-certificate: TLS certificates are not checked, so anyone on the network path could alter this copy');
    const onAbort = () => {
      this.interrupted = true;
      this.stop('the crawl was interrupted');
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const seed = await this.frontier.offer(this.options.seed, 'page', 'html', null);
    if ('skipped' in seed) throw new SitemirrorError('USAGE', `the seed ${this.options.seed} is not in scope (${seed.skipped})`);
    // A new seed in a mirror that already holds as many pages (of other seeds) as --max-pages allows.
    if (seed.record.state === 'skipped' && seed.record.skip_reason === 'max-pages') {
      throw new SitemirrorError('USAGE', `the seed ${this.options.seed} is not crawled: ${this.options.outputDir} already holds the ${this.options.maxPages} pages --max-pages allows; raise it to go on`);
    }
    if (!this.updating && !this.state.shared && (await this.state.countQueued()) === 0) {
      this.reporter.info(`${this.options.outputDir} already holds a finished mirror of ${this.options.seed}; \`sitemirror update ${this.options.outputDir}\` refreshes it`);
    }
    this.rendering = await PageRendering.start(this.options, {
      scope: this.scope,
      robotsPolicy: (url) => this.robotsPolicy(url),
      record: (url) => this.state.get(url),
      store: this.store,
      limiter: this.limiter,
      headers: this.options.headers,
      credentialsFor: seedSiteHostnames(this.options.seed),
      frontier: this.frontier,
      say: this.reporter,
      signal: this.halt.signal,
      keepResponse: (record, response) => this.keepCaptured(record, response),
      archive: this.archiveRendered,
    });
    await this.refuseDisallowedSeed();
    if (this.options.sitemaps) await this.addSitemapUrls();

    const deadline = Number.isFinite(this.options.maxRunMs)
      ? setTimeout(() => this.stopAtLimit(`the --max-time limit of ${this.options.maxRunMs / 1000}s was reached`), this.options.maxRunMs)
      : undefined;
    const workers = Array.from({ length: this.options.concurrency * WORKERS_PER_REQUEST }, () => this.work());
    // Once the first requests are out, the CSS parser loads while their answers travel (see css.ts).
    setImmediate(preloadCssParser);
    await Promise.all(workers);
    clearTimeout(deadline);
    signal?.removeEventListener('abort', onAbort);

    // An interrupted crawl still leaves a browsable mirror (links to what was not fetched go to the origin, and a
    // resume settles them again); an update that stops rolls back instead.
    const settles = !this.stoppedBecause || (this.interrupted && !this.updating && !this.state.shared);
    let rewritten = settles ? await this.settleLinks() : 0;
    if (!settles && this.stoppedBy === 'disk' && !this.updating && !this.state.shared) {
      // A full disk: the settling may still fit (page by page, each through a temporary file; the partial file of
      // a large download was removed). Where it does not, pages keep their links to files not written, and the
      // next run settles them.
      rewritten = await this.settleLinks().catch((error: unknown) => {
        if (runFailureOf(error) === undefined) throw error;
        return 0;
      });
    }
    const changes = this.update ? await this.update.end(this.stoppedBecause !== undefined, this.traffic) : undefined;
    if (this.update && this.stoppedBecause) this.stoppedBecause += '; the previous mirror is unchanged';
    await this.warc?.close();
    if (this.options.wacz && !this.stoppedBecause) await this.packageWacz();
    const summary = { ...(await this.summarize(rewritten)), ...(changes ? { changes } : {}) };
    try {
      await this.state.finishRun(runId, summary);
      await this.store.writeReport(`${this.updating ? 'update' : 'run'}-${runId}.json`, `${JSON.stringify(summary, null, 2)}\n`);
    } catch (error) {
      // A full disk that stopped the run may not take its report either; the summary is still shown.
      if (runFailureOf(error) === undefined || !this.stoppedBecause) throw error;
    }
    return summary;
  }

  /**
   * The options the mirror is made with. Workers sharing a state must agree on every option that shapes the mirror:
   * the first stores them, a later one that differs is refused before it fetches anything.
   */
  private async recordOptions(): Promise<void> {
    const json = JSON.stringify({ ...this.options, json: undefined, quiet: undefined, stateUrl: undefined });
    if (!this.state.shared) return this.state.setMeta('options', json);
    const stored = await this.state.setMetaIfAbsent('options', json);
    const difference = stored === undefined ? undefined : optionDifference(parseStoredOptions(stored), parseStoredOptions(json));
    if (difference !== undefined) {
      throw new SitemirrorError('USAGE', `this worker's ${difference} differs from the crawl already in ${this.state.location}: start every worker with the same options (or another --state)`);
    }
  }

  /**
   * Link settlement, once the frontier is empty. On a shared state it runs once, by the first worker to get there,
   * under a lock; the others wait for it to finish (a later URL found by nobody can reopen it).
   */
  private async settleLinks(): Promise<number> {
    if (!this.state.shared) return this.links.settle();
    for (;;) {
      if ((await this.state.getMeta('settled')) === '1') return 0;
      const done = await this.state.exclusively('settle', async () => {
        if ((await this.state.getMeta('settled')) === '1' || (await this.state.countQueued()) > 0) return 0;
        const rewritten = await this.links.settle();
        await this.state.setMeta('settled', '1');
        return rewritten;
      });
      if (done !== undefined) return done.value;
      await new Promise((wake) => setTimeout(wake, 100));
    }
  }

  /**
   * robots.txt wins over an explicit seed (B-01 b; wget2 fetches it anyway): a disallowed seed ends the run before
   * anything else is fetched, with one clear line. An unreachable robots.txt is left to visit(), which records it.
   */
  private async refuseDisallowedSeed(): Promise<void> {
    const seed = this.options.seed;
    const robots = await this.robotsPolicy(seed);
    if (robots.isAllowed(seed) || robots.source === 'unreachable') return;
    const robotsUrl = new URL('/robots.txt', seed).href;
    throw new SitemirrorError(
      'ROBOTS_DISALLOWED',
      `the seed ${seed} is disallowed by robots.txt (${robotsUrl}); nothing was fetched (--ignore-robots overrides this; use it only with the site owner's consent)`,
    );
  }

  private stop(reason: string): void {
    this.stoppedBecause ??= reason;
    this.frontier.stop();
    this.halt.abort();
  }

  /** A limit of the run (--max-time, --max-total-size) ends it like an interruption: the mirror is settled, a rerun goes on. */
  private stopAtLimit(reason: string): void {
    if (this.stoppedBecause) return;
    this.interrupted = true;
    this.reporter.warn(`stopping: ${reason}; a later run of the same command goes on`);
    this.stop(reason);
  }

  /**
   * A crawl run again over its mirror tries once more the URLs that failed for a reason that may have passed, and
   * goes on past the pages a lower --max-pages or --depth left out before.
   */
  private async retryTransientFailures(): Promise<void> {
    // Only this seed's URLs: a mirror folder may hold other seeds' crawls, with their own failures and limits.
    const inScope = (url: string, kind: ReferenceKind) => (kind === 'page' ? this.scope.pageSkipReason(url) : this.scope.requisiteSkipReason(url)) === null;
    const requeued = await this.state.requeueTransientFailures(inScope);
    if (requeued > 0) this.reporter.info(`trying again ${requeued} URLs that failed last time (network errors, timeouts, 5xx, 429)`);
    const resumed = await this.state.requeueLimitSkips({ maxPages: this.options.maxPages, depth: this.options.depth }, inScope);
    if (resumed > 0) this.reporter.info(`going on with ${resumed} pages an earlier run left out for --max-pages or --depth`);
    await this.frontier.reload();
  }

  private async work(): Promise<void> {
    for (;;) {
      const item = await this.frontier.take();
      if (item === null) return;
      try {
        await this.visit(item);
      } catch (error) {
        // A failure of the whole run (the disk) stops the crawl; the state stays consistent for a resume.
        const runFailure = runFailureOf(error);
        if (runFailure !== undefined) {
          // Workers in flight meet the same full disk: one line says it.
          if (!this.stoppedBecause) this.reporter.warn(runFailure);
          this.stoppedBy ??= 'disk';
          this.stop(runFailure);
        } else {
          await this.fail(item.id, item.url, error);
        }
      } finally {
        await this.frontier.release(item.id);
        this.reporter.setQueued(this.frontier.queuedCount);
      }
    }
  }

  /** The life of one URL: robots, fetch, then either the body or the redirect target joins the mirror. */
  private async visit(item: FrontierItem): Promise<void> {
    const robots = await this.robotsPolicy(item.url);
    if (!robots.isAllowed(item.url)) {
      // RFC 9309 §2.3.1.4: an unreachable robots.txt is the origin failing, not its owner refusing, so it is an error.
      if (robots.source === 'unreachable') return this.fail(item.id, item.url, robotsUnavailable(item.url));
      return this.skip(item.id, item.url, 'robots');
    }
    // Read once: nothing else writes this URL's record while this worker holds it, until a render stores captures.
    const record = (await this.state.getById(item.id))!;
    const source = await this.fetch(item, record);
    if (source === undefined) return;
    try {
      if (source.status === 304) return await this.keepUnchanged(item.id);
      const hop = source.redirectChain[0];
      if (hop !== undefined) return await this.followRedirect(item, hop.status, hop.location);
      if (this.rendering && !source.spooled && (await this.rendering.wants(record, source))) {
        const page = await this.rendering.render(record, source);
        if (page === undefined) return; // the crawl stopped mid-render: the URL stays queued
        await this.process((await this.state.getById(item.id))!, page);
      } else {
        await this.process(record, source);
      }
      if (source.status >= 400) await this.recordErrorPage(item.id, item.url, source.status);
    } finally {
      // Moved into the mirror by process(), unless the body was not kept (unchanged, an alias, a failure).
      if (source.spooled) await rm(source.spooled.path, { force: true }).catch(() => undefined);
    }
  }

  /** A response the browser loaded for a page, kept as if fetched (see PageRendering): no second download. */
  private async keepCaptured(record: UrlRecord, response: CapturedResponse): Promise<void> {
    try {
      this.traffic.requests++;
      this.traffic.bytesReceived += response.body.length;
      // A 4xx the browser met is final, as it would be for our own fetch: recorded, not asked for again.
      if (response.status >= 400 && !this.options.keepErrorPages) {
        return this.fail(record.id, record.url, new HttpStatusError(response.status, record.url));
      }
      await this.process((await this.state.getById(record.id))!, { ...response, requestedUrl: record.url, finalUrl: record.url, redirectChain: [], via: 'http' });
      if (response.status >= 400) await this.recordErrorPage(record.id, record.url, response.status);
    } catch (error) {
      if (runFailureOf(error) !== undefined) throw error; // the disk: the worker stops the run
      await this.fail(record.id, record.url, error);
    }
  }

  /**
   * A redirect target is one more frontier entry (scope, robots and dedupe apply to each hop; a redirect is not a
   * link hop, so the depth stays). The redirecting URL records where it leads; links to it are settled at the end.
   */
  private async followRedirect(item: FrontierItem, status: number, location: string): Promise<void> {
    const chain = this.redirectHops.get(item.id);
    const hops = (chain?.hops ?? 0) + 1;
    const from = chain?.from ?? item.url;
    if (hops > this.options.maxRedirects) {
      // Reported under the URL the link pointed at, which is the one a user knows.
      const message = `more than ${this.options.maxRedirects} redirects from ${from} (stopped at ${item.url} → ${location})`;
      return this.fail(item.id, from, new SitemirrorError('TOO_MANY_REDIRECTS', message));
    }
    if (from === this.options.seed && item.kind === 'page') await this.followSeedOffSite(location);
    const record = (await this.state.getById(item.id))!;
    const parent = { id: item.id, depth: item.kind === 'page' ? item.depth - 1 : item.depth };
    const admission = await this.frontier.offer(location, item.kind, record.expected, parent);
    if ('skipped' in admission) {
      await this.state.update(item.id, { state: 'skipped', skip_reason: admission.skipped, http_status: status });
      this.reporter.skipped(item.url, admission.skipped);
      return;
    }
    const target = admission.record;
    if (await this.leadsBackTo(target, item.id)) {
      return this.fail(item.id, item.url, new SitemirrorError('REDIRECT_LOOP', `redirect loop: ${item.url} leads back to itself through ${target.url}`));
    }
    this.redirectHops.set(target.id, { hops, from });
    await this.state.update(item.id, { state: 'redirected', redirect_to: target.id, http_status: status });
    this.reporter.redirected(item.url, target.url);
  }

  /**
   * A seed that redirects to another host (example.com to www.example.com, an old domain to its new one) takes the
   * crawl there: that host becomes one of the site's own, remembered in the state so a resume or an update keeps it.
   * Workers sharing a state each decide scope on their own, so there the crawl stays on the seed's host, with a warning.
   */
  private async followSeedOffSite(location: string): Promise<void> {
    if (this.scope.isSiteUrl(location)) return;
    let host: string;
    try {
      const target = new URL(location);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') return;
      host = target.host;
    } catch {
      return;
    }
    if (this.state.shared) {
      this.reporter.warn(`the seed redirects to ${location}, on another host, which workers sharing a state do not follow: start them with that URL`);
      return;
    }
    this.scope.adoptHost(host);
    const hosts = await this.adoptedSeedHosts();
    if (!hosts.includes(host)) await this.state.setMeta(SEED_HOSTS_META, JSON.stringify([...hosts, host]));
    this.reporter.info(`the seed redirects to ${location}: the crawl follows it onto ${host}`);
  }

  /** The hosts an earlier run of this crawl followed the seed to (see followSeedOffSite). */
  private async adoptSeedHosts(): Promise<void> {
    if (this.state.shared) return;
    for (const host of await this.adoptedSeedHosts()) this.scope.adoptHost(host);
  }

  private async adoptedSeedHosts(): Promise<string[]> {
    const stored = await this.state.getMeta(SEED_HOSTS_META);
    return stored === undefined ? [] : (JSON.parse(stored) as string[]);
  }

  private async leadsBackTo(record: UrlRecord, id: number): Promise<boolean> {
    let current: UrlRecord | undefined = record;
    for (let hops = 0; current && hops <= this.options.maxRedirects + 1; hops++) {
      if (current.id === id) return true;
      if (current.state !== 'redirected' || current.redirect_to === null) return false;
      current = await this.state.getById(current.redirect_to);
    }
    return true;
  }

  private async robotsPolicy(url: string): Promise<RobotsPolicy> {
    const policy = await this.robots.policyFor(url);
    if (policy.crawlDelayMs !== undefined) {
      this.limiter.setHostDelay(hostKey(url), Math.min(policy.crawlDelayMs, this.options.maxCrawlDelayMs));
    }
    return policy;
  }

  private async fetch(item: FrontierItem, record: UrlRecord): Promise<PageSource | undefined> {
    const referer = record.found_from ? await this.state.urlOf(record.found_from) : undefined;
    const headers = { ...(referer ? { referer } : {}), ...(this.updating ? conditionalHeaders(record) : {}) };
    try {
      const source = await withRetries(
        () =>
          this.limiter.runThroughAgent(hostKey(item.url), () => {
            this.traffic.requests++;
            const fetchAnew = () => this.fetcher.fetch(item.url, { headers, followRedirects: false, signal: this.halt.signal, spool: this.spool });
            // The seed of a new mirror may be on its way already (HeadStart).
            return this.archived(item.url, headers, this.headStart?.takeSeed(item.url, headers, fetchAnew) ?? fetchAnew());
          }),
        {
          signal: this.halt.signal,
          retries: this.options.retries,
          baseDelayMs: this.options.retryBaseDelayMs,
          maxDelayMs: 30_000,
          maxRetryAfterMs: this.options.maxRetryAfterMs,
          onRetry: (error, attempt, delayMs) => this.reporter.info(`retry ${attempt} of ${item.url} in ${delayMs} ms: ${error.message}`),
        },
      );
      this.traffic.bytesReceived += bodySize(source);
      if (this.traffic.bytesReceived >= this.options.maxTotalBytes) {
        this.stopAtLimit(`the --max-total-size limit of ${this.options.maxTotalBytes} bytes was reached`);
      }
      return source;
    } catch (error) {
      // Cut off by a stop: the URL stays queued for the next run, and nothing of it was written.
      if (this.halt.signal.aborted) return undefined;
      if (runFailureOf(error) !== undefined) throw error; // the WARC's disk: the worker stops the run
      // An update that meets 404/410 for a page the mirror held takes it out; other failures keep the old copy.
      if (this.updating && error instanceof HttpStatusError && (error.status === 404 || error.status === 410)) {
        if ((await this.state.previous(item.id))?.state === 'done') {
          await this.removeFromMirror(item.id, error.status);
          return undefined;
        }
      }
      // --keep-error-pages: a 4xx/5xx body joins the mirror like any page; visit() still counts the URL as failed.
      const errorPage = this.options.keepErrorPages && error instanceof HttpResponseError && error.status >= 400 ? error.asPageSource(item.url) : undefined;
      if (errorPage) return errorPage;
      await this.fail(item.id, item.url, error);
      return undefined;
    }
  }

  /** 304 Not Modified: the file stays as it is, modification time included. */
  private async keepUnchanged(id: number): Promise<void> {
    this.traffic.notModified++;
    await this.state.update(id, { state: 'done', fetched_at: new Date().toISOString() });
  }

  private async removeFromMirror(id: number, status: number): Promise<void> {
    const record = (await this.state.getById(id))!;
    if (this.updating?.keepRemoved) {
      await this.state.update(id, { state: 'removed', http_status: status });
      return;
    }
    if (record.own_path) await this.store.remove(record.own_path);
    await this.state.update(id, { state: 'removed', http_status: status, own_path: null, local_path: null, file_sha256: null });
  }

  /** Extracts, enqueues, rewrites and stores one fetched body under its URL's record. */
  private async process(record: UrlRecord, source: PageSource): Promise<void> {
    // The state answers without I/O, so the whole of process() would otherwise run as one chain of microtasks and
    // hold back the responses and requests of the other workers: it runs in chunks, each in a turn of its own.
    await this.turns.next();
    const mediaType = effectiveMediaType(source.contentType, source.body, source.finalUrl);
    const size = bodySize(source);
    const bodyHash = source.spooled?.sha256 ?? sha256(source.body);
    const isPage = isHtmlType(mediaType);
    const before = this.updating ? await this.state.previous(record.id) : undefined;
    const fetched = {
      state: 'done' as const,
      http_status: source.status,
      content_type: mediaType,
      charset: source.charset ?? null,
      etag: source.headers.etag ?? null,
      last_modified: source.headers['last-modified'] ?? null,
      sha256: bodyHash,
      bytes: size,
      fetched_at: new Date().toISOString(),
    };
    if (before?.state === 'done' && before.sha256 === bodyHash && record.content_type === mediaType) {
      // The same bytes as last time (an origin without validators): nothing to rewrite.
      await this.state.update(record.id, fetched);
      return;
    }
    const claim = await this.links.claimPath(record, mediaType, bodyHash);
    if (claim.sharedWith) {
      // An alias with the same bytes (/ and /index.html): one file serves both.
      await this.state.update(record.id, { ...fetched, local_path: claim.path, own_path: null, file_sha256: claim.sharedWith.file_sha256 });
      return;
    }
    const path = claim.path;
    // The claim recorded sha256 and own_path with the path, so an alias with the same bytes shares this file.
    // A real 0-byte answer is kept as 0 bytes (L-05): no links to rewrite, and no canonical added to nothing.
    // A spooled body is over --max-parse-size or of a type never parsed: it goes to its file as it came.
    const document = size === 0 || this.tooLargeToParse(record.url, mediaType, size) || source.spooled ? null : await openDocument(
      { url: source.finalUrl, mediaType, charset: source.charset, body: source.body, robotsHeader: source.headers['x-robots-tag'] },
      { canonical: this.options.canonical, dropScripts: source.via === 'browser' && !this.options.keepScripts },
    );
    let bytes = source.body;
    if (document) {
      await this.turns.next();
      // Links of a kept error page are not followed (a soft-404 can link on forever); its requisites are fetched.
      const followPages = !document.nofollow && source.status < 400;
      const offered = followPages ? document.references : document.references.filter((reference) => reference.kind !== 'page');
      await this.frontier.offerAll(offered, { id: record.id, depth: record.depth });
      await this.turns.next();
      bytes = await this.links.render(record.id, path, document.references, document.render.bind(document));
      await this.turns.next();
      await this.store.keepRaw(source.body, bodyHash);
    }
    let fileHash: string;
    if (source.spooled) {
      await this.store.adopt(path, source.spooled.path);
      fileHash = bodyHash;
    } else {
      fileHash = await this.store.write(path, bytes, bytes === source.body ? bodyHash : undefined);
    }
    await this.state.update(record.id, { ...fetched, file_sha256: fileHash, local_path: path, own_path: path, title: document?.title ?? null });
    this.reporter.saved(source.finalUrl, path, source.spooled ? size : bytes.length, isPage, source.status);
  }

  /** A page or stylesheet over --max-parse-size is kept as the origin sent it: parsing it would take gigabytes. */
  private tooLargeToParse(url: string, mediaType: string, bytes: number): boolean {
    if (bytes <= this.options.maxParseBytes || !(isHtmlType(mediaType) || mediaType === 'text/css')) return false;
    const size = `${(bytes / 1024 ** 2).toFixed(1)} MB`;
    this.reporter.warn(`${url} is ${size}, more than --max-parse-size (${this.options.maxParseBytes} bytes): saved as the server sent it, its links neither followed nor rewritten`);
    return true;
  }

  private async addSitemapUrls(): Promise<void> {
    const policy = await this.robots.policyFor(this.options.seed);
    const origin = new URL(this.options.seed).origin;
    const sitemaps = policy.sitemaps.length > 0 ? policy.sitemaps : [`${origin}/sitemap.xml`];
    const { collectSitemapUrls } = await import('./sitemaps.js');
    const urls = await collectSitemapUrls(sitemaps, {
      get: (url) => this.archived(url, {}, this.fetcher.fetch(url)),
      mayFetch: (url) => this.scope.isSiteUrl(url) && policy.isAllowed(url),
      maxNesting: SITEMAP_NESTING_LIMIT,
      maxUrls: SITEMAP_URL_LIMIT,
      warn: (message) => this.reporter.warn(message),
    });
    // Sitemaps give seeds, not permission: each URL passes the same scope checks as a link.
    for (const url of urls) await this.frontier.offer(url, 'page', 'html', null);
  }

  /** A kept error page: its record is 'done' (links settle to its file) and carries the error; the run still fails. */
  private async recordErrorPage(id: number, url: string, status: number): Promise<void> {
    const error = new HttpStatusError(status, url);
    const savedAs = (await this.state.getById(id))?.local_path ?? undefined;
    await this.state.update(id, { error_code: error.code, error_message: error.message });
    const failure: FailedUrl = { url, code: error.code, message: error.message, ...(savedAs === undefined ? {} : { savedAs }) };
    this.failed.push(failure);
    this.reporter.failed(failure);
  }

  private async skip(id: number, url: string, reason: SkipReason): Promise<void> {
    await this.state.update(id, { state: 'skipped', skip_reason: reason });
    this.reporter.skipped(url, reason);
  }

  private async fail(id: number, url: string, error: unknown): Promise<void> {
    const code = errorCodeOf(error);
    const message = messageOf(error);
    await this.state.update(id, {
      state: 'failed',
      error_code: code,
      error_message: message,
      http_status: error instanceof HttpStatusError ? error.status : null,
    });
    const failure = { url, code, message };
    this.failed.push(failure);
    this.reporter.failed(failure);
    // An error is not a removal (SCENARIOS T-04): an update keeps the copy the mirror already had.
    if (this.updating && (await this.state.previous(id))?.state === 'done') await this.state.update(id, { state: 'done' });
  }

  private async summarize(rewritten: number): Promise<CrawlSummary> {
    const { files, bytes, pages, redirects, skipped } = await this.state.tally();
    for (const [reason, n] of this.frontier.uncountedSkips) skipped[reason] = (skipped[reason] ?? 0) + n;
    return {
      outputDir: this.options.outputDir,
      pages,
      files,
      bytes,
      redirects,
      failed: this.failed,
      skipped,
      rewrittenForSettlement: rewritten,
      durationMs: Date.now() - this.startedAt,
      ...(this.stoppedBecause ? { stoppedBecause: this.stoppedBecause } : {}),
      ...(this.frontier.trapSamples.length > 0 ? { traps: this.frontier.trapSamples } : {}),
    };
  }

  /** --warc: each response, 3xx and 4xx/5xx included, is archived as it arrives (every retried attempt too), as received. */
  private async archived(url: string, headers: Record<string, string>, response: Promise<PageSource>): Promise<PageSource> {
    if (!this.warc) return response;
    let source: PageSource;
    try {
      source = await response;
    } catch (error) {
      if (error instanceof HttpResponseError) {
        const requestHeaders = this.fetcher.requestHeadersFor(error.finalUrl, headers);
        await this.warc.writeExchange({ url: error.finalUrl, requestHeaders, status: error.status, responseHeaders: error.headers, body: error.wireBody });
      }
      throw error;
    }
    const requestHeaders = this.fetcher.requestHeadersFor(source.finalUrl, headers);
    // A spooled body is archived from its file, as decoded as it was written there.
    const body = source.spooled ? { bodyFile: source.spooled.path, body: undefined, decoded: true } : { body: source.wireBody };
    await this.warc.writeExchange({ url: source.finalUrl, requestHeaders, status: source.status, responseHeaders: source.headers, ...body });
    return source;
  }

  /** --warc: what the browser fetched while rendering, as the network gave it (decoded: the browser hands bodies so). */
  private readonly archiveRendered = async (exchange: ArchivedExchange): Promise<void> => {
    if (!this.warc) return;
    try {
      await this.warc.writeExchange({ ...exchange, decoded: true });
    } catch (error) {
      const runFailure = runFailureOf(error) ?? messageOf(error);
      if (!this.stoppedBecause) this.reporter.warn(runFailure);
      this.stop(runFailure);
    }
  };

  /** --wacz: the run's WARCs with those of earlier runs, packaged with an index and the mirrored pages. */
  private async packageWacz(): Promise<void> {
    const pages: WaczPage[] = await this.state.mirroredPages();
    const path = join(this.store.root, STATE_DIR, WACZ_FILE);
    const { writeWacz } = await import('./wacz.js');
    const written = await writeWacz({ warcDir: join(this.store.root, STATE_DIR, WARC_DIR), path, pages, seed: this.options.seed, software: `sitemirror/${VERSION}` });
    this.reporter.info(`WACZ: ${path} (${written.warcs} WARC ${written.warcs === 1 ? 'file' : 'files'}, ${written.indexLines} index lines, ${written.pages} pages)`);
  }

  async close(): Promise<void> {
    this.headStart?.abandon();
    await this.warc?.close();
    await this.rendering?.close();
    await this.fetcher.close();
    await this.update?.abandon();
    await this.state.close();
  }
}

/** A crawl that signs in: a cookie, an Authorization header or --user (which becomes one). */
function carriesCredentials(options: CrawlOptions): boolean {
  return options.cookie !== undefined || Object.keys(options.headers).some(isCredentialHeader);
}

/**
 * Past this size a body that is never parsed (an image, a video, an archive) is read to a file instead of into
 * memory: what the store writes asynchronously anyway (SYNC_WRITE_BYTES), so memory stays at a few MB a connection.
 */
const SPOOL_ABOVE_BYTES = 1024 ** 2;

/** A Content-Type whose body may turn out to be a page or a stylesheet (effectiveMediaType sniffs the unlabelled). */
function mayBeDocument(contentType: string): boolean {
  return isHtmlType(contentType) || contentType === 'text/css' || contentType === '' || contentType === 'application/octet-stream';
}

/** Why the whole run cannot go on (the mirror's disk is full or unwritable, files or state database), or undefined. */
function runFailureOf(error: unknown): string | undefined {
  if (error instanceof SitemirrorError && (error.code === 'WRITE' || error.code === 'STATE')) return error.message;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^SQLITE_(FULL|IOERR|READONLY|CANTOPEN)/.test(code)) return undefined;
  return `cannot write the crawl state (${STATE_DIR}/state.db): ${code === 'SQLITE_FULL' ? 'the disk is full' : messageOf(error)}`;
}

/** Every fetch and render in flight listens to the halt signal: one or more per worker, often past Node's warning at 10. */
function haltController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(Infinity, controller.signal);
  return controller;
}

function robotsUnavailable(url: string): SitemirrorError {
  const host = new URL(url).host;
  return new SitemirrorError('ROBOTS_UNAVAILABLE', `not fetched: robots.txt of ${host} could not be read, so the whole host is treated as disallowed (RFC 9309 §2.3.1.4)`);
}
